"""Deterministic seeded train / valid / test splits.

The benchmark files only hold test sets, so optimisers need their own split.
Each example gets the key sha256(f"{seed}:{id}"); examples sorted by key are
cut at exact counts (round(n * cumulative fraction)). So the split depends
only on the set of ids and the seed: not on file order, machine, or Python
version (no `random`, no `hash()`). Within a split, dataset order is kept.

Default fractions: train 0.5, valid 0.1, test 0.4 — half the items for
optimisation, a small valid slice for model selection, and a test slice
large enough to report on.
"""
from __future__ import annotations

import hashlib
from typing import Iterable, Sequence

from .base import Example

DEFAULT_FRACTIONS: dict[str, float] = {"train": 0.5, "valid": 0.1, "test": 0.4}
SPLITS = ("train", "valid", "test")
_ALIASES = {"validation": "valid", "val": "valid", "dev": "valid"}


def _key(seed: int, ex_id: str) -> str:
    return hashlib.sha256(f"{seed}:{ex_id}".encode("utf-8")).hexdigest()


def _check_fractions(fractions: dict[str, float] | None) -> dict[str, float]:
    f = dict(DEFAULT_FRACTIONS if fractions is None else fractions)
    unknown = set(f) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown split names {sorted(unknown)}; use {SPLITS}")
    f = {s: float(f.get(s, 0.0)) for s in SPLITS}
    if any(v < 0 for v in f.values()) or abs(sum(f.values()) - 1.0) > 1e-9:
        raise ValueError(f"split fractions must be >= 0 and sum to 1, got {f}")
    return f


def assign_splits(ids: Iterable[str], seed: int = 0,
                  fractions: dict[str, float] | None = None) -> dict[str, str]:
    """Map every id to "train" / "valid" / "test"."""
    f = _check_fractions(fractions)
    ids = list(ids)
    if len(set(ids)) != len(ids):
        raise ValueError("example ids must be unique to split them")
    order = sorted(ids, key=lambda i: (_key(seed, i), i))
    n = len(order)
    out: dict[str, str] = {}
    start, cum = 0, 0.0
    for s in SPLITS:
        cum += f[s]
        end = n if s == SPLITS[-1] else int(n * cum + 0.5)
        for i in order[start:end]:
            out[i] = s
        start = end
    return out


def normalize_split(split: str) -> str:
    s = _ALIASES.get(split.strip().lower(), split.strip().lower())
    if s not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {SPLITS} (or 'all')")
    return s


def split_examples(examples: Sequence[Example], split: str, seed: int = 0,
                   fractions: dict[str, float] | None = None) -> list[Example]:
    """The examples of one split, in their original order."""
    s = normalize_split(split)
    where = assign_splits((e.id for e in examples), seed, fractions)
    return [e for e in examples if where[e.id] == s]


def sample_examples(examples: Sequence[Example], n: int, seed: int = 0) -> list[Example]:
    """A seeded subset of n examples, kept in dataset order.

    `--limit` takes the first N, which on ordered sets (HumanEval) is the easy end;
    this draws across the whole split, by the same hash rule as the splits."""
    if n < 0:
        raise ValueError(f"sample size must be >= 0, got {n}")
    chosen = set(sorted((e.id for e in examples), key=lambda i: (_key(seed, f"sample:{i}"), i))[:n])
    return [e for e in examples if e.id in chosen]


def ids_sha256(ids: Iterable[str]) -> str:
    """Order-independent fingerprint of a set of ids."""
    return hashlib.sha256("\n".join(sorted(ids)).encode("utf-8")).hexdigest()


def split_manifest(examples: Sequence[Example], seed: int = 0, fractions: dict[str, float] | None = None,
                   task: str | None = None) -> dict:
    """Everything a run needs to record (and later verify) its split."""
    f = _check_fractions(fractions)
    where = assign_splits((e.id for e in examples), seed, f)
    splits = {}
    for s in SPLITS:
        ids = [e.id for e in examples if where[e.id] == s]
        splits[s] = {"n": len(ids), "sha256": ids_sha256(ids), "ids": ids}
    return {"task": task, "seed": seed, "fractions": f, "method": "sha256(seed:id) order, exact counts",
            "n": len(examples), "all_sha256": ids_sha256(e.id for e in examples), "splits": splits}
