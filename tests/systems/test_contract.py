"""The system contract: every kind answers through BaseSystem.run's one template."""
import pytest

from mastune.errors import LLMError, MastuneError
from mastune.llm import FakeLM
from mastune.systems import BaseSystem, load_system
from mastune.systems.collab import build_collab_system
from mastune.systems.graph import GraphConfig, SamplesConfig, SingleConfig, SystemConfig


@pytest.mark.parametrize("make", [
    lambda pool: load_system("chain", pool, model="m"),
    lambda pool: build_collab_system(pool, ceo=True, model="m"),
])
async def test_a_failure_carries_the_trace_of_the_calls_made_so_far(make):
    calls = {"n": 0}

    def fn(messages, request):
        calls["n"] += 1
        if calls["n"] == 2:
            raise LLMError("engine died")
        return "Decision: Continue\n[Agree] \\boxed{4}"

    system = make({"m": FakeLM("m", fn=fn)})
    assert isinstance(system, BaseSystem)
    with pytest.raises(MastuneError, match="engine died") as info:  # the DAG executor wraps it in a NodeError
        await system.run("What is 2 + 2?", "gsm8k")
    trace = info.value.trace
    assert trace.system == system.name and trace.family == "math" and len(trace.calls) == 1


@pytest.mark.parametrize("make", [
    lambda pool: load_system("cot", pool, model="m"),
    lambda pool: build_collab_system(pool, ceo=False, model="m", max_turn=1, max_inner_turns=1),
])
async def test_every_kind_extracts_the_answer_and_tracks_usage_the_same_way(make):
    lm = FakeLM("m", fn=lambda messages, request: "Correctness: 1\n[Agree] so \\boxed{4}")
    result = await make({"m": lm}).run("What is 2 + 2?", "math")
    assert result.extracted_answer == "4" and result.trace.extracted_answer == "4"
    assert result.calls == len(lm.requests) == result.trace.usage.calls == len(result.trace.calls)
    assert result.trace.wall_s > 0


def test_the_layouts_are_a_tagged_union():
    cfg = SystemConfig.from_dict({"name": "x", "layout": "samples", "samples": 3})
    assert type(cfg) is SamplesConfig and cfg.samples == 3
    assert type(SystemConfig.from_dict({"name": "y"})) is SingleConfig  # single is the default layout
    from mastune.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown keys \\['samples'\\]"):  # a field of another layout
        SystemConfig.from_dict({"name": "z", "layout": "single", "samples": 3})
    with pytest.raises(ConfigError, match="unknown system option"):
        load_system("cot", {"m": FakeLM(responses=["x"])}, agents=2)
    with pytest.raises(ConfigError, match="build a config with SystemConfig.from_dict"):
        SystemConfig(name="bare")
    g = GraphConfig(name="g", graph={"generator": "full"}, decision_model="a")
    assert g.layout == "graph" and g.with_model("b").decision_model == "b"
