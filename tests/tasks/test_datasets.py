import gzip
import json
from collections import Counter

import pytest

from mastune.errors import ConfigError, MastuneError
from mastune.tasks.base import DataNotFound, Task
from mastune.tasks.datasets import data_dir_candidates, get_task, load_task, normalize_error_type
from mastune.tasks.extract import last_boxed, normalize_number

needs_shared = pytest.mark.skipif(not data_dir_candidates(), reason="shared benchmark data not found")


@pytest.fixture(scope="module")
def loaded():
    cache = {}

    def get(name, **kw):
        key = (name, tuple(sorted(kw.items())))
        if key not in cache:
            cache[key] = load_task(name, **kw)
        return cache[key]

    return get


# ---------------------------------------------------------------- shared files


@needs_shared
@pytest.mark.parametrize(
    "name,n,family",
    [("gsm8k", 1319, "math"), ("math", 5000, "math"), ("math500", 500, "math"),
     ("mmlu-redux", 5700, "mcq"), ("mmlu-redux-30", 3000, "mcq"), ("humaneval-plus", 164, "code")],
)
def test_row_counts_and_unique_ids(loaded, name, n, family):
    exs = loaded(name)
    assert len(exs) == n
    assert len({e.id for e in exs}) == n
    assert all(e.family == family and e.question and e.answer for e in exs)


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
def test_mmlu_30_is_a_subset_with_the_same_ids(loaded):
    full = {e.id: e for e in loaded("mmlu-redux")}
    sub = loaded("mmlu-redux-30")
    assert len({e.meta["subject"] for e in sub}) == 30
    assert all(e.id in full and full[e.id].answer == e.answer and full[e.id].question == e.question for e in sub)


@needs_shared
def test_humaneval_plus_meta(loaded):
    exs = loaded("humaneval-plus")
    ex = exs[0]
    assert ex.id == "HumanEval/0" and ex.meta["entry_point"] == "has_close_elements"
    assert ex.question == ex.meta["prompt"] and "def check(candidate)" in ex.meta["test"]
    assert len(ex.meta["base_input"]) == 7 and len(ex.meta["plus_input"]) > 100
    assert sum(len(e.meta["base_input"]) for e in exs) == 1570
    assert sum(len(e.meta["plus_input"]) for e in exs) == 122683
    assert all(f"def {e.meta['entry_point']}" in e.meta["reference"] for e in exs)
    by_id = {e.id: e for e in exs}
    assert by_id["HumanEval/32"].meta["oracle"] == "poly_root" and by_id["HumanEval/32"].meta["atol"] == 1e-4


@needs_shared
def test_split_and_limit_and_get_task():
    t = get_task("gsm8k", split="test", seed=0, limit=5)
    assert isinstance(t, Task) and t.name == "gsm8k" and len(t) == 5
    assert "gsm8k/test.jsonl" in t.source and not t.source.startswith("/")
    full_test = load_task("gsm8k", split="test")
    assert [e.id for e in t] == [e.id for e in full_test[:5]]
    assert len(full_test) + len(load_task("gsm8k", split="train")) + len(load_task("gsm8k", split="valid")) == 1319


def test_aliases_and_unknown_names():
    with pytest.raises(ConfigError, match="known"):
        load_task("no-such-task")


# ---------------------------------------------------------------- explicit files and discovery


def _gsm_rows():
    return [{"question": "1+1?", "answer": "1+1=2\n#### 2"}, {"question": "Big?", "answer": "so\n#### 1,000"}]


def test_explicit_jsonl_json_gz_csv(tmp_path):
    rows = _gsm_rows()
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (tmp_path / "a.json").write_text(json.dumps(rows))
    with gzip.open(tmp_path / "a.jsonl.gz", "wt") as f:
        f.write("\n".join(json.dumps(r) for r in rows))
    (tmp_path / "a.csv").write_text('question,answer\n"1+1?","1+1=2\n#### 2"\n"Big?","so\n#### 1,000"\n')
    for name in ("a.jsonl", "a.json", "a.jsonl.gz", "a.csv"):
        exs = load_task("gsm8k", path=tmp_path / name)
        assert [e.answer for e in exs] == ["2", "1000"], name


def test_explicit_data_folder(tmp_path):
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k" / "test.jsonl").write_text(json.dumps(_gsm_rows()[0]) + "\n")
    assert len(load_task("gsm8k", path=tmp_path)) == 1


def test_explicit_missing_path_is_an_error(tmp_path):
    with pytest.raises(DataNotFound, match="does not exist"):
        load_task("gsm8k", path=tmp_path / "nope.jsonl")


def test_mmlu_csv_with_python_list_choices(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text('question;choices;answer;error_type;subject\n"Q?";"[\'a\', \'b\', \'c\', \'d\']";2;OK;x\n')
    (ex,) = load_task("mmlu-redux", path=p)
    assert ex.answer == "C" and ex.meta["choices"] == ["a", "b", "c", "d"] and ex.meta["error_type_norm"] == "ok"


def test_env_data_dir_and_walk_up(tmp_path, monkeypatch):
    data = tmp_path / "proj" / "shared" / "data" / "gsm8k"
    data.mkdir(parents=True)
    (data / "test.jsonl").write_text(json.dumps(_gsm_rows()[1]) + "\n")
    deep = tmp_path / "proj" / "main" / "sub"
    deep.mkdir(parents=True)
    monkeypatch.delenv("MASTUNE_DATA_DIR", raising=False)
    monkeypatch.chdir(deep)
    assert [e.answer for e in load_task("gsm8k")] == ["1000"]  # found walking up from cwd
    monkeypatch.setenv("MASTUNE_DATA_DIR", str(tmp_path / "proj" / "shared" / "data"))
    monkeypatch.chdir(tmp_path)
    assert len(load_task("gsm8k")) == 1


def test_missing_data_raises_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MASTUNE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataNotFound) as info:
        load_task("humaneval-plus")
    msg = str(info.value)
    assert isinstance(info.value, MastuneError)
    assert "MASTUNE_DATA_DIR" in msg and "--data-path" in msg and "evalplus/humanevalplus" in msg
    assert str(tmp_path) in msg and "offline" in msg


def test_normalize_error_type():
    assert normalize_error_type("Wrong_Groundtruth ") == "wrong groundtruth"
    assert normalize_error_type("OK") == normalize_error_type(None) == "ok"


# ---------------------------------------------------------------- MBPP+ (no shared file: synthetic rows)


def _mbpp_row(**over):
    row = {
        "task_id": "Mbpp/2",
        "prompt": '"""\nWrite a function to find the shared elements from the given two lists.\n'
                  'assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))\n"""\n',
        "code": "def similar_elements(test_tup1, test_tup2):\n  return tuple(set(test_tup1) & set(test_tup2))\n",
        "entry_point": "similar_elements",
        "test_list": ["assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))"],
        "base_input": [[[3, 4, 5, 6], [5, 7, 4, 10]]],
        "plus_input": [[[1, 2], [2, 3]]],
        "atol": 0,
    }
    row.update(over)
    return row


def test_mbpp_plus_loader_is_tolerant(tmp_path):
    rows = [
        _mbpp_row(),
        _mbpp_row(task_id=3, code=None, canonical_solution="def is_not_prime(n):\n    return n > 1\n",
                  entry_point=None, test_list=["assert is_not_prime(2) == False"], base_input=json.dumps([[2]]),
                  plus_input=[]),
    ]
    p = tmp_path / "MbppPlus.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows))
    a, b = load_task("mbpp-plus", path=p)
    assert a.id == "Mbpp/2" and a.family == "code" and a.question.startswith("Write a function")
    assert a.meta["input_transform"] == "args_tuple" and a.meta["oracle"] == "set_eq"
    assert a.meta["test_kind"] == "asserts" and "similar_elements" in a.meta["reference"]
    assert b.id == "Mbpp/3" and b.meta["entry_point"] == "is_not_prime" and b.meta["base_input"] == [[2]]
    assert b.answer.startswith("def is_not_prime")


def test_unknown_loader_option_is_a_config_error(tmp_path):
    from mastune.errors import ConfigError

    with pytest.raises(ConfigError, match="drop_flawed"):
        load_task("gsm8k", path=tmp_path, drop_flawed=True)
