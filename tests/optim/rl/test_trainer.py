"""The RL loop end to end on the tiny random model (transformers sampling): figures, files, resume, refusals."""
import json

import pytest
import torch

from mastune.optim.checkpoint import CheckpointError
from mastune.optim.neuromas import load_trained
from mastune.optim.neuromas.sampler import Sampled
from mastune.optim.rl import RLConfig, build_policy, train_rl
from mastune.optim.rl.trainer import BEST_FILE, LOG_FILE, STATE_FILE, node_items, masked_reward
from mastune.optim.neuromas.episode import Episode, NodeCall
from mastune.tasks.base import Example


def ex(i):
    return Example(f"toy/{i}", f"Take {i} steps.\n\nA. True\nB. False", "A", "mcq", {"task": "toy"})


TRAIN, VALID = [ex(i) for i in range(6)], [ex(100 + i) for i in range(3)]


def parity(example, reply):
    return float(len(reply) % 2 == 0)  # varies with what the random model writes


def cfg_for(tiny_model, **kw):
    base = dict(backbone=tiny_model, task="toy", rank=4, target_modules=("q_proj", "v_proj"), steps=2,
                questions_per_step=2, group_size=3, lr=5e-3, warmup_steps=1, max_tokens=6, eval_max_tokens=4,
                eval_every=1, eval_size=3, probes=1, probe_every=1, n_parallel=3, truncated="wrong", logprob_batch=2)
    return RLConfig(**{**base, **kw})


async def test_steps_log_the_figures_write_checkpoints_and_resume(tiny_model, tmp_path):
    out = tmp_path / "run"
    res = await train_rl(cfg_for(tiny_model), TRAIN, VALID, out, reward=parity, progress=False)
    log = [json.loads(line) for line in (out / LOG_FILE).read_text().splitlines()]
    assert [r["step"] for r in log] == [0, 1]
    for r in log:
        for key in ("reward", "accuracy", "truncated", "informative_share", "informative_tokens", "sampler_entropy",
                    "learner_entropy", "kl_start", "sample_tok_s", "learn_tok_s", "episodes_per_hour", "lr", "eval"):
            assert key in r, key
        assert r["eval"]["n"] == 3 and r["n"] >= 6
        assert r["kl_start"] is not None
    assert log[0]["lr"] < log[1]["lr"] == pytest.approx(5e-3)  # warm-up
    assert (out / STATE_FILE).is_file() and (out / BEST_FILE).is_file() and (out / "curves.png").is_file()
    assert list((out / "tb").glob("events.out.tfevents.*")), "TensorBoard event files"
    saved = json.loads((out / "config.json").read_text())
    assert saved["trainer"] == "rl" and saved["config"]["group_size"] == 3
    # 3 eval items < 100: nothing is selected on them, best.pt is the last step's network
    policy, network, meta = load_trained(out, device="cpu")
    assert meta.info["step"] == 1
    last = {k: v.clone() for k, v in res.policy.adapter_state("out").items()}
    assert all(torch.equal(last[k], v) for k, v in policy.adapter_state("out").items())
    # resume: two more steps on top, the first two lines kept
    await train_rl(cfg_for(tiny_model, steps=3), TRAIN, VALID, out, reward=parity, progress=False)
    log2 = [json.loads(line) for line in (out / LOG_FILE).read_text().splitlines()]
    assert [r["step"] for r in log2] == [0, 1, 2] and log2[:2] == log


async def test_other_settings_and_old_neuromas_folders_are_refused(tiny_model, tmp_path):
    out = tmp_path / "run"
    await train_rl(cfg_for(tiny_model, steps=1, eval_size=0, probes=0), TRAIN, VALID, out, reward=parity,
                   progress=False)
    with pytest.raises(CheckpointError, match="group_size"):
        await train_rl(cfg_for(tiny_model, steps=1, eval_size=0, probes=0, group_size=2), TRAIN, VALID, out,
                       reward=parity, progress=False)
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.json").write_text(json.dumps({"config": {"layers": [1, 1]}}))
    with pytest.raises(CheckpointError, match="earlier NeuroMAS REINFORCE loop"):
        await train_rl(cfg_for(tiny_model, steps=1), TRAIN, VALID, old, reward=parity, progress=False)


def test_truncated_replies_are_masked_and_never_scored(tiny_model):
    cfg = cfg_for(tiny_model, truncated="mask")
    policy = build_policy(cfg)
    msgs = [{"role": "user", "content": "q"}]

    def episode(text, finished, reward):
        e = Episode("q", [NodeCall("out", 1, 0, msgs, Sampled(text, finished, token_ids=(5, 6)))])
        e.reward = reward
        return e

    eps = [episode("a", True, 1.0), episode("b", False, 0.0), episode("c", True, 0.0)]
    rewards = [masked_reward(cfg, e) for e in eps]
    assert rewards == [1.0, None, 0.0] and eps[1].info["truncated"]
    from mastune.optim.rl.estimators import get_estimator

    adv = get_estimator("loo")(rewards, [0, 0, 0], {})
    items = node_items(policy, eps, adv)["out"]
    assert sorted(s.call.sample.text for s in items) == ["a", "c"]
    assert masked_reward(cfg_for(tiny_model, truncated="wrong"), eps[1]) == 0.0


def test_shared_prompt_scoring_equals_per_reply_scoring(tiny_model):
    policy = build_policy(cfg_for(tiny_model))
    with torch.no_grad():
        for p in policy.parameters("out"):
            p.add_(torch.randn_like(p) * 0.05)  # a non-trivial adapter
    msgs = [{"role": "user", "content": "Take 3 steps."}]
    samples = [Sampled("", i % 2 == 0, token_ids=tuple(range(40 + i, 44 + 2 * i))) for i in range(4)]
    a = policy.token_logprobs("out", [(msgs, s) for s in samples], 0.7, entropy=True)
    b = policy.shared_prompt_logprobs("out", msgs, samples, 0.7, entropy=True)
    for r in range(4):
        assert torch.allclose(a.logprobs[r][a.mask[r]], b.logprobs[r][b.mask[r]], atol=1e-5)
        assert torch.allclose(a.entropy[r][a.mask[r]], b.entropy[r][b.mask[r]], atol=1e-4)
    grads = []
    for sc in (policy.token_logprobs("out", [(msgs, s) for s in samples], 0.7),
               policy.shared_prompt_logprobs("out", msgs, samples, 0.7)):
        for p in policy.parameters("out"):
            p.grad = None
        (sc.logprobs * sc.mask).sum().backward()
        grads.append([p.grad.clone() for p in policy.parameters("out")])
    assert all(torch.allclose(x, y, atol=1e-5) for x, y in zip(*grads))
    # with the adapters off it is the backbone: equal to per-reply scoring of the backbone too
    base = policy.shared_prompt_logprobs(None, msgs, samples, 1.0)
    base2 = policy.token_logprobs(None, [(msgs, s) for s in samples], 1.0)
    assert torch.allclose(base.logprobs[0][base.mask[0]], base2.logprobs[0][base2.mask[0]], atol=1e-5)
