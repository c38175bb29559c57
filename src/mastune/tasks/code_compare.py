"""Is a candidate's output the expected one? Runs in the library process.

Both sides are plain data decoded by `mastune.sandbox.plain` (builtin types
only), so comparing them runs no code from the sandbox. The rule is evalplus's:
equal outputs pass; otherwise a tolerance applies only where the task gives one
(`atol`) or the expected output is a float (or a list/tuple of floats, then
atol 1e-6), and then only to an output of the same type, within
|out - exp| <= atol + 1e-7 * |exp| elementwise (numpy.allclose). So an int
expected is matched exactly: a float one unit off a large integer fails. Some
tasks use the special oracles of evalplus. One deliberate difference: NaN
equals NaN (a reference that returns NaN is met by a reply that does too).
"""
from __future__ import annotations

import math
from typing import Any

RTOL = 1e-7  # numpy.allclose's default, as evalplus uses it
FLOAT_ATOL = 1e-6  # evalplus: the tolerance for float outputs of tasks that give none


def is_floats(x: Any) -> bool:
    """evalplus's test: a float, or a non-empty list/tuple of floats only."""
    if type(x) is float:
        return True
    return type(x) in (list, tuple) and len(x) > 0 and all(type(i) is float for i in x)


def _number(x: Any) -> bool:
    return type(x) in (int, float, complex, bool)


def _leaves_close(out: Any, exp: Any, atol: float, rtol: float = RTOL) -> bool:
    """numpy.allclose on plain data: same shape, numeric leaves only (a string or None fails)."""
    if type(exp) in (list, tuple):
        return (type(out) in (list, tuple) and len(out) == len(exp)
                and all(_leaves_close(o, e, atol, rtol) for o, e in zip(out, exp)))
    if not (_number(out) and _number(exp)):
        return False
    if out == exp:  # inf == inf; a huge int equal to itself
        return True
    try:
        if any(isinstance(v, float) and math.isnan(v) for v in (out, exp)):
            return all(isinstance(v, float) and math.isnan(v) for v in (out, exp))
        return abs(out - exp) <= atol + rtol * abs(exp)
    except OverflowError:  # an int past float range that is not equal: not close either
        return False


def close(out: Any, exp: Any, atol: float) -> bool:
    """The tolerance step of the evalplus rule: atol (or 1e-6 for float outputs when 0)
    for an output of the expected type; without a tolerance, equality only."""
    if out == exp or (type(out) is type(exp) and _leaves_close(out, exp, 0.0, 0.0)):  # NaN == NaN
        return True
    tol = atol if atol > 0 else (FLOAT_ATOL if is_floats(exp) else 0.0)
    if tol == 0.0 or type(out) is not type(exp):
        return False
    return _leaves_close(out, exp, tol)


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
        if oracle == "always_true":
            return True
        if oracle == "set_eq":
            return set(out) == set(exp)
        if out == exp:
            return True
        if oracle == "poly_root" and abs(_poly(args[0], out)) <= (atol or FLOAT_ATOL):  # any root will do
            return True
        if oracle == "or_zero" and out == 0:
            return True
        if oracle == "surface_area" and abs(out - _pyramid_area(*args)) <= atol:
            return True
        if oracle == "digit_distance" and out == _digit_distance(*args):
            return True
        return close(out, exp, atol)
    except (TypeError, ValueError, OverflowError, ArithmeticError, IndexError, RecursionError):
        return False
