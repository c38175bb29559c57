"""Graders: did a reply get an example right?

`Grade.parsed` False means no answer could be found ("unparsed"), which is
reported apart from a parsed but wrong answer.
"""
from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import re
import select
import subprocess
import sys
import threading
import time
from decimal import Decimal, InvalidOperation
from itertools import product
from typing import Any

from .base import Example, Grade, GradingError
from .code import grade_code
from .extract import extract_choice, extract_math, hedge, normalize_number

__all__ = ["Grade", "agrade", "answers_match", "grade", "grade_math", "grade_mcq", "math_verify_equal"]


def grade(example: Example, reply: str) -> Grade:
    """Grade one reply. Code tasks run in the sandbox; prefer `agrade` there.

    Whatever the reply holds, it ends as a Grade: a reply the grader cannot read
    is a wrong answer with the reason in `detail`, never an exception that ends
    an evaluation or a training step (GradingError stays for faults of grading)."""
    if example.family in ("math", "mcq"):
        return _guarded(grade_math if example.family == "math" else grade_mcq, example, reply)
    if example.family == "code":
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(grade_code(example, reply))
        raise RuntimeError("grade() of a code task inside a running event loop: use `await agrade(...)`")
    raise ValueError(f"unknown task family {example.family!r}")


async def agrade(example: Example, reply: str, **code_options: Any) -> Grade:
    """Async grade: nothing runs on the event loop. Code runs in the sandbox; math and
    mcq replies are graded in a worker thread (a huge reply or a slow math-verify
    comparison must not stall every other item in flight)."""
    if example.family == "code":
        return await grade_code(example, reply, **code_options)
    return await asyncio.to_thread(grade, example, reply)


def _guarded(fn: Any, example: Example, reply: Any) -> Grade:
    if not isinstance(reply, str):
        return Grade(False, False, None, "none", f"the reply is not text ({type(reply).__name__})")
    try:
        return fn(example, reply)
    except GradingError:
        raise
    except (ValueError, TypeError, ArithmeticError, RecursionError, MemoryError, IndexError, KeyError) as e:
        # a reply no grader rule foresaw: wrong, with the reason, rather than a crash
        return Grade(False, False, None, "none", f"the reply could not be graded ({type(e).__name__}: {str(e)[:200]})")


# ---------------------------------------------------------------- mcq


def grade_mcq(example: Example, reply: str) -> Grade:
    ext = extract_choice(reply, example.meta.get("choices"))
    if not ext.parsed:
        return Grade(False, False, None, ext.method, "no option letter found")
    return Grade(ext.value == example.answer.strip().upper(), True, ext.value, ext.method)


# ---------------------------------------------------------------- math


def grade_math(example: Example, reply: str) -> Grade:
    ext = extract_math(reply)
    if not ext.parsed:
        return Grade(False, False, None, ext.method, "no answer found")
    ok, how = answers_match(example.answer, ext.value or "")
    return Grade(ok, True, ext.value, ext.method, how)


def answers_match(gold: str, pred: str) -> tuple[bool, str]:
    """(equal?, which check decided). Numbers first, then strings, then math-verify.

    A negated, hedged or relational answer ("not 18", "\\geq 18", "about 18", "18 \\le x")
    never equals a gold answer that is a plain value (an interval or set gold answer may
    still be met by inequalities: math-verify decides those)."""
    said = hedge(pred)
    if said and not hedge(gold) and not (_SET_LIKE_RE.search(gold) and _RELATION_ONLY_RE.fullmatch(said)):
        return False, f"hedged: {said!r} around the answer does not state it"
    g, p = normalize_number(gold), normalize_number(pred)
    if g is not None and p is not None:
        return _numbers_equal(g, p), "numeric"
    if _norm_latex(gold) == _norm_latex(pred):
        return True, "string"
    verdict, why = math_verify_verdict(gold, pred)
    if verdict is None:
        return False, f"string (math-verify gave no verdict: {why})"
    return verdict, "math-verify"


_SET_LIKE_RE = re.compile(r"\\infty|\\cup|\\cap|\\in\b|^\s*[\[(].*,.*[\])]\s*$")
_RELATION_ONLY_RE = re.compile(r"\\(?:geq?|leq?|geqslant|leqslant|gt|lt)|>=|<=|[<>≤≥]")


def _numbers_equal(g: str, p: str) -> bool:
    """Within 1e-6, compared as decimals: exact for numbers of any length (floats would make
    two different 400-digit numbers both inf, and int() refuses past 4300 digits)."""
    try:
        return abs(Decimal(g) - Decimal(p)) <= Decimal("1e-6")
    except (InvalidOperation, ValueError):
        return g == p


_LATEX_DROP = ("\\left", "\\right", "\\!", "\\,", "\\;", "\\:", "\\ ", "$", "\\displaystyle")
_TEXT_RE = re.compile(r"\\text\{([^{}]*)\}")


def _norm_latex(s: str) -> str:
    s = s.strip()
    for tok in _LATEX_DROP:
        s = s.replace(tok, "")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = re.sub(r"\^\{?\\circ\}?", "", s)
    s = s.replace("\\%", "").replace("%", "")
    s = _TEXT_RE.sub(lambda m: m.group(1).strip(), s)
    s = re.sub(r"\s+", "", s)
    return s.rstrip(".")


# Inputs that can make sympy run for minutes (huge powers, factorials of anything but a
# small number, binomials, Gamma). Only used where no worker process can be started: then
# math-verify runs in this thread without a time limit, so such inputs are refused.
_RISKY_RE = re.compile(r"\^\s*\{?\s*-?\d{4,}|\d{3,}\s*!|[)}\]]\s*!|!\s*!|\^\s*\{[^{}]*\^|\\binom|\\[dt]binom"
                       r"|\\Gamma|\\operatorname|\\prod|\\sum|factorial|\^\s*\(")
_MAX_VERIFY_CHARS = 400
# Wall-clock limit of one verdict in a worker process (math-verify's own limits are 5 s for
# parsing and 5 s, then 20 s, per comparison); past it the worker is killed.
VERIFY_HARD_LIMIT_S = 60.0
_VERIFY_WORKERS = 4


def math_verify_equal(gold: str, pred: str) -> bool | None:
    """math-verify's verdict, or None when it gave none (see `math_verify_verdict` for why)."""
    return math_verify_verdict(gold, pred)[0]


def math_verify_verdict(gold: str, pred: str) -> tuple[bool | None, str]:
    """(math-verify's verdict or None, why there is none).

    In the main thread math-verify's own signal-based timeouts apply. Off it
    (worker threads, Ray actors, `agrade`) signals are unavailable, so the
    comparison runs in a worker process, in its main thread, and the worker
    is killed past VERIFY_HARD_LIMIT_S: no input can hold a thread for longer.
    """
    try:
        import math_verify  # noqa: F401
    except ImportError:
        return None, "not installed"
    if len(pred) > _MAX_VERIFY_CHARS:
        return None, f"answer longer than {_MAX_VERIFY_CHARS} characters"
    if threading.current_thread() is threading.main_thread():
        return _verdict_here(gold, pred, 5)
    got = _POOL.verdict(gold, pred, VERIFY_HARD_LIMIT_S)
    if got is not None:
        return got
    # no worker process could be started here: this thread, no time limit, risky inputs refused
    if _RISKY_RE.search(pred) or _RISKY_RE.search(gold):
        return None, "input could hang sympy off the main thread"
    return _verdict_here(gold, pred, None)


def _verdict_here(gold: str, pred: str, timeout: int | None) -> tuple[bool | None, str]:
    from math_verify import parse

    _quiet_math_verify()
    try:
        g = parse(_boxed(gold), parsing_timeout=timeout)
        p = parse(_boxed(pred), parsing_timeout=timeout)
        if not g or not p:
            return None, "could not parse " + ("the gold answer" if not g else "the answer")
        undecided = False
        for a, b in product(g, p):  # stop at the first match, as math-verify's own any() does
            verdict = _verify_pair(a, b, timeout)
            if verdict:
                return True, ""
            undecided |= verdict is None
    except Exception as e:  # math-verify is a heuristic checker; its failure is "no verdict"
        return None, f"{type(e).__name__}"
    if undecided:
        return None, f"comparison timed out (limits {timeout} s, then {(timeout or 0) * _RETRY_FACTOR} s)"
    return False, ""


class _Worker:
    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.buf = b""

    def ask(self, gold: str, pred: str, limit_s: float) -> tuple[bool | None, str] | None:
        """The verdict, or None when the worker passed the limit (it is then dead)."""
        self.proc.stdin.write((json.dumps({"gold": gold, "pred": pred}) + "\n").encode())
        self.proc.stdin.flush()
        fd, deadline = self.proc.stdout.fileno(), time.monotonic() + limit_s
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                raise OSError("the math-verify worker exited")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        msg = json.loads(line)
        v = msg.get("v")
        return (v if isinstance(v, bool) else None), str(msg.get("why") or "")

    def kill(self) -> None:
        try:
            self.proc.kill()
        except OSError:
            pass
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


class _WorkerPool:
    """Up to _VERIFY_WORKERS math-verify processes shared by this process's threads."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._count = 0
        self._pid = os.getpid()
        self._broken = False

    def _start(self) -> _Worker | None:
        src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p))
        code = "import sys; from mastune.tasks.grade import _verify_worker_main as m; m(int(sys.argv[1]))"
        try:
            proc = subprocess.Popen([sys.executable, "-c", code, str(os.getpid())], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                                    start_new_session=True)
        except OSError:
            return None
        return _Worker(proc)

    def verdict(self, gold: str, pred: str, limit_s: float) -> tuple[bool | None, str] | None:
        """The verdict from a worker process; None when none can be started here."""
        if self._pid != os.getpid():  # a forked child: the parent's workers (and lock) are not ours
            self.__init__()
        with self._cond:
            while not self._idle and self._count >= _VERIFY_WORKERS:
                self._cond.wait()
            worker = self._idle.pop() if self._idle else None
            if worker is None:
                if self._broken:
                    return None
                self._count += 1
        if worker is None:
            worker = self._start()
            if worker is None:
                with self._cond:
                    self._count -= 1
                    self._broken = True
                    self._cond.notify()
                return None
        keep = False
        try:
            got = worker.ask(gold, pred, limit_s)
            keep = got is not None
            return got if keep else (None, f"math-verify took over {limit_s:.0f} s (stopped)")
        except (OSError, ValueError) as e:
            return None, f"math-verify worker failed ({type(e).__name__})"
        finally:
            if not keep:
                worker.kill()
            with self._cond:
                if keep:
                    self._idle.append(worker)
                else:
                    self._count -= 1
                self._cond.notify()

    def close(self) -> None:
        with self._cond:
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for w in idle:
            w.kill()


_POOL = _WorkerPool()
atexit.register(_POOL.close)


def _verify_worker_main(parent: int) -> None:
    """A math-verify worker process: one JSON request per line on stdin, one verdict per line
    out. math-verify runs in this process's main thread, so its own timeouts apply."""
    try:
        import ctypes
        import resource
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: die with the library
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = 4 << 30  # an exploding sympy integer fails here, not in the host's memory
        if hard == resource.RLIM_INFINITY or hard > cap:
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (OSError, AttributeError, ValueError):
        pass
    if os.getppid() != parent:
        return
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # anything math-verify or sympy prints stays off the answer channel
    for line in sys.stdin:
        try:
            req = json.loads(line)
            v, why = _verdict_here(str(req["gold"]), str(req["pred"]), 5)
        except Exception as e:  # noqa: BLE001 - any failure is "no verdict"
            v, why = None, type(e).__name__
        out.write(json.dumps({"v": v, "why": why}) + "\n")
        out.flush()


# math-verify's timeout is wall-clock (SIGALRM), and its own verify() scores a timed-out
# comparison False: with engines busy on every core a right answer can time out, and a
# grade is a reward. So a timeout is retried once with a longer limit, then is no verdict.
_RETRY_FACTOR = 4


def _verify_pair(gold: Any, pred: Any, timeout: int | None) -> bool | None:
    from math_verify import verify
    from math_verify.errors import TimeoutException

    for limit in (timeout, timeout * _RETRY_FACTOR) if timeout else (None,):
        try:
            return bool(verify(gold, pred, timeout_seconds=limit, raise_on_error=True))
        except TimeoutException:
            continue
        except Exception:  # math-verify's own lenient rule: a pair it cannot compare is unequal
            return False
    return None


def _boxed(s: str) -> str:
    s = s.strip()
    return s if "\\boxed" in s else "\\boxed{" + s + "}"


class _DropTimeoutWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Timeout is disabled" not in record.getMessage()


_quiet_done = False


def _quiet_math_verify() -> None:
    # math-verify warns once when its timeout is off; we handle that on purpose.
    global _quiet_done
    if not _quiet_done:
        logging.getLogger("math_verify.parser").addFilter(_DropTimeoutWarning())
        logging.getLogger("math_verify.grader").addFilter(_DropTimeoutWarning())
        _quiet_done = True
