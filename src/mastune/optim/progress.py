"""A rich progress bar that can be switched off (tests, logs)."""
from __future__ import annotations

import contextlib
from typing import Iterator


class _Quiet:
    def add_task(self, *a, **k) -> int:
        return 0

    def update(self, *a, **k) -> None:
        pass

    def advance(self, *a, **k) -> None:
        pass


@contextlib.contextmanager
def progress_bar(enabled: bool = True) -> Iterator:
    if not enabled:
        yield _Quiet()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[status]}")) as p:
        yield p
