"""Benchmark data that must not become a bad reward or a bare crash (issue 41, items 3 and 13)."""
import gzip
import json

import pytest
from typer.testing import CliRunner

from mastune.errors import DataError
from mastune.tasks.datasets import get_task, load_task, read_rows
from mastune.tasks.selection import select_examples

# ---------------------------------------------------------------- 3. items a constant reply passes


def _row(num, ep, code):
    return {"task_id": f"Mbpp/{num}", "prompt": f"task {num}", "entry_point": ep, "code": code,
            "base_input": [[1]], "plus_input": [], "atol": 0}


@pytest.fixture
def mbpp(tmp_path):
    rows = [_row(295, "sum_div", "def sum_div(n):\n    return n\n"),
            _row(164, "are_equivalent", "def are_equivalent(a, b):\n    return a == b\n"),
            # the same oracles under another numbering (a user's file): caught by entry point too
            _row(7001, "sum_div", "def sum_div(n):\n    return n\n")]
    rows += [_row(900 + i, f"f{i}", f"def f{i}(x):\n    return x\n") for i in range(12)]
    path = tmp_path / "MbppPlus.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


CONSTANT = {"Mbpp/295", "Mbpp/164", "Mbpp/7001"}
ALL_TRAIN = {"train": 1.0, "valid": 0.0, "test": 0.0}
ALL_VALID = {"train": 0.0, "valid": 1.0, "test": 0.0}
ALL_TEST = {"train": 0.0, "valid": 0.0, "test": 1.0}


def ids(examples):
    return {e.id for e in examples}


def test_the_listed_items_are_the_constant_oracles():
    from mastune.tasks.datasets import CONSTANT_ANSWERABLE

    assert set(CONSTANT_ANSWERABLE) == {"Mbpp/164", "Mbpp/295"}


@pytest.mark.parametrize("split,fractions", [("train", ALL_TRAIN), ("valid", ALL_VALID), ("validation", ALL_VALID)])
def test_training_splits_leave_out_items_a_constant_passes(mbpp, split, fractions):
    got = ids(get_task("mbpp-plus", path=mbpp, split=split, fractions=fractions).examples)
    assert len(got) == 12 and not got & CONSTANT
    kept = get_task("mbpp-plus", path=mbpp, split=split, fractions=fractions, keep_constant_answerable=True)
    assert ids(kept.examples) >= CONSTANT


def test_load_task_and_select_examples_follow_the_same_rule(mbpp):
    assert not ids(load_task("mbpp-plus", path=mbpp, split="train", seed=3)) & CONSTANT
    every = ids(load_task("mbpp-plus", path=mbpp, split="train", seed=3)) | ids(
        load_task("mbpp-plus", path=mbpp, split="valid", seed=3)) | ids(load_task("mbpp-plus", path=mbpp, split="test", seed=3))
    assert every | CONSTANT == ids(load_task("mbpp-plus", path=mbpp))  # only the constant items went missing
    assert not ids(select_examples("mbpp-plus", path=mbpp, split="train", seed=3).examples) & CONSTANT


def test_evaluation_keeps_them_and_they_say_why(mbpp):
    test = get_task("mbpp-plus", path=mbpp, split="test", fractions=ALL_TEST).examples
    assert ids(test) >= CONSTANT and len(test) == 15
    why = {e.id: e.meta.get("constant_answerable") for e in test}
    assert "any output" in why["Mbpp/164"] and "0 on every input" in why["Mbpp/295"] and why["Mbpp/900"] is None
    assert ids(load_task("mbpp-plus", path=mbpp)) >= CONSTANT  # the whole benchmark (split None) too


# ---------------------------------------------------------------- 13. a truncated or corrupt .jsonl.gz


@pytest.fixture
def gz_bytes():
    rows = [{"question": f"double {i}", "answer": f"#### {2 * i}"} for i in range(200)]
    return gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode())


@pytest.mark.parametrize("cut", [4, 11, 40, 0.5, -9, -1])
def test_a_truncated_gzip_file_is_named_with_the_reason(tmp_path, gz_bytes, cut):
    path = tmp_path / "test.jsonl.gz"
    path.write_bytes(gz_bytes[: int(len(gz_bytes) * cut) if isinstance(cut, float) else cut])
    with pytest.raises(DataError, match=r"test\.jsonl\.gz.*(truncated|not a valid gzip)"):
        read_rows(path)
    with pytest.raises(DataError, match=r"test\.jsonl\.gz"):
        get_task("gsm8k", path=path)


@pytest.mark.parametrize("damage", ["crc", "header", "middle"])
def test_a_corrupt_gzip_file_is_named_with_the_reason(tmp_path, gz_bytes, damage):
    data = bytearray(gz_bytes)
    if damage == "crc":
        data[-8:-4] = b"\x00\x00\x00\x00"
    elif damage == "header":
        data[:2] = b"PK"
    else:
        data[len(data) // 2 : len(data) // 2 + 16] = b"\xff" * 16
    path = tmp_path / "test.jsonl.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"test\.jsonl\.gz: "):
        read_rows(path)


def test_the_cli_says_which_file_and_why_not_aborted(tmp_path, gz_bytes):
    from mastune.cli.main import app

    path = tmp_path / "test.jsonl.gz"
    path.write_bytes(gz_bytes[:-20])
    r = CliRunner().invoke(app, ["eval", "--system", "cot", "--task", "gsm8k", "--data-path", str(path),
                                 "--split", "all", "--out", str(tmp_path / "run")])
    text = " ".join(r.output.split())
    assert r.exit_code != 0 and "test.jsonl.gz" in text and "truncated" in text, r.output
    assert "Aborted" not in r.output
