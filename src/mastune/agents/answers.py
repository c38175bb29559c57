"""Answer extraction and voting for the runtime (consensus, majority).

Routes to `mastune.tasks.extract` (imported lazily: the runtime must not pull
in the task layer at import time); the small fallbacks below only keep the
runtime usable if that module is missing.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Sequence

from .prompts import canonical_family


def extract_answer(text: str, family: str) -> str | None:
    """The answer a reply commits to (math value, option letter, code), or None."""
    fam = canonical_family(family)
    try:
        from ..tasks import extract as ex
    except ImportError:
        return _FALLBACK[fam](text)
    if fam == "math":
        return ex.extract_math(text).value
    if fam == "mcq":
        return ex.extract_choice(text).value
    return ex.extract_code(text)


def answer_key(answer: str | None, family: str) -> str | None:
    """Canonical form for comparing answers ('1,000.0' == '1000'); None stays None."""
    if answer is None:
        return None
    fam = canonical_family(family)
    if fam == "math":
        try:
            from ..tasks.extract import normalize_number
        except ImportError:
            normalize_number = _normalize_number
        num = normalize_number(answer)
        return num if num is not None else re.sub(r"\s+", "", answer).rstrip(".")
    if fam == "mcq":
        return answer.strip().upper()
    return answer.strip()


def majority(answers: Sequence[str | None], family: str) -> int | None:
    """Index of the first answer in the largest group of equal answers (ties: earliest).

    None answers never win; returns None when every answer is None.
    """
    keys = [answer_key(a, family) for a in answers]
    counts = Counter(k for k in keys if k is not None)
    if not counts:
        return None
    best = max(counts.values())
    return next(i for i, k in enumerate(keys) if k is not None and counts[k] == best)


def unanimous(answers: Sequence[str | None], family: str) -> bool:
    """All answers parsed and equal (the decision node's consensus shortcut)."""
    keys = [answer_key(a, family) for a in answers]
    return bool(keys) and None not in keys and len(set(keys)) == 1


# ---- fallbacks (used only when mastune.tasks.extract cannot be imported) ----

def _last_boxed(text: str) -> str | None:
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth, i = 0, start + len("\\boxed")
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1 : j].strip()
    return None


def _math(text: str) -> str | None:
    boxed = _last_boxed(text)
    if boxed:
        return boxed
    m = re.findall(r"answer is[:\s]*\$?([^\n$]+?)\$?\s*\.?\s*$", text, re.I | re.M)
    if m:
        return m[-1].strip()
    nums = re.findall(r"-?\d[\d,]*(?:\.\d+)?", text)
    return nums[-1].replace(",", "") if nums else None


def _mcq(text: str) -> str | None:
    m = re.findall(r"answer is[:\s]*\(?([A-J])\b", text, re.I)
    return m[-1].upper() if m else None


def _code(text: str) -> str | None:
    blocks = re.findall(r"```(?:python|py)?[^\n]*\n(.*?)```", text, re.S)
    return blocks[-1].strip() + "\n" if blocks else None


def _normalize_number(s: str) -> str | None:
    t = s.replace(",", "").replace("$", "").strip()
    try:
        v = float(t)
    except ValueError:
        return None
    return str(int(v)) if v.is_integer() else repr(v)


_FALLBACK = {"math": _math, "mcq": _mcq, "code": _code}
