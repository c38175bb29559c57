"""How a run was produced, for its meta.json / config.json: which runner, how many workers, where.

    meta["runner"] = runner_info(runner)                      # {"kind": "ray", "workers": 2, "address": ...}
    meta["runners"] = runner_history(meta.get("runners"), meta["runner"])

`runner` is the runner of the latest session; `runners` lists every distinct
runner the folder was (re)run with, oldest first, so a run resumed on Ray after
starting locally says so. A Ray address is written redacted (`mastune.redact`):
a `ray://user:key@head` keeps its host, never its secret.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..redact import redact


def runner_info(runner: Any) -> dict[str, Any]:
    """The runner's own description (`describe()`), or a plain local runner's when it has none."""
    describe = getattr(runner, "describe", None)
    info = describe() if callable(describe) else {"kind": "local"}
    if info.get("address") is not None:
        info = {**info, "address": redact(str(info["address"]))}
    return info


def runner_history(saved: list[dict[str, Any]] | None, now: dict[str, Any]) -> list[dict[str, Any]]:
    """Every runner the run used, oldest first; `now` appended unless it is the latest already."""
    seen = [dict(r) for r in (saved or []) if isinstance(r, dict)]
    return seen if seen and seen[-1] == now else [*seen, now]


def runner_fields(saved: dict[str, Any], runner: Any) -> dict[str, Any]:
    """{"runner": this session's, "runners": the history}, given what the folder recorded so far."""
    info = runner_info(runner)
    return {"runner": info, "runners": runner_history(saved.get("runners"), info)}


def note_runner(meta: dict[str, Any], runner: Any) -> dict[str, Any]:
    """`meta` with `runner` (this session's) and `runners` (the history) set."""
    return {**meta, **runner_fields(meta, runner)}


def write_json(path: str | Path, data: Any) -> None:
    """JSON written atomically (a kill leaves the old file or the new one, never half of one)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)
