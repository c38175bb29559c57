"""Versioned checkpoints: weights plus what they are only valid for.

A checkpoint records its format version, its kind (selector | classifier),
the pool's model names (the selector's columns), the task family and role
names (rows / graph nodes), and the embedding model. Loading checks each
against what the caller has and fails with a message naming every mismatch
(the public release silently loaded an untrained selector through a wrong key).
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from ...errors import ConfigError

FORMAT_VERSION = 1
KINDS = ("selector", "classifier")


class CheckpointError(ConfigError):
    """A checkpoint is missing, of another format, or made for another pool/task/embedder."""


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


def atomic_save(obj: Any, path: str | Path) -> None:
    """Write then rename: a kill mid-write never leaves a truncated file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def weights_digest(module: torch.nn.Module) -> str:
    """Hash of a module's weights (names, dtypes, shapes, values), independent of how they were saved:
    an eval run records it so a resume after retraining cannot mix two models' answers."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()[:16]


def save_checkpoint(path: str | Path, state_dict: dict[str, torch.Tensor], meta: CheckpointMeta) -> None:
    if meta.kind not in KINDS:
        raise ValueError(f"checkpoint kind must be one of {KINDS}, got {meta.kind!r}")
    atomic_save({"meta": asdict(meta), "state_dict": state_dict}, path)


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
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no {kind} checkpoint at {path}; train it first (mastune train hieramas ...)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{path} is not a readable mastune checkpoint: {e}") from None
    if not isinstance(blob, dict) or "meta" not in blob or "state_dict" not in blob:
        raise CheckpointError(f"{path} is not a mastune HieraMAS checkpoint (no meta/state_dict)")
    raw = blob["meta"]
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version}, this mastune reads version {FORMAT_VERSION}; retrain it"
        )
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
    return blob["state_dict"], meta
