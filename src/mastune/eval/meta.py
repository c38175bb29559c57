"""What a run records beside its results so it can be reproduced."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import subprocess
from pathlib import Path
from typing import Any

from .. import __version__
from ..redact import redact_url


def git_commit() -> dict[str, Any]:
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": "unknown", "dirty": None}
    if sha.returncode != 0:
        return {"commit": "unknown", "dirty": None}
    return {"commit": sha.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def model_files(pool: Any) -> dict[str, Any]:
    """Per pool model: the weights' hash (embedded) or endpoint identity (remote)."""
    from ..models.pull import verified_sha256
    from ..models.registry import resolve

    out: dict[str, Any] = {}
    config = getattr(pool, "config", None)
    for cfg in getattr(config, "models", []):
        if cfg.backend == "openai":
            # the endpoint identifies the model; a user:key@ in it does not belong in a run folder
            out[cfg.name] = {"backend": "openai", "base_url": redact_url(cfg.base_url), "model_id": cfg.model_id}
            continue
        if cfg.backend == "hf":
            out[cfg.name] = {"backend": "hf", "model": cfg.model, "adapter": cfg.adapter}
            continue
        if cfg.backend == "fake":
            out[cfg.name] = {"backend": "fake", "script": cfg.fake}
            continue
        builtin = resolve(cfg.model or cfg.name)
        if builtin is not None:
            sha = verified_sha256(builtin) or builtin.sha256
            out[cfg.name] = {"backend": "embedded", "file": builtin.filename, "sha256": sha}
        else:
            out[cfg.name] = {"backend": "embedded", "file": cfg.model}
    return out


# Recorded name -> file under the package. The names are what run folders already record (collab's
# prompts moved to systems/collab/ but keep their name, so older run folders still resume).
PROMPT_FILES = {"agents/prompts.yaml": "agents/prompts.yaml", "collab/prompts.yaml": "systems/collab/prompts.yaml"}


def prompts_fingerprint() -> dict[str, str]:
    """Hash of every prompt file: prompts are data, so editing one changes the experiment."""
    root = Path(__file__).resolve().parent.parent
    return {name: hashlib.sha256((root / rel).read_bytes()).hexdigest()[:16] for name, rel in PROMPT_FILES.items()}


def config_hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_metadata(config: dict[str, Any], pool: Any, split: dict[str, Any]) -> dict[str, Any]:
    return {
        "config": config,
        "config_hash": config_hash(config),
        "split": split,
        "models": model_files(pool),
        "prompts": prompts_fingerprint(),
        "git": git_commit(),
        "mastune_version": __version__,
        "python": platform.python_version(),
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
