"""Which items a run uses: load once, take the seeded split, then a seeded sample or the first N.

    sel = select_examples("gsm8k", split="test", seed=0, limit=5)
    sel.examples, sel.manifest      # the items, and what a run folder records about them

The manifest (split sizes and id hashes, the data source, the ids used) is
what `mastune eval` writes to meta.json, so a run says exactly what it ran on.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .base import Example
from .datasets import drop_constant_answerable, get_task
from .splits import sample_examples, split_examples, split_manifest


@dataclass
class Selection:
    examples: list[Example]
    manifest: dict[str, Any] = field(default_factory=dict)


def select_examples(task: str, *, path: str | os.PathLike | None = None, split: str | None = "test", seed: int = 0,
                    limit: int | None = None, sample: int | None = None,
                    keep_constant_answerable: bool | None = None) -> Selection:
    """`sample` (a seeded random N, kept in dataset order) or `limit` (the first N) of the split.
    Train and valid leave out items a constant reply passes, as `get_task` does."""
    full = get_task(task, path=path)
    whole = split in ("all", None)
    # One load: the split is derived from it exactly as get_task(split=...) would.
    examples = list(full.examples) if whole else split_examples(full.examples, split, seed=seed)
    examples = drop_constant_answerable(examples, split, keep_constant_answerable)
    if sample is not None:
        examples = sample_examples(examples, sample, seed=seed)
    if limit is not None:
        examples = examples[: max(0, limit)]
    manifest = {} if whole else split_manifest(full.examples, seed=seed, task=task)
    manifest.update({"source": full.source, "used_ids": [e.id for e in examples]})
    return Selection(examples, manifest)
