"""Answer extraction and voting for the runtime (consensus, majority).

Routes to `mastune.tasks.extract`, imported lazily: the runtime must not pull
in the task layer (graders, datasets) at import time.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Sequence

from .prompts import canonical_family


def extract_answer(text: str, family: str) -> str | None:
    """The answer a reply commits to (math value, option letter, code), or None."""
    fam = canonical_family(family)
    from ..tasks import extract as ex

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
        from ..tasks.extract import normalize_number

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

