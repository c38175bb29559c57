"""The LM-backed sampler (pool entry per node, or one shared model) and the forward pass through it."""
import pytest

from mastune.errors import ConfigError
from mastune.graph.layernet import layered_network
from mastune.llm.fake import FakeLM
from mastune.optim.neuromas import forward
from mastune.optim.neuromas.episode import task_reward
from mastune.optim.neuromas.sampler import LMSampler, Sampler

from .fakes import tf_example


async def test_one_model_per_node_and_layer_by_layer_forward():
    models = {n: FakeLM(n, fn=lambda m, r, n=n: f"{n} says hi" if n != "out" else "The answer is A")
              for n in ("h1_0", "h1_1", "h2_0", "out")}
    sampler = LMSampler(models)
    assert isinstance(sampler, Sampler)
    ex = tf_example(2)
    ep = await forward(layered_network([2, 1]), sampler, ex, temperature=0.7, max_tokens=33, seed=5)
    assert [c.node for c in ep.calls] == ["h1_0", "h1_1", "h2_0", "out"]
    assert ep.answer == "The answer is A" and await task_reward(ex, ep.answer) == 1.0
    h2 = models["h2_0"].requests[0]
    assert "[node 1] h1_0 says hi" in h2["messages"][-1]["content"]
    assert "[node 2] h1_1 says hi" in h2["messages"][-1]["content"]
    assert "h1_0 says hi" not in models["out"].requests[0]["messages"][-1]["content"]  # only the layer before
    assert h2["temperature"] == 0.7 and h2["max_tokens"] == 33
    seeds = {n: m.requests[0]["seed"] for n, m in models.items()}
    assert len(set(seeds.values())) == 4  # every node call has its own seed
    again = await forward(layered_network([2, 1]), sampler, ex, temperature=0.7, max_tokens=33, seed=5)
    assert {n: m.requests[1]["seed"] for n, m in models.items()} == seeds  # and the same on a rerun


async def test_shared_model_and_missing_node():
    lm = FakeLM("base", fn=lambda m, r: "x")
    ep = await forward(layered_network([1, 1]), LMSampler(shared=lm), tf_example(0), temperature=0.0, max_tokens=4)
    assert len(lm.requests) == 3 and ep.calls[-1].sample.finished
    with pytest.raises(ConfigError, match="one entry per node"):
        await forward(layered_network([1]), LMSampler({"out": lm}), tf_example(0), temperature=0.0, max_tokens=4)
    with pytest.raises(ValueError):
        LMSampler()
