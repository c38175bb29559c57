"""What every optimiser's run folder shares.

    OUT/config.json   the optimiser's config, the pool, every commit the run was trained at
    OUT/.lock         one writer at a time (io.writer_lock)
    OUT/<stage>/state.pt, log.jsonl ...   resume state (atomic) and JSONL logs (jsonl.py)

A killed run resumes from its folder; a folder made with other settings is
refused by the optimiser (it knows which settings matter) with a message
naming them.
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Iterator

from ..eval.meta import git_commit as _git
from ..io import writer_lock
from ..jsonl import JsonlFile

CONFIG_FILE = "config.json"


def git_commit() -> str | None:
    """The checkout's commit, None when unknown (not a git checkout, no git)."""
    commit = _git()["commit"]
    return None if commit == "unknown" else commit


class RunFolder:
    def __init__(self, out: str | Path) -> None:
        self.path = Path(out)

    @contextlib.contextmanager
    def lock(self) -> Iterator["RunFolder"]:
        with writer_lock(self.path):  # creates the folder
            yield self

    # ---- config.json -----------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    def saved(self) -> dict[str, Any]:
        return json.loads(self.config_path.read_text()) if self.config_path.is_file() else {}

    def commits(self, now: str | None) -> list[str | None]:
        """Every commit the run was trained at, oldest first: a resume must not erase where it began."""
        saved = self.saved()
        seen = saved.get("git_commits") or ([saved["git_commit"]] if "git_commit" in saved else [])
        return seen if seen and seen[-1] == now else [*seen, now]

    def save_config(self, config: dict[str, Any], **extra: Any) -> None:
        """config.json: the config, `extra` (pool, ...) and the commits so far (this one appended)."""
        self.path.mkdir(parents=True, exist_ok=True)
        payload = {"config": config, **extra}
        payload.setdefault("git_commits", self.commits(git_commit()))
        self.config_path.write_text(json.dumps(payload, indent=2, default=str))

    def note_runner(self, runner: Any) -> None:
        """Record in config.json the runner this session's episodes run on (rollout.record)."""
        from ..rollout.record import note_runner, write_json

        saved = self.saved()
        if saved:
            noted = note_runner(saved, runner)
            if noted != saved:
                write_json(self.config_path, noted)

    # ---- logs and state ----------------------------------------------------------
    def log(self, name: str) -> JsonlFile:
        """A JSONL log under the folder (e.g. "stage1/log.jsonl")."""
        return JsonlFile(self.path / name)

    def save_state(self, name: str, state: dict[str, Any]) -> None:
        """Resume state, written atomically (a kill leaves the previous state)."""
        from .checkpoint import atomic_save

        atomic_save(state, self.path / name)

    def load_state(self, name: str) -> dict[str, Any] | None:
        path = self.path / name
        if not path.is_file():
            return None
        import torch

        return torch.load(path, map_location="cpu", weights_only=True)
