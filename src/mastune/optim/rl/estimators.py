"""Advantage estimators: a small registry, one function per estimator.

    adv = ADVANTAGES["loo"](rewards, groups, state)

`rewards[i]` is episode i's reward, or None when it is masked (a reply cut at the token budget: its
0/1 grade says nothing about the answer, so it neither counts in its group's baseline nor gets an
advantage). `groups[i]` names the question episode i answered; `state` is a dict the trainer keeps
across steps and in its resume state (the moving average lives there). Every estimator returns one
float per episode, 0.0 for masked ones.
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

from ...errors import ConfigError

Estimator = Callable[[Sequence[Optional[float]], Sequence[int], dict], list[float]]
ADVANTAGES: dict[str, Estimator] = {}


def estimator(name: str) -> Callable[[Estimator], Estimator]:
    def add(fn: Estimator) -> Estimator:
        ADVANTAGES[name] = fn
        return fn
    return add


def get_estimator(name: str) -> Estimator:
    try:
        return ADVANTAGES[name]
    except KeyError:
        raise ConfigError(f"unknown advantage estimator {name!r}; use one of {', '.join(ADVANTAGES)}") from None


def _by_group(rewards: Sequence[Optional[float]], groups: Sequence[int]) -> dict[int, list[float]]:
    by: dict[int, list[float]] = {}
    for r, g in zip(rewards, groups):
        if r is not None:
            by.setdefault(g, []).append(float(r))
    return by


@estimator("loo")
def leave_one_out(rewards: Sequence[Optional[float]], groups: Sequence[int], state: dict) -> list[float]:
    """r_i - mean of the other samples of the same question (RLOO; unbiased). A group of one: 0."""
    by = _by_group(rewards, groups)
    out = []
    for r, g in zip(rewards, groups):
        rs = by.get(g, [])
        out.append(0.0 if r is None or len(rs) < 2 else float(r) - (sum(rs) - float(r)) / (len(rs) - 1))
    return out


@estimator("group_mean")
def group_mean(rewards: Sequence[Optional[float]], groups: Sequence[int], state: dict) -> list[float]:
    """r_i - mean of its group (Dr. GRPO: no division by the spread)."""
    by = _by_group(rewards, groups)
    return [0.0 if r is None else float(r) - sum(by[g]) / len(by[g]) for r, g in zip(rewards, groups)]


@estimator("group_norm")
def group_norm(rewards: Sequence[Optional[float]], groups: Sequence[int], state: dict) -> list[float]:
    """(r_i - group mean) / (group std + 1e-4) (GRPO). A group whose samples all agree gets 0."""
    by = _by_group(rewards, groups)
    out = []
    for r, g in zip(rewards, groups):
        if r is None:
            out.append(0.0)
            continue
        rs = by[g]
        m = sum(rs) / len(rs)
        sd = math.sqrt(sum((x - m) ** 2 for x in rs) / len(rs))
        out.append((float(r) - m) / (sd + 1e-4))
    return out


@estimator("ema")
def moving_average(rewards: Sequence[Optional[float]], groups: Sequence[int], state: dict) -> list[float]:
    """r_i - b, with b a moving average of past batch means (decay state['ema_decay'], default 0.9),
    updated after it scored this batch."""
    seen = [float(r) for r in rewards if r is not None]
    b = state.get("ema")
    out = [0.0 if r is None else float(r) - (b if b is not None else 0.0) for r in rewards]
    if seen:
        m = sum(seen) / len(seen)
        d = float(state.get("ema_decay", 0.9))
        state["ema"] = m if b is None else d * b + (1 - d) * m
    return out


@estimator("none")
def raw_reward(rewards: Sequence[Optional[float]], groups: Sequence[int], state: dict) -> list[float]:
    """The reward itself (plain REINFORCE without a baseline)."""
    return [0.0 if r is None else float(r) for r in rewards]


def informative_groups(rewards: Sequence[Optional[float]], groups: Sequence[int]) -> set[int]:
    """Groups whose unmasked rewards differ: the only ones a group baseline can learn from."""
    return {g for g, rs in _by_group(rewards, groups).items() if len(rs) >= 2 and max(rs) != min(rs)}
