"""Every built-in system end to end on the real embedded engine (smallest model).

Small on purpose (short max_tokens, few samples/agents): these check that the
runtime drives a real backend and accounts for it, not answer quality.
"""
import pytest

from mastune.systems import builtin_systems, load_system

pytestmark = pytest.mark.engine

MODEL = "smollm2-135m"
SMALL = {  # keep each system to a handful of calls
    "self-consistency": {"samples": 3},
    "debate": {"agents": 2, "rounds": 2},
    "moa": {"layers": [[None, None]]},
    "hieramas-fixed": {"proposers": 2},
}
QUESTIONS = {
    "math": "Tom has 3 apples and buys 4 more. How many apples does he have?",
    "mcq": "Which planet is closest to the Sun?\nA. Venus\nB. Mercury\nC. Earth\nD. Mars",
}


@pytest.fixture(scope="module")
def pool(engine_pool):
    return {MODEL: engine_pool[MODEL]}


@pytest.mark.parametrize("name", builtin_systems())
async def test_system_on_engine(name, pool):
    family = "mcq" if name in ("debate", "star") else "math"
    system = load_system(name, pool, model=MODEL, max_tokens=48, **SMALL.get(name, {}))
    result = await system.run(QUESTIONS[family], family)
    trace = result.trace
    assert result.answer_text.strip()
    assert result.calls > 0 and result.calls == len(trace.calls)
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0
    assert result.usage.total_tokens == sum(c.usage.total_tokens for c in trace.calls)
    assert result.usage.total_tokens == sum(n.usage.total_tokens for n in trace.nodes.values())
    assert all(c.usage.completion_tokens <= 48 for c in trace.calls)
