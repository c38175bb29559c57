"""The registry, get_task, and where data is found."""
import gzip
import json

import pytest

from mastune.errors import ConfigError, MastuneError
from mastune.tasks.base import DataNotFound, Task
from mastune.tasks.datasets import data_dir_candidates, get_task, load_task

needs_shared = pytest.mark.skipif(not data_dir_candidates(), reason="shared benchmark data not found")


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


def test_unknown_loader_option_is_a_config_error(tmp_path):
    from mastune.errors import ConfigError

    with pytest.raises(ConfigError, match="drop_flawed"):
        load_task("gsm8k", path=tmp_path, drop_flawed=True)


# ---------------------------------------------------------------- malformed files (issue 15, fault 8)


def test_a_garbage_json_line_names_the_file_and_line(tmp_path):
    p = tmp_path / "data.jsonl"
    p.write_text(json.dumps(_gsm_rows()[0]) + "\n{not json at all\n")
    with pytest.raises(MastuneError, match=r"data\.jsonl line 2: not valid JSON"):
        load_task("gsm8k", path=p)


def test_a_row_that_is_not_an_object_names_the_line(tmp_path):
    p = tmp_path / "data.jsonl"
    p.write_text(json.dumps(_gsm_rows()[0]) + "\n[1, 2]\n")
    with pytest.raises(MastuneError, match=r"data\.jsonl line 2: a row must be a JSON object"):
        load_task("gsm8k", path=p)


def test_a_row_missing_its_question_field_names_the_row_and_field(tmp_path):
    p = tmp_path / "data.jsonl"
    p.write_text(json.dumps(_gsm_rows()[0]) + "\n" + json.dumps({"q": "2+2?", "answer": "#### 4"}) + "\n")
    with pytest.raises(MastuneError, match=r"data\.jsonl: row 2: no 'question' field \(fields: answer, q\)"):
        load_task("gsm8k", path=p)


@pytest.mark.parametrize("content", ["42", '"text"', "null"])
def test_a_json_file_holding_a_scalar_is_a_clear_error(tmp_path, content):
    p = tmp_path / "data.json"
    p.write_text(content)
    with pytest.raises(MastuneError, match=r"data\.json: holds a JSON \w+; expected a list of rows"):
        load_task("gsm8k", path=p)


def test_a_broken_json_file_is_a_clear_error(tmp_path):
    p = tmp_path / "data.json"
    p.write_text('[{"question": "1?", "answer": "#### 1"}')
    with pytest.raises(MastuneError, match=r"data\.json: not valid JSON"):
        load_task("gsm8k", path=p)
