"""Append-only JSONL results: one line per finished item, written as it lands.

A killed run loses at most the line being written; a torn last line is
ignored on read, and the latest record of an id wins (errored items are
redone on resume and their new record appended). Every record carries
`item_sha`, a hash of the item it answers, so a resumed run can tell an
edited item from a finished one.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any, Iterator


# The meta fields that decide how an item is graded; descriptive ones (subject, level, solution
# text) stay out, so a loader that records one more description does not void finished runs.
GRADED_META = ("choices", "entry_point", "test", "test_kind", "base_input", "plus_input", "atol", "oracle",
               "input_transform", "reference")


def item_sha(example: Any) -> str:
    """Hash of what an item is: id, question, gold, family and the meta that grading reads."""
    meta = {k: example.meta[k] for k in GRADED_META if k in example.meta}
    body = {"id": example.id, "question": example.question, "answer": example.answer,
            "family": example.family, "meta": meta}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class ResultsFile:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.bad_lines = 0  # lines skipped by the last read: torn by a kill, or not a record

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
        """Records in file order; a line that is not a JSON object with a string "id" is skipped
        (and counted in `bad_lines`): its item is simply not finished."""
        self.bad_lines = 0
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    rec = None  # a line torn by a kill
                if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
                    self.bad_lines += 1
                    continue
                yield rec

    def latest(self) -> dict[str, dict[str, Any]]:
        """The last record of each item id."""
        out: dict[str, dict[str, Any]] = {}
        for rec in self.records():
            out[rec["id"]] = rec
        return out
