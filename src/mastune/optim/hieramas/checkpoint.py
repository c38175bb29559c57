"""Versioned checkpoints: weights plus what they are only valid for.

A checkpoint records its format version, its kind (selector | classifier),
the pool's model names (the selector's columns), the task family and role
names (rows / graph nodes), and the embedding model. Loading checks each
against what the caller has and fails with a message naming every mismatch
(the public release silently loaded an untrained selector through a wrong key).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from ..checkpoint import CheckpointError, atomic_save, load_versioned, save_versioned, weights_digest

FORMAT_VERSION = 1
KINDS = ("selector", "classifier")
SELECTOR_FILE, CLASSIFIER_FILE = "selector.pt", "classifier.pt"  # in the run folder
__all__ = ["CLASSIFIER_FILE", "FORMAT_VERSION", "KINDS", "SELECTOR_FILE", "CheckpointError", "CheckpointMeta", "atomic_save", "load_checkpoint",
           "save_checkpoint", "weights_digest"]


@dataclass
class CheckpointMeta:
    kind: str
    pool_models: list[str]
    family: str
    roles: list[str]
    embedding_model: str
    embedding_dim: int
    config: dict[str, Any] = field(default_factory=dict)  # hyper-parameters to rebuild the module
    info: dict[str, Any] = field(default_factory=dict)  # iteration, validation metrics, ...
    format_version: int = FORMAT_VERSION


def save_checkpoint(path: str | Path, state_dict: dict[str, torch.Tensor], meta: CheckpointMeta) -> None:
    if meta.kind not in KINDS:
        raise ValueError(f"checkpoint kind must be one of {KINDS}, got {meta.kind!r}")
    save_versioned(path, state_dict, asdict(meta))


def load_checkpoint(
    path: str | Path,
    *,
    kind: str,
    pool_models: Sequence[str] | None = None,
    family: str | None = None,
    roles: Sequence[str] | None = None,
    embedding_model: str | None = None,
) -> tuple[dict[str, torch.Tensor], CheckpointMeta]:
    """Load and check; every expectation left None is not checked."""
    state, raw = load_versioned(path, kind=kind, version=FORMAT_VERSION, what="mastune HieraMAS",
                                train_hint="train it first (mastune train hieramas ...)")
    meta = CheckpointMeta(**raw)
    problems = []
    if meta.kind != kind:
        problems.append(f"it is a {meta.kind} checkpoint, not a {kind} one")
    checks = [("pool models", pool_models, meta.pool_models), ("task family", family, meta.family),
              ("role names", roles, meta.roles), ("embedding model", embedding_model, meta.embedding_model)]
    for what, want, have in checks:
        if want is None:
            continue
        want = list(want) if isinstance(want, (list, tuple)) else want
        if want != have:
            problems.append(f"{what} differ: checkpoint has {have!r}, you have {want!r}")
    if problems:
        raise CheckpointError(f"checkpoint {path} does not match: " + "; ".join(problems)
                              + ". Use the pool, task and embedder it was trained with, or retrain.")
    return state, meta
