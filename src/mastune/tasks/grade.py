"""Graders: did a reply get an example right?

`Grade.parsed` False means no answer could be found ("unparsed"), which is
reported apart from a parsed but wrong answer.
"""
from __future__ import annotations

import asyncio
import logging
import math
import re
import threading
from itertools import product
from typing import Any

from .base import Example, Grade
from .code import grade_code
from .extract import extract_choice, extract_math, normalize_number

__all__ = ["Grade", "agrade", "answers_match", "grade", "grade_math", "grade_mcq", "math_verify_equal"]


def grade(example: Example, reply: str) -> Grade:
    """Grade one reply. Code tasks run in the sandbox; prefer `agrade` there."""
    if example.family == "math":
        return grade_math(example, reply)
    if example.family == "mcq":
        return grade_mcq(example, reply)
    if example.family == "code":
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(grade_code(example, reply))
        raise RuntimeError("grade() of a code task inside a running event loop: use `await agrade(...)`")
    raise ValueError(f"unknown task family {example.family!r}")


async def agrade(example: Example, reply: str, **code_options: Any) -> Grade:
    """Async grade: code runs in the sandbox without blocking the event loop."""
    if example.family == "code":
        return await grade_code(example, reply, **code_options)
    return grade(example, reply)


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
    """(equal?, which check decided). Numbers first, then strings, then math-verify."""
    g, p = normalize_number(gold), normalize_number(pred)
    if g is not None and p is not None:
        return math.isclose(float(g), float(p), rel_tol=0.0, abs_tol=1e-6), "numeric"
    if _norm_latex(gold) == _norm_latex(pred):
        return True, "string"
    verdict, why = math_verify_verdict(gold, pred)
    if verdict is None:
        return False, f"string (math-verify gave no verdict: {why})"
    return verdict, "math-verify"


_LATEX_DROP = ("\\left", "\\right", "\\!", "\\,", "\\;", "\\:", "\\ ", "$", "\\displaystyle")


def _norm_latex(s: str) -> str:
    s = s.strip()
    for tok in _LATEX_DROP:
        s = s.replace(tok, "")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = re.sub(r"\^\{?\\circ\}?", "", s)
    s = s.replace("\\%", "").replace("%", "")
    s = re.sub(r"\\text\{\s*([^{}]*?)\s*\}", r"\1", s)
    s = re.sub(r"\s+", "", s)
    return s.rstrip(".")


# Inputs that can make sympy run for minutes (huge powers / factorials). Off the
# main thread math-verify has no timeout (it relies on SIGALRM), so we skip it.
_RISKY_RE = re.compile(r"\^\s*\{?\s*-?\d{4,}|\d{4,}\s*!|!\s*!|\^\s*\{[^{}]*\^")
_MAX_VERIFY_CHARS = 400


def math_verify_equal(gold: str, pred: str) -> bool | None:
    """math-verify's verdict, or None when it gave none (see `math_verify_verdict` for why)."""
    return math_verify_verdict(gold, pred)[0]


def math_verify_verdict(gold: str, pred: str) -> tuple[bool | None, str]:
    """(math-verify's verdict or None, why there is none).

    In the main thread math-verify's own signal-based timeouts apply. In
    worker threads signals are unavailable, so timeouts are disabled and
    inputs that could make sympy hang are refused instead.
    """
    try:
        from math_verify import parse
    except ImportError:
        return None, "not installed"
    in_main = threading.current_thread() is threading.main_thread()
    if len(pred) > _MAX_VERIFY_CHARS:
        return None, f"answer longer than {_MAX_VERIFY_CHARS} characters"
    if not in_main and (_RISKY_RE.search(pred) or _RISKY_RE.search(gold)):
        return None, "input could hang sympy off the main thread"
    timeout = 5 if in_main else None
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
        return None, f"comparison timed out (limits {timeout} s, then {timeout * _RETRY_FACTOR} s)"
    return False, ""


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
