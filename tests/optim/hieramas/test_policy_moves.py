"""The stage-1 update rule: a baseline, several clipped steps per batch, and a log that shows
whether the policy moved (entropy at the sampling temperature vs ln(options), role x model prefs)."""
import math

import pytest
import torch

from mastune.errors import ConfigError
from mastune.optim.hieramas import HashEmbedder, TrainConfig, train_stage1
from mastune.optim.hieramas.analysis import stage1_summary
from mastune.optim.hieramas.reinforce import Baseline, EpisodeTerms, clipped_policy_loss, reinforce_loss

from .fakes import examples
from .test_stage1 import config, fake_pool


def test_mean_baseline_is_leave_one_out_per_role():
    r = torch.tensor([[1.0, 0.0], [0.0, 0.0], [-1.0, 3.0]])
    adv = Baseline("mean").advantages(r)
    assert adv[0].tolist() == pytest.approx([1.0 - (-0.5), 0.0 - 1.5])
    assert adv[2].tolist() == pytest.approx([-1.0 - 0.5, 3.0 - 0.0])
    assert Baseline("mean").advantages(r[:1]).tolist() == r[:1].tolist()  # one query: nothing to compare
    assert Baseline("none").advantages(r).tolist() == r.tolist()


def test_ema_baseline_carries_state_across_batches():
    b = Baseline("ema", decay=0.5)
    first = b.advantages(torch.tensor([[1.0], [3.0]]))
    assert first.flatten().tolist() == [-1.0, 1.0] and b.values == [2.0]
    second = b.advantages(torch.tensor([[0.0], [0.0]]))
    assert second.flatten().tolist() == [-2.0, -2.0] and b.values == [1.0]
    with pytest.raises(ValueError, match="baseline must be one of"):
        Baseline("median").advantages(torch.zeros(1, 1))


def test_first_clipped_step_is_reinforce_and_clipping_stops_the_push():
    def grads(loss_fn):
        logits = torch.tensor([[0.3, -0.2, 0.1]], requires_grad=True)
        logp = torch.log_softmax(logits, -1)[:, 1]  # [1] one role
        loss_fn(logp).backward()
        return logits.grad.clone()

    adv = torch.tensor([[2.0]])
    reinforce = grads(lambda lp: reinforce_loss([EpisodeTerms(lp, adv[0], torch.tensor(0.0))], 0.0))
    clipped = grads(lambda lp: clipped_policy_loss(lp.unsqueeze(0), lp.unsqueeze(0), adv, torch.zeros(1), 0.0, 0.2))
    assert torch.allclose(reinforce, clipped)
    # a later step where the choice is already 1.5x as likely as when sampled: no more push
    late = grads(lambda lp: clipped_policy_loss(lp.unsqueeze(0), lp.unsqueeze(0) - math.log(1.5), adv,
                                                torch.zeros(1), 0.0, 0.2))
    assert torch.count_nonzero(late) == 0


def test_config_checks_and_legacy_runs_keep_the_release_rule():
    with pytest.raises(ConfigError, match="steps_per_batch"):
        TrainConfig(steps_per_batch=0)
    with pytest.raises(ConfigError, match="baseline must be one of"):
        TrainConfig(baseline="median")
    old = TrainConfig().to_dict()
    for key in ("steps_per_batch", "baseline", "roles"):
        del old[key]
    legacy = TrainConfig.from_dict(old)
    assert (legacy.steps_per_batch, legacy.baseline, legacy.roles) == (1, "none", None)


def test_role_subset_is_checked_and_kept_in_family_order():
    cfg = TrainConfig(task="mmlu-redux", roles=["Lawyer", "Critic"])
    assert cfg.roles == ["Critic", "Lawyer"] and cfg.family == "mcq"
    with pytest.raises(ConfigError, match="unknown: \\['Plumber'\\]"):
        TrainConfig(task="mmlu-redux", roles=["Critic", "Plumber"])


async def run(tmp_path, **kw):
    cfg = config(iterations=10, batch_size=4, val_every=100, **kw)
    return await train_stage1(cfg, fake_pool(), examples(8), [], tmp_path, embedder=HashEmbedder(64),
                              progress=False)


async def test_the_new_rule_moves_the_policy_where_the_release_rule_does_not(tmp_path):
    moved = await run(tmp_path / "new", lr=0.01, steps_per_batch=4, baseline="mean", temp_start=2.0, temp_end=0.8)
    still = await run(tmp_path / "release", lr=2e-3, steps_per_batch=1, baseline="none", temp_start=10.0,
                      temp_end=0.8)
    uniform = math.log(3)  # 3 models, skip not allowed
    for res in (moved, still):
        rec = res.log[-1]
        assert rec["entropy_uniform"] == pytest.approx(uniform)
        assert len(rec["losses"]) == (4 if res is moved else 1) and rec["episodes"] == 4
        prefs = rec["prefs"]["Math Solver"]
        assert set(prefs) == {"good", "wrong", "pricey", "skip"} and sum(prefs.values()) == pytest.approx(1.0, abs=1e-3)
    assert moved.log[-1]["entropy_after"] < 0.6 * uniform
    assert still.log[-1]["entropy_after"] > 0.95 * uniform
    assert moved.log[-1]["prefs"]["Math Solver"]["good"] > 0.6  # right and cheap
    s = stage1_summary(moved.log)
    assert s["episodes"] == 40 and s["episodes_per_hour"] > 0 and len(s["reward_curve"]) == 10
