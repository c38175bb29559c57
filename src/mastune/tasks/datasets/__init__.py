"""Benchmark loaders: one module per family (math_like, multiple_choice, code), a registry
of their Specs, file reading (files.py) and data discovery (locate.py)."""
from __future__ import annotations

import inspect
import os
from typing import Any

from ...errors import ConfigError, DataError
from ..base import DataNotFound, Example, Task
from ..splits import normalize_split, split_examples
from .code import CONSTANT_ANSWERABLE, reference_program
from .files import Row, read_rows
from .locate import data_dir_candidates, find_rows, locate_rows
from .multiple_choice import MMLU_SUBJECTS_30, MMLU_SUBJECTS_57, format_mcq, normalize_error_type
from .registry import REGISTRY, get_spec, split_name, task_names
from .spec import Spec

__all__ = [
    "DataNotFound", "DataError", "Row", "Spec", "REGISTRY", "MMLU_SUBJECTS_30", "MMLU_SUBJECTS_57",
    "data_dir_candidates", "find_rows", "format_mcq", "get_spec", "get_task", "load_task",
    "normalize_error_type", "read_rows", "reference_program", "task_names", "drop_constant_answerable",
    "locate_rows", "CONSTANT_ANSWERABLE",
]


def get_task(name: str, *, path: str | os.PathLike | None = None, split: str | None = None, seed: int = 0,
             limit: int | None = None, fractions: dict[str, float] | None = None,
             keep_constant_answerable: bool | None = None, **options: Any) -> Task:
    """Load a benchmark as a `Task` (examples + where they came from).

    split: None/"all", or "train"/"valid"/"test" of the seeded split (splits.py).
    limit: keep the first `limit` examples (after splitting), in dataset order.
    options go to the loader, e.g. drop_flawed=True or subjects=[...] for MMLU-Redux.
    A name may carry that subject list itself, so CLI users can pick subjects:
    "mmlu-redux:college_physics,professional_medicine,abstract_algebra".
    keep_constant_answerable: items a constant reply passes by the benchmark's own oracle
    (`constant_answerable` in their meta; see datasets/code.py) teach a constant as a reward,
    so the train and valid splits leave them out unless True; other splits keep them
    unless False (evaluation keeps the benchmark's rule and flags their grades).
    """
    spec = get_spec(name)
    allowed = [p for p in inspect.signature(spec.build).parameters if p != "rows"]
    subjects = split_name(name)[1]
    if ":" in name:
        if "subjects" not in allowed:
            raise ConfigError(f"task {spec.name!r} has no subjects to select (drop the ':...' part of {name!r})")
        if not subjects:
            raise ConfigError(f"{name!r}: name at least one subject after ':'")
        if "subjects" in options:
            raise ConfigError(f"{name!r}: give the subjects in the name or as an option, not both")
        options["subjects"] = subjects
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(f"task {spec.name!r} has no option(s) {unknown}; it takes {allowed or 'none'}")
    rows, source, files = locate_rows(spec, path)
    try:
        examples = spec.build(rows, **options)
    except DataError as e:  # the family loader names the row; the file is named here
        raise DataError(f"{source}: {e} (task {spec.name!r})") from None
    for e in examples:  # a code grader masks these in its sandbox: they hold the reference solutions
        e.meta["data_files"] = tuple(files)
    if options.get("subjects"):
        found = {e.meta.get("subject") for e in examples}
        missing = sorted(set(options["subjects"]) - found)
        if missing:
            raise ConfigError(f"task {spec.name!r} has no subject(s) {missing} in {source}")
    if split not in (None, "all"):
        examples = split_examples(examples, split, seed=seed, fractions=fractions)
    examples = drop_constant_answerable(examples, split, keep_constant_answerable)
    if limit is not None:
        examples = examples[: max(0, limit)]
    return Task(spec.name, spec.family, examples, source)


def drop_constant_answerable(examples: list[Example], split: str | None, keep: bool | None = None) -> list[Example]:
    """Without the items a constant reply passes, where they would be rewards: by default
    on the train and valid splits (see `get_task`)."""
    if keep is None:
        keep = split in (None, "all") or normalize_split(split) == "test"
    return examples if keep else [e for e in examples if not e.meta.get("constant_answerable")]


def load_task(name: str, *, path: str | os.PathLike | None = None, split: str | None = None, seed: int = 0,
              limit: int | None = None, **options: Any) -> list[Example]:
    """Examples of a benchmark; see `get_task` for the arguments (train and valid leave out
    the items a constant reply passes)."""
    return get_task(name, path=path, split=split, seed=seed, limit=limit, **options).examples
