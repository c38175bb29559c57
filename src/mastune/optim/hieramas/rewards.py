"""Cost-aware shaped rewards, node-level and system-level, and their α mix.

    solved:     r = max(exp(-k · c), floor)      (floor 0.5)
    not solved: r = max(-exp(k2 · c), ceiling)   (ceiling -2.5)

The release uses c in dollars with k = k2 = 300, which puts a solved query
costing ≈ $0.0023 (a 10-call system on a mid-priced API model) at the 0.5
floor. Local models cost ~1000× less per token, so here c is *normalised*:
c = cost / cost_ref, where cost_ref is the price of `ref_tokens` tokens
(default 10,000: about one full 3-supernode run) on the pool's priciest
model. With the default k = k2 = 0.7, a solved query that costs as much as
running everything on the priciest model scores ≈ 0.5, a cheap one ≈ 1, and
a failure -1 (free) to -2 (reference cost). The same defaults then work for
a local pool and an API pool; set `cost_ref` to 1.0 and k = 300 to get the
release's dollar-based reward back.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence


@dataclass
class RewardConfig:
    k: float = 0.7
    k2: float = 0.7
    floor: float = 0.5  # a solved query never scores below this
    ceiling: float = -2.5  # a failed query never scores below this
    alpha: float = 0.5  # weight of the node-level reward ("node reward weight"); 0 = final reward only
    cost_ref: float | None = None  # cost unit; None = price of ref_tokens on the pool's priciest model
    ref_tokens: int = 10_000

    def reference_cost(self, max_price_per_m: float) -> float:
        if self.cost_ref is not None:
            return self.cost_ref
        ref = self.ref_tokens * max_price_per_m / 1e6
        return ref if ref > 0 else 1.0  # a free pool: cost plays no part

    def to_dict(self) -> dict:
        return asdict(self)


def shaped_reward(solved: bool, cost: float, cfg: RewardConfig, cost_ref: float) -> float:
    c = cost / cost_ref
    if solved:
        return max(math.exp(-cfg.k * c), cfg.floor)
    return max(-math.exp(min(cfg.k2 * c, 50.0)), cfg.ceiling)  # min(): no overflow on huge costs


def effective_rewards(
    node_rewards: Sequence[float | None], system_reward: float, alpha: float
) -> list[float]:
    """eff_i = α·r_i + (1-α)·r_F; a node with no gradable output of its own
    (r_i None: a role that gives no answer, or a skipped supernode) gets r_F."""
    return [system_reward if r is None else alpha * r + (1 - alpha) * system_reward for r in node_rewards]
