"""Call code on many inputs in the sandbox and get its outputs back as plain data.

The library side of ``callrunner.py``. What comes back is, per call, a status
and (for "ok") a plain value decoded by :mod:`.plain`: builtin data only, so the
caller can compare it with anything without running code from the sandbox.

Why a program under test cannot forge these results: its code runs only in a
worker process that holds no fd of the result channel (the runner's stdout),
and the runner and the bootstrap processes are non-dumpable, so
``/proc/PID/fd`` and ptrace cannot reach them either. That leaves the library
process itself, which holds the read end: :func:`private_channel` says whether
the sandbox kept it out of reach (another unprivileged uid, or a user namespace
with a PID namespace and its own ``/proc``). Callers that turn results into
grades must check it.
"""
from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field
from typing import Any, Sequence

from . import plain
from .host import arun_python
from .limits import SandboxLimits, SandboxResult

_HERE = os.path.dirname(os.path.abspath(__file__))
CALL_STATUSES = ("ok", "raised", "invalid", "timeout", "died", "not_run")


def _read(name: str) -> str:
    with open(os.path.join(_HERE, name), encoding="utf-8") as f:
        return f.read()


@dataclass(frozen=True)
class CallOutcome:
    status: str  # one of CALL_STATUSES
    value: Any = None  # the plain output when status == "ok"
    error: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class CallsResult:
    defined: bool
    define_error: str
    calls: list[CallOutcome]
    output_bytes: int  # what the code printed itself (stdout + stderr), never graded
    output_head: str  # its first bytes, for messages
    stopped: str | None  # why the runner stopped early: timeout/died/invalid/undefined/budget
    complete: bool  # the runner wrote its final line
    sandbox: SandboxResult = field(repr=False)

    @property
    def problem(self) -> str:
        """Why results are missing, in words; "" when the runner finished."""
        if self.complete:
            return ""
        sb = self.sandbox
        if sb.status == "timeout":
            return "the whole run timed out"
        if sb.status == "output_limit":
            return "its results were over the size limit"
        if sb.status == "memory":
            return "memory limit exceeded"
        return f"the sandbox run ended ({sb.status}, rc={sb.returncode}) without results: {sb.stderr.strip()[-300:]}"


def private_channel(isolation: Sequence[str]) -> bool:
    """True when code in the sandbox could not reach the library's end of the result pipe
    (nor the library's files or memory): it ran as another, unprivileged uid, or
    unprivileged in a user namespace with its own PID namespace and ``/proc``.
    Root without a privilege drop never qualifies: root can undo any mask."""
    iso = set(isolation)
    return "uid" in iso or {"userns", "pidns", "procfs"} <= iso


def outs_has(outs: list, i: Any) -> bool:
    return type(i) is int and 0 <= i < len(outs) and outs[i] is not None


def _tampered(n: int, sandbox: SandboxResult) -> CallsResult:
    return CallsResult(False, "the result channel was written by something other than the runner",
                       [CallOutcome("not_run")] * n, 0, "", "tampered", True, sandbox)


def _parse(stdout: str, n: int, sandbox: SandboxResult) -> CallsResult:
    defined, define_error, complete = False, "", False
    outs: list[CallOutcome | None] = [None] * n
    stopped, out_bytes, head = None, 0, ""
    seen_defined = False
    for line in stdout.splitlines():
        try:
            m = json.loads(line)
        except ValueError:
            break  # a line cut by a kill: nothing after it is complete either
        if not isinstance(m, dict):
            break
        k = m.get("k")
        if complete or (k == "defined" and seen_defined) or (k == "call" and outs_has(outs, m.get("i"))):
            # The runner writes each line once and nothing after "end": someone else wrote here.
            return _tampered(n, sandbox)
        if k == "defined":
            seen_defined = True
            defined, define_error = m.get("ok") is True, str(m.get("error") or "")
        elif k == "call" and isinstance(m.get("i"), int) and 0 <= m["i"] < n:
            status = m.get("status")
            if status not in CALL_STATUSES:
                status = "invalid"
            value, error = None, str(m.get("error") or "")
            if status == "ok":
                try:
                    value = plain.from_tree(m.get("v"))
                except (ValueError, RecursionError) as e:
                    status, error = "invalid", str(e)
            outs[m["i"]] = CallOutcome(status, value, error, float(m.get("t") or 0.0))
        elif k == "end":
            complete = True
            stopped = m.get("stopped") if isinstance(m.get("stopped"), str) else None
            out_bytes = int(m.get("output_bytes") or 0)
            head = str(m.get("output_head") or "")
    calls = [o if o is not None else CallOutcome("not_run") for o in outs]
    return CallsResult(defined, define_error, calls, out_bytes, head, stopped, complete, sandbox)


async def arun_calls(
    sources: Sequence[tuple[str, str, bool]],
    calls: Sequence[dict],
    *,
    entry_point: str | None,
    call_timeouts: Sequence[float],
    define_timeout_s: float,
    limits: SandboxLimits,
    transform: str | None = None,
    project: str | None = None,
    keep_output_bytes: int = 4096,
    hide: Sequence[str] = (),
    restart: bool = False,
) -> CallsResult:
    """Define ``sources`` ((file name, text, required) in order) and run each call.

    A call is {"args": [...]} (``entry_point(*args)``), {"eval": "expr"} or
    {"exec": "statements"} (output None). ``limits.timeout_s`` bounds the whole
    run; the runner stops a little before it so its last lines get out.
    ``restart``: after a call that times out or kills the process, go on with
    the next call in a fresh process (default: stop there)."""
    if len(call_timeouts) != len(calls):
        raise ValueError("one timeout per call is needed")
    files: dict[str, str | bytes] = {"mastune_plain.py": _read("plain.py")}
    names = []
    for i, (name, text, required) in enumerate(sources):
        fname = f"src{i}_{os.path.basename(name)}"
        files[fname] = text
        names.append([fname, bool(required)])
    cfg = {"sources": names, "entry_point": entry_point, "calls": list(calls), "transform": transform,
           "project": project, "call_timeouts": [float(t) for t in call_timeouts],
           "define_timeout_s": float(define_timeout_s), "budget_s": max(0.5, limits.timeout_s - 1.5),
           "keep_output_bytes": keep_output_bytes, "restart": restart}
    files["calls.json"] = await asyncio.to_thread(json.dumps, cfg)
    res = await arun_python(_read("callrunner.py"), files=files, limits=limits, hide=hide)
    # decoding up to RESULT_BYTES of outputs takes seconds: not on the event loop
    return await asyncio.to_thread(_parse, res.stdout, len(calls), res)
