"""select_examples: one load, the seeded split, then a seeded sample or the first N, and its manifest."""
import json

import pytest

from mastune.tasks.selection import select_examples
from mastune.tasks.splits import sample_examples, split_examples


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "g.jsonl"
    path.write_text("".join(json.dumps({"question": f"Q{i}?", "answer": f"so\n#### {i}"}) + "\n" for i in range(40)))
    return path


def test_split_then_sample_or_limit_and_the_manifest_names_them(data):
    whole = select_examples("gsm8k", path=data, split="all")
    assert len(whole.examples) == 40 and whole.manifest["used_ids"] == [e.id for e in whole.examples]
    test = split_examples(whole.examples, "test", seed=3)
    first = select_examples("gsm8k", path=data, split="test", seed=3, limit=4)
    assert first.examples == test[:4] and first.manifest["used_ids"] == [e.id for e in test[:4]]
    assert first.manifest["source"] == whole.manifest["source"] and "test" in json.dumps(first.manifest)
    some = select_examples("gsm8k", path=data, split="test", seed=3, sample=5)
    assert some.examples == sample_examples(test, 5, seed=3) and some.examples != test[:5]
