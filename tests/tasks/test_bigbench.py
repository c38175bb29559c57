import json
from collections import Counter

import pytest

from mastune.tasks.datasets.bigbench import BIGBENCH, exact_number, multiple_choice
from mastune.tasks.datasets import data_dir_candidates, get_task, load_task
from mastune.tasks.grade import grade
from mastune.tasks.splits import split_examples

needs_shared = pytest.mark.skipif(not data_dir_candidates(), reason="shared benchmark data not found")


@needs_shared
@pytest.mark.parametrize("name,n,family", [
    ("navigate", 1000, "mcq"), ("causal-judgment", 190, "mcq"), ("date-understanding", 369, "mcq"),
    ("sports-understanding", 1000, "mcq"), ("logical-deduction-3", 300, "mcq"), ("logical-deduction-7", 700, "mcq"),
    ("tracking-shuffled-objects-5", 1250, "mcq"), ("object-counting", 1000, "math"),
])
def test_counts_ids_family(name, n, family):
    t = get_task(name)
    assert t.family == family and len(t) == n
    assert len({e.id for e in t}) == n
    assert all(e.task == name for e in t)


@needs_shared
def test_navigate_is_balanced_true_false_with_the_instruction():
    exs = load_task("navigate")
    assert Counter(e.meta["answer_text"] for e in exs) == {"True": 500, "False": 500}
    e = exs[0]
    assert e.question.startswith("If you follow these instructions, do you return to the starting point?")
    assert e.question.endswith("A. True\nB. False")
    assert e.meta["choices"] == ["True", "False"] and e.answer == e.meta["answer_letter"]
    gold, other = e.meta["answer_text"], ({"True", "False"} - {e.meta["answer_text"]}).pop()
    assert grade(e, f"The answer is {e.answer}").correct
    assert grade(e, f"So the statement is {gold}.").correct  # the option text alone counts once
    assert not grade(e, f"The answer is {other}.").correct


@needs_shared
def test_navigate_split_is_seeded_and_disjoint():
    exs = load_task("navigate")
    test = split_examples(exs, "test", seed=0)
    assert len(test) == 400
    assert [e.id for e in test] == [e.id for e in load_task("navigate", split="test", seed=0)]
    assert {e.id for e in test}.isdisjoint(e.id for e in load_task("navigate", split="train", seed=0))
    assert [e.id for e in test] != [e.id for e in load_task("navigate", split="test", seed=1)]


@needs_shared
def test_date_understanding_gold_is_not_always_first():
    # the file lists the gold option first in 364 of 369 items; the loader permutes per item
    exs = load_task("date-understanding")
    letters = Counter(e.answer for e in exs)
    assert max(letters.values()) < 0.3 * len(exs)
    again = load_task("date-understanding")
    assert [e.question for e in exs] == [e.question for e in again]  # deterministic
    for e in exs[:20]:
        assert e.meta["choices"][e.meta["answer_index"]] == e.meta["answer_text"]


@needs_shared
def test_object_counting_is_numeric():
    e = load_task("object-counting")[0]
    assert e.answer == "3" and e.family == "math"
    assert grade(e, "That makes \\boxed{3}.").correct and not grade(e, "\\boxed{4}").correct


def test_multiple_choice_rows_local_and_hub_schema():
    build = multiple_choice("toy", "Pick one.")
    local = build([{"input": "2+2?", "target_scores": {"3": 0, "4": 1}}])[0]
    assert local.question == "Pick one.\n\n2+2?\n\nA. 3\nB. 4" and local.answer == "B"
    hub = build([{"inputs": "Pick one. 2+2?", "multiple_choice_targets": ["4", "5"],
                  "multiple_choice_scores": [1, 0], "targets": ["4"]}])[0]
    assert hub.question.startswith("Pick one. 2+2?") and hub.answer == "A"
    with pytest.raises(ValueError, match="exactly one correct option"):
        build([{"input": "x", "target_scores": {"a": 1, "b": 1}}])


def test_subtask_filter_drops_other_subtasks_hub_rows():
    build = multiple_choice("ld3", "", n_options=3)
    rows = [{"inputs": "q", "multiple_choice_targets": list("abc"), "multiple_choice_scores": [0, 1, 0]},
            {"inputs": "q", "multiple_choice_targets": list("abcde"), "multiple_choice_scores": [0, 1, 0, 0, 0]}]
    assert len(build(rows)) == 1


def test_exact_number_targets():
    build = exact_number("cnt")
    assert [e.answer for e in build([{"input": "q", "target": ["ten", "10"]}, {"input": "q", "target": ["two"]}])] \
        == ["10", "2"]
    with pytest.raises(ValueError, match="no number"):
        build([{"input": "q", "target": ["many"]}])


def test_every_bigbench_task_names_a_local_file_and_hub_source():
    for b in BIGBENCH:
        assert b.files[0].startswith("bigbench/") and b.files[0].endswith("task.json")
        assert b.hub and b.hub[0][0]
    assert len({b.name for b in BIGBENCH}) == len(BIGBENCH)


def test_loads_from_an_explicit_file(tmp_path):
    f = tmp_path / "task.json"
    f.write_text(json.dumps({"examples": [{"input": "Turn around.", "target_scores": {"True": 0, "False": 1}}]}))
    (e,) = load_task("navigate", path=f)
    assert e.answer == "B" and e.id == "navigate/0"
