"""Math-like loaders (GSM8K, MATH, MATH-500)."""
import json
from collections import Counter

import pytest

from mastune.errors import MastuneError
from mastune.tasks.datasets import data_dir_candidates, load_task
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


# ---------------------------------------------------------------- gold answers (issue 15, fault 5)


def _write_jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_math_prefers_an_explicit_answer_over_the_boxed_solution(tmp_path):
    p = _write_jsonl(tmp_path / "m.jsonl", [
        {"problem": "2+3?", "solution": "We get \\boxed{4} wrongly", "answer": "5"},
        {"problem": "1+1?", "solution": "so \\boxed{2}"},
    ])
    assert [e.answer for e in load_task("math", path=p)] == ["5", "2"]


@pytest.mark.parametrize("task,field", [("math", "problem"), ("math500", "problem")])
def test_an_item_without_gold_is_a_load_error_naming_the_row(tmp_path, task, field):
    p = _write_jsonl(tmp_path / "m.jsonl", [
        {field: "1+1?", "solution": "\\boxed{2}"},
        {field: "No gold?", "solution": "a worked solution with no box", "answer": None},
    ])
    with pytest.raises(MastuneError, match=r"m\.jsonl: row 2: no gold answer"):
        load_task(task, path=p)


def test_a_null_answer_never_becomes_the_string_none(tmp_path):
    p = _write_jsonl(tmp_path / "g.jsonl", [{"question": "1+1?", "answer": None}])
    with pytest.raises(MastuneError, match="row 1: no gold answer"):
        load_task("gsm8k", path=p)
    p = _write_jsonl(tmp_path / "m.jsonl", [{"problem": "1+1?", "solution": "so \\boxed{2}", "answer": None}])
    (ex,) = load_task("math500", path=p)
    assert ex.answer == "2"
