"""Append-only JSONL files (eval results, traces, training logs and labels): the one module for them.

One line per record, written as it lands. The one torn-line rule: a killed
writer can only tear the line it was writing, so a line that is not a record
is skipped on read (and counted in `bad_lines`), and the next append first
ends it with a newline (the new record starts clean). For results, the latest
record of an id wins (errored items are redone on resume and their new record
appended), and every record carries `item_sha`, a hash of the item it answers,
so a resumed run can tell an edited item from a finished one.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any, Iterable, Iterator

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


def _line(record: dict[str, Any]) -> str:
    # default=float: numpy / torch scalars in training logs
    return json.dumps(record, ensure_ascii=False, default=float) + "\n"


class JsonlFile:
    """One append-only JSONL file of dict records."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.bad_lines = 0  # lines skipped by the last read: torn by a kill, or not a record

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

    def is_record(self, rec: Any) -> bool:
        return isinstance(rec, dict)

    def records(self) -> Iterator[dict[str, Any]]:
        """Records in file order; a line that is not a record is skipped (and counted in `bad_lines`)."""
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
                if not self.is_record(rec):
                    self.bad_lines += 1
                    continue
                yield rec

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


class ResultsFile(JsonlFile):
    """Per-item records: a line counts only as a JSON object with a string "id" (its item is otherwise
    simply not finished)."""

    def is_record(self, rec: Any) -> bool:
        return isinstance(rec, dict) and isinstance(rec.get("id"), str)


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Every complete record (torn lines skipped)."""
    return list(JsonlFile(path).records())


def append_jsonl(path: str | Path, record: dict[str, Any]) -> None:
    JsonlFile(path).append(record)


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> None:
    JsonlFile(path).rewrite(records)
