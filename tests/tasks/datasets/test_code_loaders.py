"""Code loaders (HumanEval+, MBPP+)."""
import json

import pytest

from mastune.tasks.datasets import data_dir_candidates, load_task

needs_shared = pytest.mark.skipif(not data_dir_candidates(), reason="shared benchmark data not found")


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
