"""collab end to end on the real embedded engine with the smallest model.

Six short calls (CEO, recruiter, solver, critic, maybe a revision, evaluator):
a few seconds on an idle 2-core machine.
"""
import pytest

from mastune.systems.collab import build_collab_system

pytestmark = pytest.mark.engine


async def test_collab_with_ceo_runs_on_smollm(engine_pool, call_cache):
    system = build_collab_system(engine_pool, ceo=True, model="smollm2-135m", max_turn=1, max_inner_turns=1,
                                 max_tokens=32, aux_max_tokens=32, budget_ladder=[16, 32])
    result = await system.run("Tom has 3 apples and buys 4 more. How many apples does he have?", "gsm8k")
    trace = result.trace
    assert len(trace.rounds) == 1 and trace.rounds[0].solution == result.answer_text
    assert len(trace.decisions) == 1 and trace.rounds[0].max_tokens in (16, 32)
    assert result.calls == len(trace.calls) >= 5 and result.usage.completion_tokens > 0
    assert {c.model for c in trace.calls} == {"smollm2-135m"}
    assert all(c.max_tokens <= 32 for c in trace.calls)
    assert trace.stop_reason in ("max_turn", "evaluator_correct")
