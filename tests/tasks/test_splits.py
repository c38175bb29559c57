import random

import pytest

from mastune.tasks.base import Example
from mastune.tasks.splits import (
    DEFAULT_FRACTIONS,
    assign_splits,
    ids_sha256,
    sample_examples,
    split_examples,
    split_manifest,
)


def _examples(n, prefix="t"):
    return [Example(f"{prefix}/{i}", f"q{i}", str(i), "math", {}) for i in range(n)]


def test_default_fractions_documented():
    assert DEFAULT_FRACTIONS == {"train": 0.5, "valid": 0.1, "test": 0.4}


def test_disjoint_covering_exact_counts():
    exs = _examples(1319)
    parts = {s: split_examples(exs, s, seed=0) for s in ("train", "valid", "test")}
    ids = [e.id for p in parts.values() for e in p]
    assert len(ids) == len(set(ids)) == 1319
    assert [len(parts[s]) for s in ("train", "valid", "test")] == [660, 131, 528]  # cumulative rounding: 660, 791, 1319


def test_stable_and_independent_of_input_order():
    exs = _examples(300)
    shuffled = exs[:]
    random.Random(1).shuffle(shuffled)
    for s in ("train", "valid", "test"):
        a = {e.id for e in split_examples(exs, s, seed=3)}
        b = {e.id for e in split_examples(shuffled, s, seed=3)}
        assert a == b
        assert a == {e.id for e in split_examples(list(exs), s, seed=3)}


def test_keeps_dataset_order_within_a_split():
    exs = _examples(100)
    test = split_examples(exs, "test", seed=0)
    assert [int(e.id.split("/")[1]) for e in test] == sorted(int(e.id.split("/")[1]) for e in test)


def test_seeds_differ():
    exs = _examples(200)
    a = {e.id for e in split_examples(exs, "train", seed=0)}
    b = {e.id for e in split_examples(exs, "train", seed=1)}
    assert a != b


def test_custom_fractions_and_aliases():
    exs = _examples(10)
    f = {"train": 0.0, "valid": 0.0, "test": 1.0}
    assert len(split_examples(exs, "test", fractions=f)) == 10
    assert len(split_examples(exs, "validation")) == len(split_examples(exs, "valid")) == 1


@pytest.mark.parametrize("bad", [{"train": 0.5, "test": 0.4}, {"train": 1.2, "test": -0.2}, {"dev": 1.0}])
def test_bad_fractions_raise(bad):
    with pytest.raises(ValueError):
        assign_splits(["a", "b"], fractions=bad)


def test_bad_split_name_and_duplicate_ids_raise():
    with pytest.raises(ValueError):
        split_examples(_examples(3), "holdout")
    with pytest.raises(ValueError):
        assign_splits(["a", "a"])


def test_manifest_records_everything():
    exs = _examples(50)
    m = split_manifest(exs, seed=7, task="toy")
    assert m["seed"] == 7 and m["task"] == "toy" and m["n"] == 50
    assert m["fractions"] == DEFAULT_FRACTIONS
    total = sum(m["splits"][s]["n"] for s in ("train", "valid", "test"))
    assert total == 50
    for s in ("train", "valid", "test"):
        ids = m["splits"][s]["ids"]
        assert ids == [e.id for e in split_examples(exs, s, seed=7)]
        assert m["splits"][s]["sha256"] == ids_sha256(ids)
    assert split_manifest(list(reversed(exs)), seed=7)["splits"]["test"]["sha256"] == m["splits"]["test"]["sha256"]


def test_ids_sha256_is_order_free():
    assert ids_sha256(["a", "b"]) == ids_sha256(["b", "a"]) != ids_sha256(["a"])


def test_sample_is_seeded_ordered_and_spread():
    exs = _examples(200)
    a = sample_examples(exs, 20, seed=0)
    assert len(a) == 20 and len({e.id for e in a}) == 20
    assert [e.id for e in a] == [e.id for e in exs if e in a]  # dataset order kept
    assert sample_examples(list(reversed(exs)), 20, seed=0) == a[::-1]  # same set, same sample
    assert {e.id for e in a} != {e.id for e in sample_examples(exs, 20, seed=1)}
    assert max(int(e.id.split("/")[1]) for e in a) > 100  # not the first N
    assert sample_examples(exs, 500) == exs and sample_examples(exs, 0) == []
    with pytest.raises(ValueError):
        sample_examples(exs, -1)
