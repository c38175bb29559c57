import pytest
import torch

from mastune.errors import ConfigError
from mastune.optim.neuromas import NeuroMASConfig, build_policy, single_llm_config
from mastune.optim.neuromas.lora import LoraSpec, lora_param_count, matched_rank
from mastune.optim.neuromas.policy import AdapterPolicy, prompt_ids
from mastune.optim.neuromas.sampler import Sampled, TransformersSampler

MSGS = [{"role": "system", "content": "You are node 1 of layer 1."}, {"role": "user", "content": "Solve the task."}]


def perturb(policy, node, scale=0.5, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in policy.parameters(node):
            p.add_(scale * torch.randn(p.shape, generator=g))


def manual_logprob(policy, node, messages, completion_ids, temperature=1.0):
    ids = prompt_ids(policy.tokenizer, messages) + completion_ids
    policy.model.set_adapter(node)
    with torch.no_grad():
        logits = policy.model(input_ids=torch.tensor([ids])).logits[0]
    logp = torch.log_softmax(logits / temperature, -1)
    n = len(completion_ids)
    return sum(logp[len(ids) - n - 1 + k, completion_ids[k]].item() for k in range(n))


def test_every_adapter_starts_as_the_base_model(tiny_model):
    pol = AdapterPolicy(tiny_model, ["h1_0", "out"])
    for n in pol.nodes:
        st = pol.adapter_state(n)
        assert any("lora_B" in k for k in st)
        assert all(torch.count_nonzero(v) == 0 for k, v in st.items() if "lora_B" in k)
        assert any(torch.count_nonzero(v) > 0 for k, v in st.items() if "lora_A" in k)
    # A is drawn per (seed, node): the same node gets the same init in another network
    other = AdapterPolicy(tiny_model, ["out", "h1_0", "h1_1"])
    for k, v in pol.adapter_state("out").items():
        assert torch.equal(v, other.adapter_state("out")[k])


def test_logprob_matches_a_manual_computation_and_batching(tiny_model):
    pol = AdapterPolicy(tiny_model, ["xa", "xb"])
    perturb(pol, "xa")
    s = Sampled("The answer is", finished=True)
    comp = pol.tokenizer("The answer is", add_special_tokens=False)["input_ids"] + [pol.end_id]
    assert pol.completion_ids(s) == comp
    want = manual_logprob(pol, "xa", MSGS, comp)
    (got,), counts = pol.sequence_logprobs("xa", [(MSGS, s)])
    assert counts == [len(comp)]
    assert got.item() == pytest.approx(want, abs=1e-4)
    # batched with a longer and a shorter neighbour (left padding) gives the same numbers
    other = [{"role": "user", "content": "A much longer prompt than the other one, with many more tokens."}]
    items = [(other, Sampled("4", finished=False)), (MSGS, s), ([{"role": "user", "content": "x"}], s)]
    batched, _ = pol.sequence_logprobs("xa", items, batch_size=3)
    single = torch.cat([pol.sequence_logprobs("xa", [it])[0] for it in items])
    assert torch.allclose(batched, single, atol=1e-4)
    assert batched[1].item() == pytest.approx(want, abs=1e-4)
    # scored under the sampling temperature: softmax(logits / T)
    (hot,), _ = pol.sequence_logprobs("xa", [(MSGS, s)], temperature=0.5)
    assert hot.item() == pytest.approx(manual_logprob(pol, "xa", MSGS, comp, 0.5), abs=1e-4)
    assert abs(hot.item() - want) > 1e-3
    # the adapter is really the node's: xb (still B = 0) scores differently from the perturbed xa
    (under_b,), _ = pol.sequence_logprobs("xb", [(MSGS, s)])
    assert abs(under_b.item() - want) > 1e-3


def test_logprob_gradient_reaches_only_the_selected_adapter(tiny_model):
    pol = AdapterPolicy(tiny_model, ["xa", "xb"])
    lp, _ = pol.sequence_logprobs("xa", [(MSGS, Sampled("The answer", True))])
    lp.sum().backward()
    assert all(p.grad is not None for p in pol.parameters("xa") if p.requires_grad)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in pol.parameters("xa"))
    assert all(p.grad is None for p in pol.parameters("xb"))


async def test_transformers_sampler_ids_are_what_is_scored(tiny_model):
    pol = AdapterPolicy(tiny_model, ["xa"])
    perturb(pol, "xa")
    sampler = TransformersSampler(pol)
    s1 = await sampler.sample("xa", MSGS, 1.0, 6, seed=3)
    s2 = await sampler.sample("xa", MSGS, 1.0, 6, seed=3)
    assert s1 == s2 and s1.token_ids == s2.token_ids  # seeded
    assert s1.completion_tokens == len(s1.token_ids) <= 6
    assert s1.prompt_tokens == len(prompt_ids(pol.tokenizer, MSGS))
    (lp,), _ = pol.sequence_logprobs("xa", [(MSGS, s1)])
    assert lp.item() == pytest.approx(manual_logprob(pol, "xa", MSGS, list(s1.token_ids)), abs=1e-4)
    g1 = await sampler.sample("xa", MSGS, 0.0, 6)
    assert g1 == await sampler.sample("xa", MSGS, 0.0, 6)  # greedy


def test_adapter_state_round_trip_and_shape_errors(tiny_model):
    pol = AdapterPolicy(tiny_model, ["xa", "xb"])
    perturb(pol, "xa")
    pol.load_adapter_state("xb", pol.adapter_state("xa"))
    for k, v in pol.adapter_state("xa").items():
        assert torch.equal(v, pol.adapter_state("xb")[k])
    wide = AdapterPolicy(tiny_model, ["xa"], LoraSpec(rank=4))
    with pytest.raises(ConfigError, match="rank"):
        wide.load_adapter_state("xa", pol.adapter_state("xa"))
    with pytest.raises(ConfigError, match="no adapter"):
        pol.parameters("zzz")


def test_param_count_and_matched_rank_of_the_single_llm_baseline(tiny_model):
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    layers = [2, 2]  # NeuroMAS-5
    net = AdapterPolicy(tiny_model, ["h1_0", "h1_1", "h2_0", "h2_1", "out"], LoraSpec(rank=8))
    net_params = sum(net.trainable_count(n) for n in net.nodes)
    assert lora_param_count(base, 8) == net.trainable_count("out")
    r = matched_rank(base, layers, 8)
    assert r == 40
    single = AdapterPolicy(tiny_model, ["out"], LoraSpec(rank=r))
    assert single.trainable_count("out") == net_params
    cfg = single_llm_config(NeuroMASConfig(backbone=tiny_model, layers=layers, rank=8))
    assert cfg.layers == () and cfg.rank == r and cfg.lora.lora_alpha / cfg.rank == 2.0
    assert build_policy(cfg).trainable_count("out") == net_params
    # other target modules are counted too
    assert lora_param_count(base, 2, ("q_proj", "gate_proj")) == AdapterPolicy(
        tiny_model, ["x"], LoraSpec(2, ("q_proj", "gate_proj"))).trainable_count("x")
    with pytest.raises(ConfigError, match="no linear layer"):
        lora_param_count(base, 8, ("nope",))
