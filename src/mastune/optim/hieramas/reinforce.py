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
