"""Plain data <-> JSON text, with every type tagged so nothing is ambiguous.

This is the only form in which values leave a sandbox. Decoding builds nothing
but builtin values (no class lookups, no pickle), so whatever bytes a program
writes, the reader gets plain data or a :class:`NotPlain` error; never an
object with behaviour of its own (a custom ``__eq__`` cannot reach the host).

Encoding (exact types only, subclasses are refused):
  None, bool, str, int (|x| < 2**63), finite float -> the JSON scalar
  list -> {"l": [...]}      tuple -> {"t": [...]}       dict -> {"d": [[k, v], ...]}
  set -> {"s": [...]}       frozenset -> {"f": [...]}   bytes -> {"b": "<hex>"}
  big int -> {"i": "<hex>"} float nan/inf -> {"x": "nan" | "inf" | "-inf"}
  complex -> {"c": [re, im]} (each encoded as a float)

Stdlib only: it is staged into the sandbox next to the call runner.
"""
from __future__ import annotations

import json
import math

MAX_DEPTH = 100
_SMALL = 2**63


class NotPlain(ValueError):
    """A value (or a text) that is not plain data in this encoding."""


def _float(x: float):
    if math.isfinite(x):
        return x
    return {"x": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def to_tree(x, depth: int = 0):
    """The JSON-able tree of a plain value; :class:`NotPlain` for anything else."""
    if depth > MAX_DEPTH:
        raise NotPlain("nested too deeply")
    t = type(x)
    if x is None or t is bool or t is str:
        return x
    if t is int:
        return x if -_SMALL < x < _SMALL else {"i": hex(x)}
    if t is float:
        return _float(x)
    if t is list:
        return {"l": [to_tree(v, depth + 1) for v in x]}
    if t is tuple:
        return {"t": [to_tree(v, depth + 1) for v in x]}
    if t is dict:
        return {"d": [[to_tree(k, depth + 1), to_tree(v, depth + 1)] for k, v in x.items()]}
    if t is set or t is frozenset:
        return {"s" if t is set else "f": [to_tree(v, depth + 1) for v in x]}
    if t is bytes:
        return {"b": x.hex()}
    if t is complex:
        return {"c": [_float(x.real), _float(x.imag)]}
    raise NotPlain(f"not plain data: {t.__module__}.{t.__qualname__}")


def dumps(x) -> str:
    return json.dumps(to_tree(x), separators=(",", ":"), allow_nan=False)


def _num(v):
    if type(v) is float or (type(v) is int):
        return v
    if type(v) is dict and len(v) == 1 and "x" in v and v["x"] in ("nan", "inf", "-inf"):
        return float(v["x"])
    raise NotPlain("bad float")


def from_tree(v, depth: int = 0):
    """Inverse of :func:`to_tree`; refuses anything it would not have produced."""
    if depth > MAX_DEPTH:
        raise NotPlain("nested too deeply")
    t = type(v)
    if v is None or t is bool or t is str or t is int or t is float:
        return v
    if t is not dict or len(v) != 1:
        raise NotPlain("untagged value")
    (tag, body), = v.items()
    try:
        if tag == "l" and type(body) is list:
            return [from_tree(x, depth + 1) for x in body]
        if tag == "t" and type(body) is list:
            return tuple(from_tree(x, depth + 1) for x in body)
        if tag in ("s", "f") and type(body) is list:
            items = [from_tree(x, depth + 1) for x in body]
            return set(items) if tag == "s" else frozenset(items)
        if tag == "d" and type(body) is list:
            out = {}
            for pair in body:
                if type(pair) is not list or len(pair) != 2:
                    raise NotPlain("bad dict item")
                out[from_tree(pair[0], depth + 1)] = from_tree(pair[1], depth + 1)
            return out
        if tag == "i" and type(body) is str:
            return int(body, 16)
        if tag == "x" and body in ("nan", "inf", "-inf"):
            return float(body)
        if tag == "b" and type(body) is str:
            return bytes.fromhex(body)
        if tag == "c" and type(body) is list and len(body) == 2:
            return complex(_num(body[0]), _num(body[1]))
    except TypeError as e:  # an unhashable set element / dict key
        raise NotPlain(str(e)) from None
    raise NotPlain(f"unknown tag {tag!r}")


def _no_constants(name: str):
    raise NotPlain(f"bare {name} is not valid here")


def loads(text: str | bytes):
    """Plain value of a :func:`dumps` text; :class:`NotPlain` for any other text."""
    try:
        tree = json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError) as e:
        raise NotPlain(f"not JSON: {e}"[:200]) from None
    try:
        return from_tree(tree)
    except (ValueError, RecursionError) as e:
        raise NotPlain(str(e)[:200]) from None
