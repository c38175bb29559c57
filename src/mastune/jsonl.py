"""Append-only JSONL files (eval results, traces, training logs and labels): the one module for them.

One line per record, written as it lands. The one torn-line rule: a killed
writer can only tear the line it was writing, so a line that is not a record
is skipped on read (and counted in `bad_lines`), and the next append first
ends it with a newline (the new record starts clean). For results, the latest
record of an id wins (errored items are redone on resume and their new record
appended), and every record carries `item_sha`, a hash of the item it answers,
so a resumed run can tell an edited item from a finished one.

The files are opened without following links: a symlink (or a FIFO, or a
hard link) planted where a record file goes is refused, never written
through. A result record whose fields have the wrong types (a hand-edited
`"correct": "false"`, a string cost) is not a record: it is skipped like a torn
line, so it is neither counted nor able to crash a resume.
"""
from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import stat
import threading
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import ConfigError

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
    text = json.dumps(record, ensure_ascii=False, default=float)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (a reply can hold one): escaped, it is valid JSON again
        text = json.dumps(record, ensure_ascii=True, default=float)
    return text + "\n"


def open_no_follow(path: str | Path, flags: int, mode: int = 0o644) -> int:
    """os.open that refuses a symbolic link, and anything but a regular file with one name, at
    `path` (one planted in a shared folder would make us truncate or append to its target)."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, mode)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise ConfigError(f"{path} is a symbolic link; refusing to follow it (remove it)") from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
        os.close(fd)
        what = "has other hard links" if stat.S_ISREG(st.st_mode) else "is not a regular file"
        raise ConfigError(f"{path} {what}; refusing to use it (remove it)")
    return fd


class JsonlFile:
    """One append-only JSONL file of dict records."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.bad_lines = 0  # lines skipped by the last read: torn by a kill, or not a record

    def append(self, record: dict[str, Any]) -> None:
        data = _line(record).encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = open_no_follow(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data  # a kill tore the last line: end it, so this record starts clean
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)

    def is_record(self, rec: Any) -> bool:
        return isinstance(rec, dict)

    def records(self) -> Iterator[dict[str, Any]]:
        """Records in file order; a line that is not a record is skipped (and counted in `bad_lines`)."""
        self.bad_lines = 0
        try:
            fd = open_no_follow(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return
        with open(fd, encoding="utf-8", errors="replace") as f:
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
        try:
            os.unlink(tmp)  # a leftover (or a planted link) is removed, never written through
        except FileNotFoundError:
            pass
        fd = open_no_follow(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        with open(fd, "w", encoding="utf-8") as f:
            f.write("".join(_line(r) for r in records))
        os.replace(tmp, self.path)


class ResultsFile(JsonlFile):
    """Per-item records: a line counts only as a JSON object with a string "id" whose fields have
    their types (`valid_result`); its item is otherwise simply not finished."""

    def is_record(self, rec: Any) -> bool:
        return isinstance(rec, dict) and isinstance(rec.get("id"), str) and valid_result(rec)


_USAGE_NUMBERS = ("calls", "prompt_tokens", "completion_tokens", "latency_s", "cost", "cache_hits",
                  "prompt_evaluated", "prompt_cached", "draft_tokens", "draft_accepted")


def _count(v: Any) -> bool:
    """A number a result may hold: int or float (not bool), finite, not negative."""
    return type(v) in (int, float) and math.isfinite(v) and v >= 0


def valid_result(rec: dict[str, Any]) -> bool:
    """The fields a result record holds have their types (a field it lacks is not required:
    a record that does not say "correct" is never counted as right)."""
    status = rec.get("status")
    if status is not None and status not in ("ok", "error"):
        return False
    for key in ("correct", "parsed", "retryable"):
        if key in rec and type(rec[key]) is not bool:
            return False
    if "grade" in rec:
        g = rec["grade"]
        if not isinstance(g, dict) or type(g.get("correct")) is not bool or type(g.get("parsed", True)) is not bool:
            return False
    if "item_sha" in rec and not isinstance(rec["item_sha"], (str, type(None))):
        return False
    for key in ("calls", "wall_s"):
        if key in rec and not _count(rec[key]):
            return False
    if "usage" in rec:
        u = rec["usage"]
        if not isinstance(u, dict) or not all(_count(u[k]) for k in _USAGE_NUMBERS if k in u):
            return False
    if "flags" in rec and not (isinstance(rec["flags"], list) and all(isinstance(f, str) for f in rec["flags"])):
        return False
    return True


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Every complete record (torn lines skipped)."""
    return list(JsonlFile(path).records())


def append_jsonl(path: str | Path, record: dict[str, Any]) -> None:
    JsonlFile(path).append(record)


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> None:
    JsonlFile(path).rewrite(records)
