"""Growth: old adapters bit-identical, new ones at B = 0, and what the grown network answers."""
import pytest
import torch

from mastune.agents.layered import prompt_fingerprint
from mastune.errors import ConfigError
from mastune.graph.layernet import layered_network, node_ids
from mastune.optim.neuromas import (AdapterPolicy, LoraSpec, NetworkMeta, TransformersSampler, backbone_sha256,
                                    forward, grow, growth_mapping, load_network, new_nodes, save_network)
from mastune.optim.neuromas.sampler import Sampled

from .fakes import tf_example

LORA = LoraSpec(rank=4)


def trained_small(tiny_model, layers):
    """A small network whose adapters are not at their init (as after training)."""
    pol = AdapterPolicy(tiny_model, node_ids(layers), LORA)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for n in pol.nodes:
            for p in pol.parameters(n):
                p.add_(0.3 * torch.randn(p.shape, generator=g))
    return pol


class Silent:
    """Delegates to `inner` except for `nodes`, which write nothing."""

    def __init__(self, inner, nodes):
        self.inner, self.nodes = inner, set(nodes)

    async def sample(self, node, messages, temperature, max_tokens, seed=None):
        if node in self.nodes:
            return Sampled("", True)
        return await self.inner.sample(node, messages, temperature, max_tokens, seed)

    async def sync(self, policy):
        pass


def test_mapping_is_same_position_and_output_to_output():
    assert growth_mapping([1, 1], [2, 2]) == {"h1_0": "h1_0", "h2_0": "h2_0", "out": "out"}
    assert growth_mapping([2, 2], [2, 2, 2]) == {"h1_0": "h1_0", "h1_1": "h1_1", "h2_0": "h2_0", "h2_1": "h2_1",
                                                 "out": "out"}
    assert growth_mapping([], [1]) == {"out": "out"}
    for small, big in (([2, 2], [1, 2]), ([1, 1, 1], [2, 2])):
        with pytest.raises(ConfigError, match="cannot grow"):
            growth_mapping(small, big)


def test_growth_keeps_old_adapters_bit_identical_and_new_ones_at_b_zero(tiny_model, tmp_path):
    small = trained_small(tiny_model, [1, 1])
    fp, bb = prompt_fingerprint("fmt"), backbone_sha256(tiny_model)
    save_network(tmp_path / "small.pt", small, NetworkMeta.of(small, [1, 1], fp, bb))
    adapters, meta, _ = load_network(tmp_path / "small.pt", backbone_sha256=bb, prompt_fingerprint=fp, rank=4)
    big = AdapterPolicy(tiny_model, node_ids([2, 2]), LORA)
    mapping = grow(big, adapters, meta.layers, [2, 2])
    assert new_nodes(big, mapping) == ["h1_1", "h2_1"]
    for s, d in mapping.items():
        for k, v in small.adapter_state(s).items():
            assert torch.equal(big.adapter_state(d)[k], v), (s, d, k)
    for n in ("h1_1", "h2_1"):
        st = big.adapter_state(n)
        assert all(torch.count_nonzero(v) == 0 for k, v in st.items() if "lora_B" in k)
        assert any("lora_B" in k for k in st)
    with pytest.raises(ConfigError, match="not those of layers"):
        grow(AdapterPolicy(tiny_model, node_ids([2, 1]), LORA), adapters, [1, 1], [2, 2])


async def test_width_growth_answers_as_before_when_new_nodes_are_silent(tiny_model):
    ex = tf_example(3)
    small = trained_small(tiny_model, [1, 1])
    big = AdapterPolicy(tiny_model, node_ids([2, 2]), LORA)
    grow(big, {n: small.adapter_state(n) for n in small.nodes}, [1, 1], [2, 2])
    before = await forward(layered_network([1, 1]), TransformersSampler(small), ex, temperature=0.0, max_tokens=8)
    after = await forward(layered_network([2, 2]), Silent(TransformersSampler(big), ["h1_1", "h2_1"]), ex,
                          temperature=0.0, max_tokens=8)
    for n in ("h1_0", "h2_0", "out"):
        assert after.call(n).messages == before.call(n).messages
        assert after.call(n).sample.text == before.call(n).sample.text
    assert after.answer == before.answer and before.answer.strip()
    # New nodes that speak (B = 0: the base model does) change what the next layer reads:
    # only the first layer is then guaranteed to answer as before.
    speaking = await forward(layered_network([2, 2]), TransformersSampler(big), ex, temperature=0.0, max_tokens=8)
    assert speaking.call("h1_0").sample.text == before.call("h1_0").sample.text
    if speaking.call("h1_1").sample.text.strip():
        assert speaking.call("h2_0").messages != before.call("h2_0").messages


async def test_depth_growth_changes_the_output_prompt(tiny_model):
    ex = tf_example(1)
    small = trained_small(tiny_model, [2, 2])
    big = AdapterPolicy(tiny_model, node_ids([2, 2, 2]), LORA)
    mapping = grow(big, {n: small.adapter_state(n) for n in small.nodes}, [2, 2], [2, 2, 2])
    assert new_nodes(big, mapping) == ["h3_0", "h3_1"]
    before = await forward(layered_network([2, 2]), TransformersSampler(small), ex, temperature=0.0, max_tokens=4)
    after = await forward(layered_network([2, 2, 2]), Silent(TransformersSampler(big), ["h3_0", "h3_1"]), ex,
                          temperature=0.0, max_tokens=4)
    for n in ("h1_0", "h1_1", "h2_0", "h2_1"):
        assert after.call(n).sample.text == before.call(n).sample.text
    assert "layer 4" in after.call("out").messages[0]["content"]  # the output node moved a layer down
    assert after.call("out").messages != before.call("out").messages
