"""Math-like loaders (GSM8K, MATH, MATH-500)."""
from collections import Counter

import pytest

from mastune.tasks.datasets import data_dir_candidates
from mastune.tasks.extract import last_boxed, normalize_number

needs_shared = pytest.mark.skipif(not data_dir_candidates(), reason="shared benchmark data not found")


@needs_shared
def test_gsm8k_golds_are_plain_numbers(loaded):
    exs = loaded("gsm8k")
    assert all(normalize_number(e.answer) == e.answer for e in exs)
    assert exs[0].answer == "18" and exs[0].id == "gsm8k/0"


@needs_shared
def test_math_golds_from_last_box(loaded):
    exs = loaded("math")
    assert all(not e.meta.get("gold_missing") for e in exs)
    assert exs[0].answer == "2" and exs[0].meta["level"] == 3 and exs[0].meta["subject"] == "Algebra"
    assert all(e.answer == last_boxed(e.meta["solution"]) for e in exs[:200])


@needs_shared
def test_math500_answers_and_ids(loaded):
    exs = loaded("math500")
    assert exs[0].id == "math500/test/precalculus/807"
    assert exs[0].answer == r"\left( 3, \frac{\pi}{2} \right)"
    assert Counter(e.meta["subject"] for e in exs)["Algebra"] == 124
    # The stored answer is the boxed one in (almost) every solution.
    same = sum(e.answer.replace(" ", "") == (last_boxed(e.meta["solution"]) or "").replace(" ", "") for e in exs)
    assert same >= 480
