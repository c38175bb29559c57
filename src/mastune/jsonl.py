"""Append-only JSONL results: one line per finished item, written as it lands.

A killed run loses at most the line being written; a torn last line is
ignored on read, and the latest record of an id wins (errored items are
redone on resume and their new record appended).
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Iterator


class ResultsFile:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self._repair_tail()
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())

    def _repair_tail(self) -> None:
        """If a kill tore the last line, end it so the next record starts clean."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with open(self.path, "rb+") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")

    def records(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line torn by a kill

    def latest(self) -> dict[str, dict[str, Any]]:
        """The last record of each item id."""
        out: dict[str, dict[str, Any]] = {}
        for rec in self.records():
            out[rec["id"]] = rec
        return out
