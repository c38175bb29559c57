"""The OpenAI-compatible backend against hostile endpoints (issue 15, faults 4 and 8)."""
import json

import pytest
from typer.testing import CliRunner

from mastune.cli.main import app
from mastune.errors import MastuneError
from mastune.llm.pool import Pool

from .conftest import completion

KEY = "zq81-Private-Value-7731"  # no well-known key shape: only exact-value masking removes it


def lm_for(url, **over):
    cfg = {"name": "remote", "backend": "openai", "base_url": url, "model_id": "m", "max_retries": 2, **over}
    lm = Pool.from_dict({"models": [cfg]})["remote"]
    lm.backoff_s = 0.0
    return lm


async def chat(lm):
    return await lm.chat([{"role": "user", "content": "hi"}], max_tokens=4, use_cache=False)


async def test_truncated_json_is_retried(endpoint):
    endpoint.reply(200, json.dumps(completion("hello"))[:40]).reply(200, completion("hello"))
    out = await chat(lm_for(endpoint.url))
    assert out.text == "hello" and len(endpoint.requests) == 2


@pytest.mark.parametrize("status,body,ctype,message", [
    (200, '{"id": "x", "choi', "application/json", "not valid JSON"),
    (200, "<html><body>502 Bad Gateway</body></html>", "text/html", "not valid JSON"),
    (200, {"id": "x", "choices": [], "usage": None}, "application/json", "no choices"),
    (200, {"id": "x", "choices": [{"index": 0}]}, "application/json", "no message"),
])
async def test_malformed_replies_are_clear_errors(endpoint, status, body, ctype, message):
    endpoint.reply(status, body, ctype)
    with pytest.raises(MastuneError, match=message):
        await chat(lm_for(endpoint.url))


def test_mastune_run_reports_a_malformed_reply_without_a_traceback(endpoint, tmp_path):
    endpoint.reply(200, "<html>gateway</html>", "text/html")
    pool = tmp_path / "pool.yaml"
    pool.write_text(f"models:\n  - {{name: r, backend: openai, base_url: '{endpoint.url}', model_id: m, "
                    "max_retries: 0}\n")
    r = CliRunner().invoke(app, ["run", "hi", "--pool", str(pool), "--no-cache"])
    assert r.exit_code == 1 and "error:" in r.output and "not valid JSON" in " ".join(r.output.split())
    assert isinstance(r.exception, SystemExit)


async def test_an_echoed_key_never_reaches_the_error(endpoint, monkeypatch):
    monkeypatch.setenv("MY_KEY", KEY)
    endpoint.reply(400, lambda req: json.dumps(
        {"error": {"message": f"bad request from {req['headers'].get('authorization')}"}}).encode())
    with pytest.raises(MastuneError) as info:
        await chat(lm_for(endpoint.url, api_key_env="MY_KEY"))
    assert KEY not in str(info.value) and "bad request" in str(info.value)


async def test_credentials_in_base_url_never_reach_errors(endpoint):
    url = endpoint.url.replace("http://", f"http://user:{KEY}@")
    endpoint.reply(500, {"error": {"message": "down"}})
    with pytest.raises(MastuneError) as info:
        await chat(lm_for(url))
    assert KEY not in str(info.value) and "127.0.0.1" in str(info.value)


@pytest.mark.parametrize("pasted", ["sk-proj-Abc123Def456Ghi789", "abcdef0123456789abcdef0123456789"])
def test_a_key_pasted_into_api_key_env_is_never_printed(tmp_path, pasted):
    pool = tmp_path / "pool.yaml"
    pool.write_text(f"models:\n  - {{name: r, backend: openai, base_url: 'http://127.0.0.1:9/v1', model_id: m, "
                    f"api_key_env: '{pasted}'}}\n")
    r = CliRunner().invoke(app, ["run", "hi", "--pool", str(pool), "--no-cache"])
    assert r.exit_code == 1 and "api_key_env" in r.output
    assert pasted not in r.output


# ---------------------------------------------------------------- what runs write (meta.json, results.jsonl)


class _AskTheEndpoint:
    def __init__(self, lm):
        self.lm = lm

    async def run(self, question, family):
        await chat(self.lm)
        raise AssertionError("the endpoint was scripted to fail")


async def test_run_files_hold_no_credentials(endpoint, tmp_path, monkeypatch):
    from mastune.eval import EvalConfig, evaluate
    from mastune.tasks.base import Example

    monkeypatch.setenv("MY_KEY", KEY)
    endpoint.reply(400, lambda req: json.dumps(
        {"error": {"message": f"bad key {req['headers'].get('authorization')}"}}).encode())
    url = endpoint.url.replace("http://", f"http://user:{KEY}@")
    pool = Pool.from_dict({"models": [
        {"name": "remote", "backend": "openai", "base_url": url, "model_id": "m", "api_key_env": "MY_KEY"},
        {"name": "other", "backend": "openai", "base_url": f"https://u:{KEY}@example.invalid/v1?api_key={KEY}",
         "model_id": "m"},
    ]})
    cfg = EvalConfig(system="x", task="t", out=str(tmp_path / "run"))
    s = await evaluate(cfg, _AskTheEndpoint(pool["remote"]), [Example("t/0", "q", "1", "math")], pool=pool)
    assert s.errors == 1
    meta = (tmp_path / "run" / "meta.json").read_text()
    results = (tmp_path / "run" / "results.jsonl").read_text()
    assert KEY not in meta and KEY not in results
    assert "127.0.0.1" in meta and "example.invalid" in meta and "bad key" in results
