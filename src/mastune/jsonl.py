"""Append-only JSONL files (eval results, traces, training logs and labels): the one module for them.

One line per record, written as it lands. The one torn-line rule: a killed
writer can only tear the line it was writing, so a line that does not parse
is skipped on read, and the next append first ends it with a newline (the new
record starts clean). For results, the latest record of an id wins (errored
items are redone on resume and their new record appended).
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Iterable, Iterator


def _line(record: dict[str, Any]) -> str:
    # default=float: numpy / torch scalars in training logs
    return json.dumps(record, ensure_ascii=False, default=float) + "\n"


class ResultsFile:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> None:
        line = _line(record)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
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

    def latest(self, key: str = "id") -> dict[str, dict[str, Any]]:
        """The last record of each item id."""
        out: dict[str, dict[str, Any]] = {}
        for rec in self.records():
            out[rec[key]] = rec
        return out

    def rewrite(self, records: Iterable[dict[str, Any]]) -> None:
        """Replace the whole file (write then rename: a kill leaves the old one or the new one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text("".join(_line(r) for r in records), encoding="utf-8")
        os.replace(tmp, self.path)


JsonlFile = ResultsFile  # the same file, by the name training logs use


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Every complete record (torn lines skipped)."""
    return list(ResultsFile(path).records())


def append_jsonl(path: str | Path, record: dict[str, Any]) -> None:
    ResultsFile(path).append(record)


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> None:
    ResultsFile(path).rewrite(records)
