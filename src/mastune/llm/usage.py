"""Usage tracking as a context manager.

Trackers live in a ContextVar, so asyncio tasks and threads started inside a
`with track_usage()` block report into it, and sibling tasks that open their
own tracker (e.g. one per graph node) see only their own calls. Nothing is a
process-wide counter.
"""
from __future__ import annotations

import contextlib
import threading
from contextvars import ContextVar
from typing import Iterator

from .types import Usage

_active: ContextVar[tuple["UsageTracker", ...]] = ContextVar("mastune_usage_trackers", default=())


class UsageTracker:
    def __init__(self) -> None:
        self._records: list[Usage] = []
        self._lock = threading.Lock()  # backends may report from worker threads

    def add(self, usage: Usage) -> None:
        with self._lock:
            self._records.append(usage)

    @property
    def records(self) -> list[Usage]:
        with self._lock:
            return list(self._records)

    @property
    def total(self) -> Usage:
        return sum(self.records, Usage())

    def by_model(self) -> dict[str, Usage]:
        out: dict[str, Usage] = {}
        for u in self.records:
            out[u.model] = out.get(u.model, Usage()) + u
        return out


@contextlib.contextmanager
def track_usage() -> Iterator[UsageTracker]:
    tracker = UsageTracker()
    token = _active.set(_active.get() + (tracker,))
    try:
        yield tracker
    finally:
        _active.reset(token)


def record_usage(usage: Usage) -> None:
    """Report one call's usage to every tracker open in the current context."""
    for tracker in _active.get():
        tracker.add(usage)
