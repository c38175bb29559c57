"""REINFORCE with a baseline over a layered network.

Every node's sampled-text log-probability is reinforced by the same advantage
(terminal reward minus baseline); each adapter gets its own gradient, clipped and
stepped by its own optimiser. Baselines:
- "loo": leave-one-out over the G samples of the same question,
  A_i = r_i - mean_{j != i} r_j (unbiased; a question all samples agree on teaches nothing);
- "ema": a moving average of past rewards, b <- decay * b + (1 - decay) * mean(batch), used
  before it is updated with the batch it scores.
A node whose advantages in a step are all zero (after merging identical calls) is not scored at
all: no forward pass, no optimiser step, its adapter stays bit-identical.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from ...errors import ConfigError
from .episode import Episode, NodeCall
from .policy import AdapterPolicy, prompt_ids

BASELINES = ("loo", "ema")


def loo_advantages(rewards: Sequence[float], groups: Sequence[int]) -> list[float]:
    """Leave-one-out advantages within each group; a group of one gets 0 (no baseline to compare)."""
    by: dict[int, list[float]] = {}
    for r, g in zip(rewards, groups):
        by.setdefault(g, []).append(r)
    out = []
    for r, g in zip(rewards, groups):
        rs = by[g]
        out.append(0.0 if len(rs) < 2 else r - (sum(rs) - r) / (len(rs) - 1))
    return out


@dataclass
class EmaBaseline:
    decay: float = 0.9
    value: float | None = None  # None until the first batch

    def advantages(self, rewards: Sequence[float]) -> list[float]:
        b = self.value if self.value is not None else 0.0
        return [r - b for r in rewards]

    def update(self, rewards: Sequence[float]) -> None:
        m = sum(rewards) / len(rewards)
        self.value = m if self.value is None else self.decay * self.value + (1 - self.decay) * m


def advantages(kind: str, episodes: Sequence[Episode], ema: EmaBaseline | None = None) -> list[float]:
    rewards = [float(e.reward) for e in episodes]
    if kind == "loo":
        return loo_advantages(rewards, [e.group for e in episodes])
    if kind == "ema":
        if ema is None:
            raise ValueError("the ema baseline needs its EmaBaseline state")
        adv = ema.advantages(rewards)
        ema.update(rewards)
        return adv
    raise ConfigError(f"unknown baseline {kind!r}; use one of {BASELINES}")


def merge_identical(pairs: Sequence[tuple[NodeCall, float]], tol: float = 1e-9) -> list[tuple[NodeCall, float]]:
    """Calls with the same prompt and the same reply have the same log-prob gradient: score them once
    with their advantages summed, and drop those whose sum is zero. Exact in real arithmetic; it makes
    a node whose behaviour did not vary within a group get exactly no update (its leave-one-out
    advantages sum to 0), instead of float noise that Adam would blow up to a full-size step."""
    merged: dict[tuple, list] = {}
    for call, a in pairs:
        key = (repr(call.messages), call.sample.text, call.sample.finished, call.sample.token_ids)
        if key in merged:
            merged[key][1] += a
        else:
            merged[key] = [call, a]
    return [(c, a) for c, a in merged.values() if abs(a) > tol]


def make_optimizers(policy: AdapterPolicy, lr: float) -> dict[str, torch.optim.Optimizer]:
    """One Adam per adapter (no weight decay: it would pull A towards 0 even for untouched nodes)."""
    return {n: torch.optim.Adam(policy.parameters(n), lr=lr) for n in policy.nodes}


def update(policy: AdapterPolicy, optimizers: dict[str, torch.optim.Optimizer], episodes: Sequence[Episode],
           adv: Sequence[float], *, grad_clip: float = 1.0, length_norm: bool = False,
           batch_size: int = 4, temperature: float = 1.0) -> dict[str, dict]:
    """One policy-gradient step for every node: loss_n = -(1/E) sum_e A_e log p_n(text_e | prompt_e).
    temperature: the one the replies were sampled at (on-policy scoring). Returns per node: mean
    sequence log-prob, gradient norm (before clipping), completion tokens, how many replies the
    sampler said had a prompt of another length than the scorer's (should be 0), and b_max (the
    largest |LoRA B| entry after the step: how far the adapter has moved from its start)."""
    stats: dict[str, dict] = {}
    n_eps = max(1, len(episodes))
    for node in policy.nodes:
        pairs = merge_identical([(e.call(node), a) for e, a in zip(episodes, adv)
                                 if any(c.node == node for c in e.calls)])
        opt = optimizers[node]
        opt.zero_grad(set_to_none=True)
        if not pairs:
            stats[node] = {"logprob": None, "grad_norm": 0.0, "tokens": 0, "skipped": True,
                           "b_max": policy.b_max(node)}
            continue
        lps, toks = [], 0
        with policy.lock:  # no adapter switch between this node's forward and backward passes
            for start in range(0, len(pairs), max(1, batch_size)):
                chunk = pairs[start:start + batch_size]
                lp, counts = policy.sequence_logprobs(node, [(c.messages, c.sample) for c, _ in chunk],
                                                       batch_size, temperature)
                a = torch.tensor([x for _, x in chunk], dtype=lp.dtype, device=lp.device)
                per = lp / torch.tensor([max(1, k) for k in counts], dtype=lp.dtype, device=lp.device) \
                    if length_norm else lp
                (-(a * per).sum() / n_eps).backward()
                lps += lp.detach().tolist()
                toks += sum(counts)
            params = policy.parameters(node)
            norm = torch.nn.utils.clip_grad_norm_(params, grad_clip if grad_clip > 0 else float("inf"))
            opt.step()
            opt.zero_grad(set_to_none=True)
        # A sampler that reports its prompt length lets us catch a chat template applied differently
        # from the scorer's (e.g. engine vs HF tokenizer): then the scored context is not the sampled one.
        mismatch = sum(1 for c, _ in pairs if c.sample.prompt_tokens
                       and c.sample.prompt_tokens != len(prompt_ids(policy.tokenizer, c.messages)))
        stats[node] = {"logprob": sum(lps) / len(lps), "grad_norm": float(norm), "tokens": toks, "skipped": False,
                       "prompt_mismatch": mismatch, "b_max": policy.b_max(node)}
    return stats
