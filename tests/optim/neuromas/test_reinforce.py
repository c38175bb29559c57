"""REINFORCE over a layered network: baselines, and a scripted-reward test of credit assignment."""
import pytest
import torch

from .fakes import ScriptedSampler, tf_example
from mastune.agents.layered import layered_messages
from mastune.errors import ConfigError
from mastune.optim.neuromas import NeuroMASConfig, build_policy, train_network
from mastune.optim.neuromas.episode import Episode, NodeCall
from mastune.optim.neuromas.reinforce import EmaBaseline, advantages, loo_advantages, merge_identical
from mastune.optim.neuromas.sampler import Sampled


def test_leave_one_out_advantages():
    adv = loo_advantages([1, 0, 0, 1, 1, 1], [0, 0, 0, 0, 1, 1])
    assert adv[:4] == pytest.approx([1 - 1 / 3, -2 / 3, -2 / 3, 1 - 1 / 3])
    assert adv[4:] == [0.0, 0.0]  # a group that agrees teaches nothing
    assert loo_advantages([1.0], [0]) == [0.0]


def test_ema_baseline_scores_with_the_old_value_then_updates():
    ema = EmaBaseline(decay=0.5)
    eps = [Episode("q", [], reward=r) for r in (1.0, 0.0)]
    assert advantages("ema", eps, ema) == [1.0, 0.0]  # no history: baseline 0
    assert ema.value == 0.5
    assert advantages("ema", eps, ema) == [0.5, -0.5]
    assert ema.value == 0.5
    with pytest.raises(ConfigError):
        advantages("nope", eps, ema)


def test_identical_calls_are_merged_and_cancelling_ones_dropped():
    m = [{"role": "user", "content": "q"}]
    same = [NodeCall("n", 1, 0, m, Sampled("x")) for _ in range(3)]
    other = NodeCall("n", 1, 0, m, Sampled("y"))
    merged = merge_identical([(same[0], 2 / 3), (same[1], -1 / 3), (same[2], -1 / 3), (other, 0.5)])
    assert [(c.sample.text, a) for c, a in merged] == [("y", 0.5)]


def _cfg(tiny_model, layers, **kw):
    return NeuroMASConfig(backbone=tiny_model, task="toy", layers=layers, rank=4, steps=3, questions_per_step=2,
                          group_size=4, lr=1e-2, max_tokens=8, concurrency=4, **kw)


def _moved(before, policy, node):
    return max((policy.adapter_state(node)[k] - v).abs().max().item() for k, v in before[node].items())


def _margin(policy, node, messages, good, bad):
    (g, b), _ = policy.sequence_logprobs(node, [(messages, Sampled(good)), (messages, Sampled(bad))])
    return (g - b).item()


async def test_only_the_deciding_output_node_moves(tiny_model, tmp_path):
    """The output node alone decides the reward; the hidden nodes always say the same thing to the same
    prompt, so their leave-one-out advantages cancel exactly: their adapters must stay bit-identical."""
    cfg = _cfg(tiny_model, [1, 1])
    train = [tf_example(i) for i in range(4)]
    sampler = ScriptedSampler({"h1_0": ["m1"], "h2_0": ["m2"], "out": ["The answer is A", "The answer is B"]})
    fresh = build_policy(cfg)
    before = {n: fresh.adapter_state(n) for n in fresh.nodes}
    out_msgs = layered_messages(train[0].question, layer=3, index=0, output=True, previous=["m2"],
                                answer_format="End your reply with 'The answer is X' where X is the letter of "
                                              "the correct option.")
    m0 = _margin(fresh, "out", out_msgs, "The answer is A", "The answer is B")
    res = await train_network(cfg, train, [], tmp_path / "run", sampler=sampler, progress=False)
    pol = res.policy
    assert _moved(before, pol, "out") > 1e-3
    assert _moved(before, pol, "h1_0") == 0.0 and _moved(before, pol, "h2_0") == 0.0
    assert all(r["nodes"]["h1_0"]["skipped"] and r["nodes"]["h1_0"]["grad_norm"] == 0.0 for r in res.log)
    assert any(r["nodes"]["out"]["grad_norm"] > 0 for r in res.log)
    assert _margin(pol, "out", out_msgs, "The answer is A", "The answer is B") > m0 + 0.5  # learnt to say A
    # b_max tracks the adapter's distance from B = 0: zero for untouched nodes, and within Adam's
    # step bound (about lr per non-skipped update) for the one that learnt.
    assert all(r["nodes"][n]["b_max"] == 0.0 for r in res.log for n in ("h1_0", "h2_0"))
    b = [r["nodes"]["out"]["b_max"] for r in res.log]
    updates = sum(not r["nodes"]["out"]["skipped"] for r in res.log)
    assert b[-1] == pol.b_max("out") and 0 < b[-1] <= 1.01 * cfg.lr * updates


async def test_a_hidden_decider_moves_itself_and_its_downstream_not_its_sibling(tiny_model, tmp_path):
    """h1_0 decides (the later nodes pass its word on); h1_1 reads only the task and always says the
    same: it gets no update. Nodes downstream of h1_0 do move: their prompts carry its message."""
    cfg = _cfg(tiny_model, [2, 1], seed=1)
    train = [tf_example(i) for i in range(4)]
    said = lambda m: "saw yes" if "yes" in m[-1]["content"] else "saw no"  # noqa: E731
    answer = lambda m: "The answer is A" if "saw yes" in m[-1]["content"] else "The answer is B"  # noqa: E731
    sampler = ScriptedSampler({"h1_0": ["yes", "no"], "h1_1": ["hm"], "h2_0": said, "out": answer})
    fresh = build_policy(cfg)
    before = {n: fresh.adapter_state(n) for n in fresh.nodes}
    x_msgs = layered_messages(train[0].question, layer=1, index=0, output=False)
    m0 = _margin(fresh, "h1_0", x_msgs, "yes", "no")
    res = await train_network(cfg, train, [], tmp_path / "run", sampler=sampler, progress=False)
    pol = res.policy
    assert _moved(before, pol, "h1_0") > 1e-3
    assert _moved(before, pol, "h1_1") == 0.0
    assert _moved(before, pol, "h2_0") > 0 and _moved(before, pol, "out") > 0
    assert _margin(pol, "h1_0", x_msgs, "yes", "no") > m0 + 0.5
    assert {t for _, t in sampler.calls} == {cfg.temperature}  # training samples at the configured temperature


async def test_a_constant_network_learns_nothing(tiny_model, tmp_path):
    cfg = _cfg(tiny_model, [1])
    sampler = ScriptedSampler({}, default="The answer is A")
    res = await train_network(cfg, [tf_example(i) for i in range(3)], [], tmp_path / "run", sampler=sampler,
                              progress=False)
    fresh = build_policy(cfg)
    for n in fresh.nodes:
        for k, v in fresh.adapter_state(n).items():
            assert torch.equal(v, res.policy.adapter_state(n)[k])
    assert [r["reward"] for r in res.log] == [1.0, 1.0, 1.0]


def test_update_counts_prompts_the_sampler_saw_differently(tiny_model):
    from mastune.optim.neuromas import AdapterPolicy, make_optimizers, prompt_ids, update

    pol = AdapterPolicy(tiny_model, ["out"])
    m = [{"role": "user", "content": "Solve the task."}]
    n = len(prompt_ids(pol.tokenizer, m))
    eps = [Episode("q", [NodeCall("out", 1, 0, m, Sampled(t, True, pt, 2))], reward=r, group=0)
           for t, pt, r in (("The answer", n, 1.0), ("is", n + 3, 0.0))]
    stats = update(pol, make_optimizers(pol, 1e-3), eps, loo_advantages([1.0, 0.0], [0, 0]))
    assert stats["out"]["prompt_mismatch"] == 1 and stats["out"]["grad_norm"] > 0
