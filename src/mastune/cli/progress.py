"""Live progress of one `mastune run`: which nodes are waiting on a model, calls done, tokens so far.

A multi-agent run makes many calls and may sit a minute before its answer; this says what it is
doing. On a terminal it is one status line redrawn in place; elsewhere (a pipe, a log) one line per
finished call. Both go to stderr, so the answer on stdout stays clean.
"""
from __future__ import annotations

import sys
import threading
import time
from types import FrameType
from typing import Any

from rich.status import Status

from ..agents.runtime import Runtime
from ..llm.pool import Pool

# Runtime.call is the one place a system calls an LM (agents/runtime.py). Its frame, found below the
# LM's chat, names the node and slot, so the progress can say which node waits without a hook there.
_RUNTIME_CALL = Runtime.call.__code__
_MAX_DEPTH = 12
_PLAIN_SLOTS = ("", "main", "agent", "decision")  # a node's only call: the node's name says it


def caller_node(frame: FrameType | None) -> str | None:
    """The node (and slot, if any) of the Runtime.call that is awaiting this call, if there is one."""
    for _ in range(_MAX_DEPTH):
        if frame is None:
            return None
        if frame.f_code is _RUNTIME_CALL:
            node, slot = frame.f_locals.get("node_id"), frame.f_locals.get("slot")
            return f"{node}/{slot}" if slot and slot not in _PLAIN_SLOTS else str(node)
        frame = frame.f_back
    return None


class CallWatch:
    """Counts the calls of a run as they start and finish; prints what is going on."""

    def __init__(self, console: Any, label: str, *, lines: bool = True) -> None:
        """lines: off a terminal, print a line per finished call (a one-call run has nothing to add)."""
        self.console = console
        self.label = label
        self.lines = lines
        self.running: dict[int, str] = {}  # call id -> what it is (node and model)
        self.calls = self.tokens = 0
        self.t0 = time.monotonic()
        self._lock = threading.Lock()
        self._next = 0
        self.live = console.is_terminal
        self._status: Status | None = None

    # -- events -------------------------------------------------------------------------------------
    def started(self, what: str) -> int:
        with self._lock:
            self._next += 1
            self.running[self._next] = what
            self._refresh()
            return self._next

    def finished(self, call: int, tokens: int) -> None:
        with self._lock:
            what = self.running.pop(call, "?")
            self.calls += 1
            self.tokens += tokens
            if self.live:
                self._refresh()
            elif self.lines:
                waiting = ", ".join(sorted(set(self.running.values())))
                line = (f"[{self.label}] {what} done ({tokens} tok); {self.calls} call(s), {self.tokens} tokens, "
                        f"{time.monotonic() - self.t0:.0f} s" + (f"; running: {waiting}" if waiting else ""))
                self.console.print(line, highlight=False, markup=False, soft_wrap=True)

    def _text(self) -> str:
        waiting = ", ".join(sorted(set(self.running.values()))) or "-"
        return (f"{self.label}: running {waiting} | {self.calls} call(s) done, {self.tokens} tokens, "
                f"{time.monotonic() - self.t0:.0f} s")

    def _refresh(self) -> None:
        if self._status is not None:
            self._status.update(self._text())

    # -- display ------------------------------------------------------------------------------------
    def __enter__(self) -> "CallWatch":
        if self.live:
            self._status = Status(self._text(), console=self.console, refresh_per_second=4)
            self._status.start()
            self._ticker = threading.Thread(target=self._tick, daemon=True)  # the seconds move while waiting
            self._ticker.start()
        return self

    def _tick(self) -> None:
        while self._status is not None:
            with self._lock:
                self._refresh()
            time.sleep(1.0)

    def __exit__(self, *exc: Any) -> None:
        status, self._status = self._status, None
        if status is not None:
            status.stop()


class WatchedPool(Pool):
    """The same pool, whose models report each call's start and end to a CallWatch."""

    def __init__(self, pool: Pool, watch: CallWatch) -> None:
        super().__init__(pool.config)
        self.watch = watch

    def __getitem__(self, name: str) -> Any:
        lm = super().__getitem__(name)
        if not getattr(lm, "_watched", False):
            lm.chat = _watched_chat(lm, lm.chat, self.watch)  # this pool's own LM object: nothing shared
            lm._watched = True
        return lm


def _watched_chat(lm: Any, chat: Any, watch: CallWatch) -> Any:
    async def watched(*args: Any, **kwargs: Any) -> Any:
        node = caller_node(sys._getframe(1))
        call = watch.started(f"{node} ({lm.name})" if node else lm.name)
        tokens = 0
        try:
            out = await chat(*args, **kwargs)
            tokens = out.usage.prompt_tokens + out.usage.completion_tokens
            return out
        finally:
            watch.finished(call, tokens)
    return watched
