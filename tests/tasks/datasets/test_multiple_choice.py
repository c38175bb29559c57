"""Multiple-choice loaders (MMLU-Redux)."""
from collections import Counter

import pytest

from mastune.errors import ConfigError
from mastune.tasks.datasets import data_dir_candidates, load_task, normalize_error_type

needs_shared = pytest.mark.skipif(not data_dir_candidates(), reason="shared benchmark data not found")


@needs_shared
def test_mmlu_questions_letters_and_error_types(loaded):
    exs = loaded("mmlu-redux")
    ex = exs[0]
    assert ex.id == "mmlu-redux/abstract_algebra/0"
    assert "\n\nA. True, True\nB. False, False\nC. True, False\nD. False, True" in ex.question
    assert ex.answer == "A" and ex.meta["choices"][0] == "True, True"
    assert ex.meta["error_type"] == "Bad Question Clarity" and ex.meta["error_type_norm"] == "bad question clarity"
    assert all(e.answer in "ABCD" and len(e.meta["choices"]) == 4 for e in exs)
    assert len({e.meta["subject"] for e in exs}) == 57
    assert Counter(e.meta["error_type_norm"] for e in exs)["ok"] == 5330


@needs_shared
def test_mmlu_drop_flawed_and_subjects():
    assert len(load_task("mmlu-redux", drop_flawed=True)) == 5330
    assert len(load_task("mmlu-redux", subjects=["anatomy", "virology"])) == 200


@needs_shared
def test_subjects_selected_in_the_task_name():
    named = load_task("mmlu-redux:anatomy, virology", split="test")
    assert named == load_task("mmlu-redux", subjects=["anatomy", "virology"], split="test")
    assert {e.meta["subject"] for e in named} == {"anatomy", "virology"}
    with pytest.raises(ConfigError, match="no subject"):
        load_task("mmlu-redux:anatomy,not_a_subject")
    with pytest.raises(ConfigError, match="name at least one"):
        load_task("mmlu-redux:")
    with pytest.raises(ConfigError, match="not both"):
        load_task("mmlu-redux:anatomy", subjects=["virology"])
    with pytest.raises(ConfigError, match="no subjects to select"):
        load_task("gsm8k:anatomy")


@needs_shared
def test_mmlu_30_is_a_subset_with_the_same_ids(loaded):
    full = {e.id: e for e in loaded("mmlu-redux")}
    sub = loaded("mmlu-redux-30")
    assert len({e.meta["subject"] for e in sub}) == 30
    assert all(e.id in full and full[e.id].answer == e.answer and full[e.id].question == e.question for e in sub)


def test_mmlu_csv_with_python_list_choices(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text('question;choices;answer;error_type;subject\n"Q?";"[\'a\', \'b\', \'c\', \'d\']";2;OK;x\n')
    (ex,) = load_task("mmlu-redux", path=p)
    assert ex.answer == "C" and ex.meta["choices"] == ["a", "b", "c", "d"] and ex.meta["error_type_norm"] == "ok"


def test_normalize_error_type():
    assert normalize_error_type("Wrong_Groundtruth ") == "wrong groundtruth"
    assert normalize_error_type("OK") == normalize_error_type(None) == "ok"


def test_an_unreadable_answer_names_the_row(tmp_path):
    import json

    from mastune.errors import MastuneError

    p = tmp_path / "m.jsonl"
    rows = [{"question": "Q?", "choices": ["a", "b"], "answer": 1, "subject": "x"},
            {"question": "Q2?", "choices": ["a", "b"], "answer": None, "subject": "x"}]
    p.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(MastuneError, match=r"m\.jsonl: row 2: no 'answer' field"):
        load_task("mmlu-redux", path=p)
    rows[1]["answer"] = 7
    p.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(MastuneError, match=r"row 2: answer index 7 is outside its 2 choices"):
        load_task("mmlu-redux", path=p)
