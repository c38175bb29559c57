"""Shaped rewards, the α mix, the temperature schedule and the REINFORCE loss."""
import math

import pytest
import torch

from mastune.optim.hieramas.reinforce import EpisodeTerms, cosine_temperature, reinforce_loss
from mastune.optim.hieramas.rewards import RewardConfig, effective_rewards, shaped_reward


def test_shaped_reward_bounds_and_cost_scale():
    cfg = RewardConfig(k=0.7, k2=0.7)
    assert shaped_reward(True, 0.0, cfg, 1.0) == 1.0
    assert shaped_reward(True, 0.5, cfg, 1.0) == pytest.approx(math.exp(-0.35))
    assert shaped_reward(True, 1.0, cfg, 1.0) == 0.5  # exp(-0.7) < 0.5: the floor
    assert shaped_reward(True, 100.0, cfg, 1.0) == 0.5  # floor
    assert shaped_reward(False, 0.0, cfg, 1.0) == -1.0
    assert shaped_reward(False, 1e9, cfg, 1.0) == -2.5  # ceiling, no overflow
    # cost only matters relative to the reference cost
    assert shaped_reward(True, 0.001, cfg, 0.002) == shaped_reward(True, 0.5, cfg, 1.0)
    cheap, dear = shaped_reward(True, 0.1, cfg, 1.0), shaped_reward(True, 0.5, cfg, 1.0)
    assert cheap > dear


def test_reference_cost_from_the_pools_priciest_model():
    cfg = RewardConfig(ref_tokens=10_000)
    assert cfg.reference_cost(0.15) == pytest.approx(0.0015)  # 10k tokens at $0.15/M
    assert RewardConfig(cost_ref=1.0).reference_cost(0.15) == 1.0
    assert cfg.reference_cost(0.0) == 1.0  # a free pool


def test_effective_rewards_mix_node_and_system():
    assert effective_rewards([1.0, -1.0, None], 0.5, 0.5) == [0.75, -0.25, 0.5]
    assert effective_rewards([1.0, -1.0], 0.5, 0.0) == [0.5, 0.5]


def test_cosine_temperature_schedule():
    assert cosine_temperature(0, 12) == pytest.approx(10.0)
    assert cosine_temperature(11, 12) == pytest.approx(0.8)
    mid = cosine_temperature(5.5, 12)
    assert mid == pytest.approx((10.0 + 0.8) / 2)
    temps = [cosine_temperature(i, 12) for i in range(12)]
    assert temps == sorted(temps, reverse=True)
    assert cosine_temperature(0, 1) == 0.8


def test_reinforce_loss_raises_rewarded_choices():
    logits = torch.zeros(1, 1, 3, requires_grad=True)
    logp = torch.log_softmax(logits, -1)[0, 0, 1].reshape(1)
    ep = EpisodeTerms(logp, torch.tensor([1.0]), torch.tensor(0.0))
    reinforce_loss([ep], beta=0.0).backward()
    assert logits.grad[0, 0, 1] < 0  # gradient descent raises the rewarded logit
    assert logits.grad[0, 0, 0] > 0 and logits.grad[0, 0, 2] > 0
