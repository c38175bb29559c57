"""Is a candidate's output the expected one? Runs in the library process.

Both sides are plain data decoded by `mastune.sandbox.plain` (builtin types
only), so comparing them runs no code from the sandbox. Floats are compared
with a tolerance and some tasks use the special oracles of evalplus.
"""
from __future__ import annotations

import math
from typing import Any


def close(out: Any, exp: Any, atol: float) -> bool:
    if isinstance(exp, bool) or isinstance(out, bool):
        return out == exp
    if isinstance(exp, (int, float)) and isinstance(out, (int, float)):
        if isinstance(exp, float) or isinstance(out, float):
            if math.isnan(exp) or math.isnan(out):
                return math.isnan(exp) and math.isnan(out)
            return math.isclose(out, exp, rel_tol=1e-6, abs_tol=atol)
        return out == exp
    if isinstance(exp, (list, tuple)):
        return (type(out) is type(exp) and len(out) == len(exp)
                and all(close(o, e, atol) for o, e in zip(out, exp)))
    if isinstance(exp, dict):
        return isinstance(out, dict) and out.keys() == exp.keys() and all(close(out[k], exp[k], atol) for k in exp)
    return out == exp


def _poly(xs: list, x: float) -> float:
    return sum(c * math.pow(x, i) for i, c in enumerate(xs))


def _pyramid_area(base: float, height: float) -> float:  # square pyramid, rounded like the MBPP reference
    slant = math.sqrt((base / 2) ** 2 + height ** 2)
    return round(base ** 2 + 2 * base * slant)


def _digit_distance(a: int, b: int) -> int:
    sa, sb = str(a), str(b)
    w = max(len(sa), len(sb))
    return sum(abs(int(x) - int(y)) for x, y in zip(sa.zfill(w), sb.zfill(w)))


def same(out: Any, exp: Any, args: list | None, oracle: str | None, atol: float) -> bool:
    """The evalplus verdict for one input. `args` are the raw (JSON) arguments."""
    try:
        if oracle == "poly_root":  # any root will do; near the reference root counts too (float error)
            return abs(_poly(args[0], out)) <= atol or close(out, exp, 1e-6)
        if oracle == "always_true":
            return True
        if oracle == "set_eq":
            return set(out) == set(exp)
        if out == exp:
            return True
        if oracle == "or_zero" and out == 0:
            return True
        if oracle == "surface_area" and abs(out - _pyramid_area(*args)) <= atol:
            return True
        if oracle == "digit_distance" and out == _digit_distance(*args):
            return True
        return close(out, exp, atol if atol > 0 else 1e-6)
    except (TypeError, ValueError, OverflowError, ArithmeticError, IndexError, RecursionError):
        return False
