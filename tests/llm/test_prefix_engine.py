"""Prefix reuse and n-gram speculation on the real engine (smallest model)."""
import pytest

from mastune.agents.prompts import messages
from mastune.llm.embedded import EmbeddedLM

pytestmark = pytest.mark.engine

QUESTION = ("A farmer has 3 fields. The first yields 120 kg of wheat, the second twice as much as the first, "
            "and the third 50 kg less than the second. How many kilograms does the farmer harvest in total?")
PLAN = "First field 120 kg. Second field 2 x 120 = 240 kg. Third field 240 - 50 = 190 kg. " * 4


async def test_successor_call_reuses_the_predecessors_prefix(smollm_path):
    lm = EmbeddedLM("smollm2-135m", smollm_path, n_parallel=3, ctx_per_slot=2048)
    solver = messages("role", question=QUESTION, family_name="math", role="Math Solver",
                      inputs=[("Mathematical Analyst", PLAN)])
    inspector = messages("role", question=QUESTION, family_name="math", role="Inspector",
                         inputs=[("Mathematical Analyst", PLAN), ("Math Solver", "So 550 kg. \\boxed{550}")])
    await lm.chat([{"role": "user", "content": "Say hi."}], max_tokens=4, use_cache=False)  # another slot busy-ish
    first = await lm.chat(solver, max_tokens=8, use_cache=False)
    second = await lm.chat(inspector, max_tokens=8, use_cache=False)
    assert first.usage.prompt_evaluated + first.usage.prompt_cached == first.usage.prompt_tokens
    # everything up to the end of the Analyst's block came from the slot's cache
    assert second.usage.prompt_cached >= 0.6 * first.usage.prompt_tokens
    assert second.usage.prompt_evaluated == second.usage.prompt_tokens - second.usage.prompt_cached
    assert second.usage.prompt_evaluated < second.usage.prompt_tokens / 2


async def test_ngram_speculation_keeps_greedy_output_identical(smollm_path):
    quote = [{"role": "user", "content": f"Repeat this text exactly, then say done:\n{PLAN}"}]
    plain = EmbeddedLM("smollm2-135m", smollm_path, n_parallel=1, ctx_per_slot=2048)
    spec = EmbeddedLM("smollm2-135m", smollm_path, n_parallel=1, ctx_per_slot=2048, speculative="ngram")
    a = await plain.chat(quote, max_tokens=96, use_cache=False)
    b = await spec.chat(quote, max_tokens=96, use_cache=False)
    assert a.text == b.text and a.usage.completion_tokens == b.usage.completion_tokens
    assert b.extra.get("draft", {}).get("accepted", 0) > 0  # drafts were used, not a no-op
    assert 0 < b.usage.draft_accepted <= b.usage.draft_tokens  # recorded in Usage, hence in traces
    assert "draft" not in a.extra and a.usage.draft_tokens == 0


def test_unknown_speculation_kind_is_a_config_error(smollm_path):
    from mastune.errors import ConfigError

    with pytest.raises(ConfigError, match="speculative must be one of"):
        EmbeddedLM("x", smollm_path, speculative="eagle")
