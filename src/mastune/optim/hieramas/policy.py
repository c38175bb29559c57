"""The selector bound to a task family, a pool and an embedder: question -> slot choices."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from ...agents.prompts import Role
from .embed import Embedder
from .features import PoolInfo, slot_row_text
from .selector import LLMSelector, argmax, keep_one_answering, sample, to_assignments


@dataclass
class Choice:
    logits: torch.Tensor  # [R, S, M+1], differentiable while training
    picks: torch.Tensor  # [R, S] column indices (M = skip)


class Policy:
    def __init__(self, selector: LLMSelector, embedder: Embedder, pool: PoolInfo, roles: Sequence[Role]) -> None:
        self.selector = selector
        self.embedder = embedder
        self.pool = pool
        self.roles = list(roles)
        self.answering = [r.answers for r in self.roles]
        self._cols = pool.column_features(embedder)  # the pool does not change: embed once

    @property
    def n_models(self) -> int:
        return len(self.pool.names)

    def logits(self, questions: Sequence[str]) -> list[torch.Tensor]:
        """One [R, S, M+1] tensor per question; all rows embedded in one call."""
        return self.logits_of(self.rows(questions))

    def rows(self, questions: Sequence[str]) -> torch.Tensor:
        """[Q, R, E] row embeddings (fixed: several optimiser steps on one batch embed once)."""
        texts = [slot_row_text(q, r) for q in questions for r in self.roles]
        return self.embedder.embed(texts).reshape(len(questions), len(self.roles), -1)

    def logits_of(self, rows: torch.Tensor) -> list[torch.Tensor]:
        return [self.selector(rows[i], self._cols) for i in range(rows.shape[0])]

    @property
    def n_options(self) -> int:
        """Choices per slot: the models, plus skip when it is allowed (ln of it = the uniform entropy)."""
        return self.n_models + int(self.selector.config.allow_skip)

    def choose(self, logits: torch.Tensor, temperature: float | None = None,
               generator: torch.Generator | None = None) -> Choice:
        """Sample at `temperature` (training) or take the argmax (None: inference)."""
        picks = argmax(logits) if temperature is None else sample(logits, temperature, generator)
        return Choice(logits, keep_one_answering(picks, logits, self.answering))

    def assignments(self, choice: Choice) -> dict[str, dict]:
        return to_assignments(choice.picks, [r.name for r in self.roles], self.pool.names)

    def active(self, choice: Choice) -> list[int]:
        """Roles whose synthesiser did not pick skip (the supernodes that run)."""
        return [i for i in range(len(self.roles)) if int(choice.picks[i, -1]) != self.n_models]

    @torch.no_grad()
    def greedy(self, question: str) -> Choice:
        self.selector.eval()
        return self.choose(self.logits([question])[0])
