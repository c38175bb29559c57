"""The texts HieraMAS embeds, and what it needs to know about a pool.

Kept in one place so training and inference embed exactly the same strings.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ...agents.prompts import Role
from ...agents.runtime import PoolLike, get_lm, pool_names
from .embed import Embedder


def slot_row_text(question: str, role: Role) -> str:
    """One row of the selector (shared by all slots of a role; the slot is a learned embedding)."""
    return f"Task: {question.strip()}\nRole: {role.name}. {role.description}"


def role_text(role: Role) -> str:
    return f"{role.name}: {role.description}"


def query_text(question: str) -> str:
    return f"Task: {question.strip()}"


@dataclass(frozen=True)
class PoolInfo:
    """The pool as the selector sees it: model names (column order), prices, profiles."""

    names: tuple[str, ...]
    input_per_m: tuple[float, ...]
    output_per_m: tuple[float, ...]
    profiles: tuple[str, ...]

    @classmethod
    def of(cls, pool: PoolLike) -> "PoolInfo":
        names = pool_names(pool)
        lms = [get_lm(pool, n) for n in names]  # builds LM objects only; no engine loads
        return cls(
            tuple(names),
            tuple(lm.price.input_per_m for lm in lms),
            tuple(lm.price.output_per_m for lm in lms),
            tuple(lm.profile for lm in lms),
        )

    def column_texts(self) -> list[str]:
        # Name and price are in the text: two pool entries backed by the same weights
        # (same profile) must still be told apart, and the price is what they differ in.
        return [
            f"{n}: {p or 'a language model.'} Price: ${i:g} per 1M input tokens, ${o:g} per 1M output tokens."
            for n, p, i, o in zip(self.names, self.profiles, self.input_per_m, self.output_per_m)
        ]

    def column_features(self, embedder: Embedder) -> torch.Tensor:
        return embedder.embed(self.column_texts())

    def max_price_per_m(self) -> float:
        return max([0.0, *self.input_per_m, *self.output_per_m])

    def strongest(self) -> str:
        """The priciest model (a proxy for the strongest when prices track size, as in local pools)."""
        return max(zip(self.names, self.input_per_m, self.output_per_m), key=lambda t: t[1] + t[2])[0]
