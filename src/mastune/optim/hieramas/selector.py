"""The LLM selector: one network scores every pool LLM (plus "skip") for every slot.

Rows are the slots of one role's supernode: a learned slot-position embedding
(proposer 0..P-1, then the synthesiser) next to the embedding of
"Task: ... Role: ..."; columns are the embeddings of the LLM profiles plus a
learned skip column. score(row, column) = MLP([row ‖ column]). Training
samples at a temperature; inference takes the argmax.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import torch
from torch import nn

from ...graph.topology import SKIP

MASKED = -1e9  # not -inf: keeps p·log p finite (0) where a choice is disallowed


@dataclass
class SelectorConfig:
    proposers: int = 2
    slot_dim: int = 16
    hidden: int = 64
    allow_skip: bool = True

    @property
    def slots(self) -> int:
        return self.proposers + 1  # proposers, then the synthesiser

    def to_dict(self) -> dict:
        return asdict(self)


class LLMSelector(nn.Module):
    def __init__(self, emb_dim: int, config: SelectorConfig = SelectorConfig()) -> None:
        super().__init__()
        self.config = config
        h = config.hidden
        self.slot = nn.Embedding(config.slots, config.slot_dim)
        self.row = nn.Linear(config.slot_dim + emb_dim, h)
        self.col = nn.Linear(emb_dim, h)
        self.skip = nn.Parameter(torch.randn(h) * 0.1)  # the skip "LLM": a learned column
        self.score = nn.Sequential(nn.ReLU(), nn.Linear(2 * h, h), nn.ReLU(), nn.Linear(h, 1))

    def forward(self, row_emb: torch.Tensor, col_emb: torch.Tensor) -> torch.Tensor:
        """row_emb [R, E] (one per role), col_emb [M, E] -> logits [R, slots, M + 1] (last = skip)."""
        r, s = row_emb.shape[0], self.config.slots
        slots = self.slot.weight.unsqueeze(0).expand(r, s, -1)
        rows = self.row(torch.cat([slots, row_emb.unsqueeze(1).expand(r, s, -1)], dim=-1))  # [R, S, h]
        cols = torch.cat([self.col(col_emb), self.skip.unsqueeze(0)], dim=0)  # [M+1, h]
        m = cols.shape[0]
        pair = torch.cat([rows.unsqueeze(2).expand(r, s, m, -1), cols.expand(r, s, m, -1)], dim=-1)
        logits = self.score(pair).squeeze(-1)
        if not self.config.allow_skip:
            logits = logits.clone()
            logits[..., -1] = MASKED
        return logits


# ---- choosing ----------------------------------------------------------------

def sample(logits: torch.Tensor, temperature: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """One choice per slot, [R, S] column indices, from softmax(logits / T)."""
    probs = torch.softmax(logits.detach() / temperature, dim=-1)
    flat = probs.reshape(-1, probs.shape[-1])
    return torch.multinomial(flat, 1, generator=generator).reshape(probs.shape[:-1])


def argmax(logits: torch.Tensor) -> torch.Tensor:
    return logits.detach().argmax(dim=-1)


def keep_one_answering(choice: torch.Tensor, logits: torch.Tensor, answering: Sequence[bool]) -> torch.Tensor:
    """At least one answer-producing supernode must run (spec): if every answering
    role's synthesiser drew skip, give the one whose best real model scores
    highest that model. The forced choice is then trained on like a sampled one."""
    skip = logits.shape[-1] - 1
    synth = choice[:, -1]
    if any(a and int(synth[i]) != skip for i, a in enumerate(answering)):
        return choice
    candidates = [i for i, a in enumerate(answering) if a]
    if not candidates:
        return choice
    best = max(candidates, key=lambda i: float(logits[i, -1, :skip].detach().max()))
    choice = choice.clone()
    choice[best, -1] = int(logits[best, -1, :skip].argmax())
    return choice


def counted_slots(choice: torch.Tensor, n_models: int) -> torch.Tensor:
    """[R, S] mask of the choices that had an effect: a skipped supernode's proposer
    picks never ran, so only its synthesiser's skip is credited."""
    mask = torch.ones_like(choice, dtype=torch.bool)
    skipped = choice[:, -1] == n_models
    mask[skipped, :-1] = False
    return mask


def log_prob(logits: torch.Tensor, choice: torch.Tensor, temperature: float, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per role: Σ over (counted) slots of log π_T(choice). [R]; differentiable."""
    logp = torch.log_softmax(logits / temperature, dim=-1).gather(-1, choice.unsqueeze(-1)).squeeze(-1)
    if mask is not None:
        logp = logp * mask
    return logp.sum(-1)


def entropy(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Mean entropy of the sampling distribution over all slots (a scalar)."""
    logp = torch.log_softmax(logits / temperature, dim=-1)
    return -(logp.exp() * logp).sum(-1).mean()


def to_assignments(choice: torch.Tensor, role_names: Sequence[str], model_names: Sequence[str]) -> dict[str, dict]:
    """Column indices -> the runtime's assignment dicts ({proposers: [...], synthesiser: ...})."""
    names = [*model_names, SKIP]
    out = {}
    for i, role in enumerate(role_names):
        picks = [names[int(j)] for j in choice[i]]
        out[role] = {"proposers": picks[:-1], "synthesiser": picks[-1]}
    return out
