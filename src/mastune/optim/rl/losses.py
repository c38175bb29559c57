"""Policy losses: a small registry, one function per loss, all per token.

    loss_sum, stats = LOSSES["clip"](batch, clip=0.2)

A `TokenBatch` holds right-aligned [n, K] tensors for n scored replies: the current log-probs (with
grad), the learner's log-probs before this batch's first update (`old`), the sampler's own log-probs
(`behaviour`, None when the sampler does not report them), the reference policy's (the backbone
without adapters, only when a KL term is asked for), the per-reply advantages and the token mask.
A loss returns the *sum* over tokens; the trainer divides by a constant (episodes in the step), so
long replies are not down-weighted per token (Dr. GRPO) and micro-batches add up exactly.

Sampler/learner mismatch: the engine samples from a Q4 GGUF, the learner scores dequantised
weights, so even on-policy the two disagree a little. `tis_cap` > 0 multiplies each token's term by
the truncated importance weight min(exp(old - behaviour), cap) (the learner's probability of the
sampled token over the sampler's), which corrects the gradient's expectation to the learner's own
policy; it is detached.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from ...errors import ConfigError

if TYPE_CHECKING:  # torch is imported where a loss runs: the CLI lists the losses without it
    import torch


@dataclass
class TokenBatch:
    logprobs: torch.Tensor  # [n, K], grad
    old: torch.Tensor  # [n, K], detached
    advantages: torch.Tensor  # [n]
    mask: torch.Tensor  # [n, K] bool
    behaviour: torch.Tensor | None = None  # [n, K]
    reference: torch.Tensor | None = None  # [n, K]


Loss = Callable[..., "tuple[torch.Tensor, dict]"]
LOSSES: dict[str, Loss] = {}


def loss(name: str) -> Callable[[Loss], Loss]:
    def add(fn: Loss) -> Loss:
        LOSSES[name] = fn
        return fn
    return add


def get_loss(name: str) -> Loss:
    try:
        return LOSSES[name]
    except KeyError:
        raise ConfigError(f"unknown policy loss {name!r}; use one of {', '.join(LOSSES)}") from None


def _weights(b: TokenBatch, tis_cap: float) -> "torch.Tensor":
    import torch

    if b.behaviour is None or tis_cap <= 0:
        return torch.ones_like(b.old)
    return torch.exp(b.old - b.behaviour).clamp(max=tis_cap).detach()


def _kl(b: TokenBatch, kl: float) -> "torch.Tensor":
    """k3 estimate of KL(policy || reference) per token (unbiased, non-negative), times its weight."""
    import torch

    if kl <= 0 or b.reference is None:
        return torch.zeros_like(b.logprobs)
    d = b.reference - b.logprobs
    return kl * (torch.exp(d) - d - 1)


def _finish(term: "torch.Tensor", b: TokenBatch, w: "torch.Tensor", kl: float, extra: dict
            ) -> "tuple[torch.Tensor, dict]":
    m = b.mask.to(term.dtype)
    klt = _kl(b, kl)
    total = ((term * w + klt) * m).sum()
    n = m.sum().clamp(min=1)
    stats = {"tis_weight": float((w * m).sum() / n),
             "kl_ref": float((klt.detach() * m).sum() / n) / kl if kl > 0 else None,
             **extra}
    return total, stats


@loss("reinforce")
def reinforce(b: TokenBatch, *, clip: float = 0.2, kl: float = 0.0, tis_cap: float = 0.0) -> tuple[torch.Tensor, dict]:
    """-A log p per token (on-policy: one update per batch; `clip` is not used)."""
    w = _weights(b, tis_cap)
    return _finish(-b.advantages[:, None] * b.logprobs, b, w, kl, {"clipped": 0.0})


@loss("clip")
def clipped_ratio(b: TokenBatch, *, clip: float = 0.2, kl: float = 0.0, tis_cap: float = 0.0
                  ) -> tuple[torch.Tensor, dict]:
    """PPO's clipped surrogate against the batch's starting policy: -min(ρA, clip(ρ, 1±ε)A), ρ = p/p_old.
    At the first update ρ = 1 and this is REINFORCE; later epochs over the same batch stay near it."""
    import torch

    ratio = torch.exp(b.logprobs - b.old)
    a = b.advantages[:, None]
    term = -torch.minimum(ratio * a, ratio.clamp(1 - clip, 1 + clip) * a)
    w = _weights(b, tis_cap)
    m = b.mask
    clipped = ((ratio - 1).abs() > clip) & m
    return _finish(term, b, w, kl, {"clipped": float(clipped.sum()) / max(1, int(m.sum()))})
