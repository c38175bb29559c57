"""The OpenAI-compatible backend against llama.cpp's own HTTP server on loopback.

xllamacpp's Server is llama.cpp's server: it listens on a loopback port, so
the `openai` client talks real HTTP to a real engine here.
"""
import asyncio

import pytest

from mastune.errors import ConfigError
from mastune.llm import CallCache, track_usage
from mastune.llm.pool import Pool
from mastune import settings

pytestmark = pytest.mark.engine
KEY_ENV = "MASTUNE_TEST_LLAMA_KEY"


@pytest.fixture(scope="module")
def server(smollm_path):
    import xllamacpp

    p = xllamacpp.CommonParams()
    p.model.path = smollm_path
    p.n_parallel = 2
    p.n_ctx = 2048
    p.verbosity = -1
    p.api_keys = ["secret-test-key"]
    return xllamacpp.Server(p)


def pool_for(server):
    return Pool.from_dict(
        {
            "models": [
                {
                    "name": "remote-smol",
                    "backend": "openai",
                    "base_url": server.listening_address + "/v1",
                    "model_id": "smollm2",
                    "api_key_env": KEY_ENV,
                    "price": {"input": 1.0, "output": 1.0},
                }
            ]
        }
    )


async def test_chat_over_http(server, monkeypatch, tmp_path):
    monkeypatch.setenv(KEY_ENV, "secret-test-key")
    lm = pool_for(server)["remote-smol"]
    cache = CallCache(tmp_path / "c.sqlite")
    with settings.context(cache=cache), track_usage() as t:
        outs = await asyncio.gather(*[lm.chat([{"role": "user", "content": f"Say hi {i}"}], max_tokens=8) for i in range(3)])
    assert all(o.text for o in outs)
    assert t.total.calls == 3 and t.total.completion_tokens > 0
    assert t.total.cost == pytest.approx((t.total.prompt_tokens + t.total.completion_tokens) / 1e6)
    # The key never reaches the cache file.
    assert b"secret-test-key" not in (tmp_path / "c.sqlite").read_bytes()
    await lm.close()


async def test_wrong_key_is_a_config_error(server, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "wrong")
    lm = pool_for(server)["remote-smol"]
    with pytest.raises(ConfigError, match=KEY_ENV):
        await lm.chat([{"role": "user", "content": "hi"}], max_tokens=4)
    await lm.close()
