"""Versioned checkpoints: weights plus a format version and a kind, written atomically.

An optimiser adds what its weights are only valid for (HieraMAS: the pool's
model names, the roles, the embedder) to `meta` and checks it on load.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError


class CheckpointError(ConfigError):
    """A checkpoint is missing, of another format, or made for another setting."""


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


def save_versioned(path: str | Path, state_dict: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """`meta` must hold `format_version` and `kind`."""
    atomic_save({"meta": meta, "state_dict": state_dict}, path)


def load_versioned(path: str | Path, *, kind: str, version: int, what: str = "mastune",
                   train_hint: str = "train it first") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state_dict, raw meta) after checking the file exists, reads, and has this format version."""
    blob = read_checkpoint(path, kind=kind, what=what, train_hint=train_hint, payload="state_dict")
    check_format_version(path, blob["meta"], version)
    return blob["state_dict"], blob["meta"]


def read_checkpoint(path: str | Path, *, kind: str, what: str, train_hint: str, payload: str,
                    readable_as: str = "mastune") -> dict[str, Any]:
    """The checkpoint file as a dict with a `meta` dict and `payload`, or a CheckpointError saying what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no {kind} checkpoint at {path}; {train_hint}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{path} is not a readable {readable_as} checkpoint: {e}") from None
    if not isinstance(blob, dict) or not isinstance(blob.get("meta"), dict) or payload not in blob:
        raise CheckpointError(f"{path} is not a {what} checkpoint (no meta/{payload})")
    return blob


def check_format_version(path: str | Path, meta: dict[str, Any], version: int) -> None:
    found = meta.get("format_version")
    if found != version:
        raise CheckpointError(f"{path}: checkpoint format version {found}, this mastune reads version {version}; "
                              "retrain it")
