"""Math word problems and competition math: GSM8K, MATH, MATH-500.

The gold answer is a short final answer. An explicit `answer` field wins over the
last \\boxed{} of a worked `solution`; a row with neither is a load error, never
an item graded against an empty gold.
"""
from __future__ import annotations

import re
from typing import Any

from ...errors import DataError
from ..base import Example
from ..extract import last_boxed
from .files import Row, need
from .spec import Spec


def _text(v: Any) -> str | None:
    """A gold value as text; None / "" / null mean "not given" (never the string "None")."""
    if v is None:
        return None
    s = str(v).strip()
    return s or None


def _gsm8k(rows: list[Row]) -> list[Example]:
    out = []
    for i, r in enumerate(rows):
        sol = _text(r.get("answer"))
        if sol is None:
            raise DataError(f"row {i + 1}: no gold answer (the 'answer' field is empty or null)")
        gold = sol.split("####")[-1].strip().replace(",", "") if "####" in sol else sol
        if not gold:
            raise DataError(f"row {i + 1}: no gold answer after '####'")
        out.append(Example(f"gsm8k/{i}", str(need(r, "question", i)), gold, "math",
                           {"task": "gsm8k", "solution": sol}))
    return out


def _level(v: Any) -> int | None:
    m = re.search(r"\d+", str(v))
    return int(m.group(0)) if m else None


def _gold(r: Row, i: int) -> str:
    """Explicit `answer` first, else the last \\boxed{} of `solution`; neither is a load error."""
    gold = _text(r.get("answer")) or _text(last_boxed(str(r.get("solution") or "")))
    if gold is None:
        raise DataError(f"row {i + 1}: no gold answer (no 'answer' field and no \\boxed{{}} in 'solution')")
    return gold


def _math(rows: list[Row]) -> list[Example]:
    out = []
    for i, r in enumerate(rows):
        sol = str(r.get("solution") or "")
        idx = r.get("idx", i)
        meta = {"task": "math", "solution": sol, "level": _level(r.get("level")),
                "subject": r.get("type") or r.get("subject"), "idx": idx}
        out.append(Example(f"math/{idx}", str(need(r, "problem", i)), _gold(r, i), "math", meta))
    return out


def _math500(rows: list[Row]) -> list[Example]:
    out = []
    for i, r in enumerate(rows):
        sol = str(r.get("solution") or "")
        uid = str(r.get("unique_id") or i).removesuffix(".json")
        meta = {"task": "math500", "solution": sol, "level": _level(r.get("level")),
                "subject": r.get("subject"), "unique_id": r.get("unique_id")}
        out.append(Example(f"math500/{uid}", str(need(r, "problem", i)), _gold(r, i), "math", meta))
    return out


SPECS = (
    Spec("gsm8k", "math", ("gsm8k/test.jsonl",), (("openai/gsm8k", "main", "test"),), _gsm8k),
    Spec("math", "math", ("math/test.jsonl",), (("DigitalLearningGmbH/MATH-lighteval", "default", "test"),), _math),
    Spec("math500", "math", ("math500/test.jsonl",), (("HuggingFaceH4/MATH-500", None, "test"),), _math500),
)
ALIASES = {"math-500": "math500"}
