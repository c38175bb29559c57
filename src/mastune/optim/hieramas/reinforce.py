"""REINFORCE for the selector: the loss and the sampling-temperature schedule."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch


def cosine_temperature(iteration: int, iterations: int, start: float = 10.0, end: float = 0.8) -> float:
    """start at iteration 0, end at the last iteration, cosine in between:
    wide exploration first, nearly greedy sampling at the end."""
    if iterations <= 1:
        return end
    t = min(max(iteration / (iterations - 1), 0.0), 1.0)
    return end + (start - end) * 0.5 * (1 + math.cos(math.pi * t))


@dataclass
class EpisodeTerms:
    """What one query contributes: per-role log-probs (differentiable) and rewards."""

    log_probs: torch.Tensor  # [R] Σ over the role's counted slots of log π_T(choice)
    rewards: torch.Tensor  # [R] effective rewards (constants)
    entropy: torch.Tensor  # scalar: mean slot entropy of the sampling distribution


def reinforce_loss(episodes: list[EpisodeTerms], beta: float) -> torch.Tensor:
    """mean over queries of  -Σ_i log π(choices_i) · eff_i  -  β · entropy.

    No baseline is subtracted (as in the release): the shaped rewards are
    already signed, positive when solved and negative when not.
    """
    terms = [-(e.log_probs * e.rewards.detach()).sum() - beta * e.entropy for e in episodes]
    return torch.stack(terms).mean()


# ---- a policy that moves within a few hundred episodes ------------------------------
BASELINES = ("none", "mean", "ema")


@dataclass
class Baseline:
    """What is subtracted from the effective rewards (per role) before the policy gradient.

    none: the release (signed shaped rewards, no baseline; high variance).
    mean: leave-one-out mean of the batch's rewards for that role (unbiased, no state).
    ema:  exponential moving average per role across iterations (state: `values`).
    """

    kind: str = "mean"
    decay: float = 0.9
    values: list[float] | None = None  # ema state, one per role

    def advantages(self, rewards: torch.Tensor) -> torch.Tensor:
        """rewards [B, R] -> advantages [B, R]; updates the ema state."""
        if self.kind == "none":
            return rewards
        if self.kind == "mean":
            b = rewards.shape[0]
            if b < 2:
                return rewards  # one query: nothing to compare it with
            loo = (rewards.sum(0, keepdim=True) - rewards) / (b - 1)
            return rewards - loo
        if self.kind == "ema":
            batch = rewards.mean(0)
            if self.values is None:
                self.values = batch.tolist()  # first batch: centre on itself
            base = torch.tensor(self.values, dtype=rewards.dtype)
            self.values = (self.decay * base + (1 - self.decay) * batch).tolist()
            return rewards - base
        raise ValueError(f"baseline must be one of {BASELINES}, got {self.kind!r}")


def clipped_policy_loss(log_probs: torch.Tensor, old_log_probs: torch.Tensor, advantages: torch.Tensor,
                        entropies: torch.Tensor, beta: float, clip: float) -> torch.Tensor:
    """PPO-style surrogate over [B, R] per-role log-probs, so one batch of episodes can feed
    several optimiser steps. On the first step (log_probs == old_log_probs) its gradient is
    exactly REINFORCE's; later steps stop pushing a role once its probability ratio leaves
    [1 - clip, 1 + clip] in the advantage's direction (the data no longer says more)."""
    ratio = torch.exp(log_probs - old_log_probs.detach())
    adv = advantages.detach()
    surrogate = torch.minimum(ratio * adv, torch.clamp(ratio, 1 - clip, 1 + clip) * adv)
    return (-surrogate.sum(-1) - beta * entropies).mean()
