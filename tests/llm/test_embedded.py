"""The real embedded engine with the smallest local model."""
import asyncio

import pytest

from mastune.errors import ContextOverflow
from mastune.llm import track_usage
from mastune.llm.embedded import EmbeddedLM, EngineSpec, get_engine

pytestmark = pytest.mark.engine
MSG = [{"role": "user", "content": "What is 2+2? Answer with one number."}]


@pytest.fixture(scope="module")
def lm(smollm_path):
    return EmbeddedLM("smollm2-135m", smollm_path, n_parallel=4, ctx_per_slot=1024)


async def test_chat_returns_text_and_engine_token_counts(lm, smollm_path):
    out = await lm.chat(MSG, max_tokens=16)
    assert out.text.strip()
    # Usage must be the engine's own counts: ask the raw engine the same request.
    raw = get_engine(EngineSpec(smollm_path, 4, 1024)).complete(
        {"messages": MSG, "max_tokens": 16, "temperature": 0.0}
    )
    assert out.usage.prompt_tokens == raw["usage"]["prompt_tokens"]
    assert out.usage.completion_tokens == raw["usage"]["completion_tokens"]
    assert out.text == raw["choices"][0]["message"]["content"]  # greedy is deterministic
    assert out.usage.latency_s > 0 and out.usage.calls == 1


async def test_concurrent_calls_are_all_accounted(lm):
    qs = [[{"role": "user", "content": f"Name a colour. ({i})"}] for i in range(6)]
    with track_usage() as t:
        outs = await asyncio.gather(*[lm.chat(q, max_tokens=12) for q in qs])
    assert all(o.text for o in outs)
    assert t.total.calls == 6
    assert t.total.completion_tokens == sum(o.usage.completion_tokens for o in outs)
    assert t.total.prompt_tokens == sum(o.usage.prompt_tokens for o in outs)


async def test_context_overflow_is_typed(lm):
    with pytest.raises(ContextOverflow, match="ctx_per_slot"):
        await lm.chat([{"role": "user", "content": "word " * 3000}], max_tokens=4)


async def test_engine_loaded_once(lm, smollm_path):
    e1 = lm.engine()
    e2 = EmbeddedLM("other-name", smollm_path, n_parallel=4, ctx_per_slot=1024).engine()
    assert e1 is e2
