"""BIG-bench tasks (navigate and the other reasoning tasks under shared/data/bigbench).

A BIG-bench `task.json` holds `examples` of two kinds:
- multiple choice: `{"input", "target_scores": {option: 0/1}}` -> an "mcq" Example whose
  question lists the options as lettered choices and whose answer is the gold letter
  (navigate: "A. True / B. False"), graded by the existing mcq grader (a letter, or
  the text of exactly one option such as "True");
- exact string match with a number (object_counting: `"target": ["ten", "10"]`) ->
  a "math" Example whose answer is the digits, graded by the math grader.

The task's own instruction (`task_prefix`) is dropped when rows are read (the row
reader keeps only `examples`), so each task's instruction is stored here as data,
copied verbatim from its task.json.

Option order: kept as in the file, except where the file puts the gold option first
almost always (date_understanding: 364 of 369); there the options are permuted per
item by a hash of the item id (seeded, machine independent), so "always A" is not
a winning strategy.

Hub rows (the `google/bigbench` / `tasksource/bigbench` schema: `inputs`,
`multiple_choice_targets`, `multiple_choice_scores`, `targets`) are converted too;
their `inputs` already carry the instruction, so the prefix is not added again.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Callable

from ..base import Example, TaskFamily

Row = dict[str, Any]
_LETTERS = "ABCDEFGHIJ"
_WORD_NUMBERS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}


@dataclass(frozen=True)
class BigBenchTask:
    """Everything the task registry needs (datasets.Spec fields) for one BIG-bench task."""

    name: str
    family: TaskFamily
    files: tuple[str, ...]
    hub: tuple[tuple[str, str | None, str], ...]
    build: Callable[..., list[Example]]


def _lettered(question: str, choices: list[str]) -> str:
    return question.strip() + "\n\n" + "\n".join(f"{_LETTERS[i]}. {c}" for i, c in enumerate(choices))


def _permutation(n: int, key: str) -> list[int]:
    """A permutation of range(n) fixed by `key` (sha256 order: no `random`, no `hash()`)."""
    return sorted(range(n), key=lambda i: hashlib.sha256(f"{key}:{i}".encode()).hexdigest())


def _mc_rows(row: Row) -> tuple[str, list[str], list[float], bool]:
    """(input, options, scores, input_has_prefix) from a local or a hub row."""
    if "target_scores" in row:
        ts = row["target_scores"]
        return str(row["input"]), [str(k) for k in ts], [float(v) for v in ts.values()], False
    if "multiple_choice_targets" in row:
        return (str(row["inputs"]), [str(c) for c in row["multiple_choice_targets"]],
                [float(s) for s in row["multiple_choice_scores"]], True)
    raise ValueError(f"not a BIG-bench multiple-choice row (no target_scores): keys {sorted(row)}")


def _number(targets: list[str]) -> str | None:
    """The digits of a BIG-bench numeric target list (["ten", "10"] -> "10")."""
    for t in targets:
        if re.fullmatch(r"-?\d+", t.strip()):
            return t.strip()
    for t in targets:
        if t.strip().lower() in _WORD_NUMBERS:
            return str(_WORD_NUMBERS[t.strip().lower()])
    return None


def multiple_choice(task: str, prefix: str, shuffle: bool = False,
                    n_options: int | None = None) -> Callable[[list[Row]], list[Example]]:
    """A loader for a BIG-bench multiple-choice task (exactly one option scores 1).

    n_options: for a subtask (logical_deduction three_objects...), hub rows of the other
    subtasks (one hub config holds them all) are recognised by their option count and skipped."""

    def build(rows: list[Row]) -> list[Example]:
        out = []
        for i, r in enumerate(rows):
            text, options, scores, has_prefix = _mc_rows(r)
            if has_prefix and n_options is not None and len(options) != n_options:
                continue
            gold = [j for j, s in enumerate(scores) if s == 1.0]
            if len(gold) != 1:
                raise ValueError(f"{task}/{i}: expected exactly one correct option, found {len(gold)}")
            ex_id = f"{task}/{i}"
            order = _permutation(len(options), ex_id) if shuffle else list(range(len(options)))
            choices = [options[j] for j in order]
            idx = order.index(gold[0])
            body = text if has_prefix or not prefix else f"{prefix.strip()}\n\n{text.strip()}"
            meta = {"task": task, "choices": choices, "answer_index": idx, "answer_letter": _LETTERS[idx],
                    "answer_text": choices[idx], "source": "bigbench",
                    **{k: r[k] for k in ("inst_type", "n_sentences", "comment") if k in r}}
            out.append(Example(ex_id, _lettered(body, choices), _LETTERS[idx], "mcq", meta))
        return out

    build.__name__ = f"build_{task.replace('-', '_')}"
    return build


def exact_number(task: str, prefix: str = "") -> Callable[[list[Row]], list[Example]]:
    """A loader for a BIG-bench exact-match task whose target is a number (object_counting)."""

    def build(rows: list[Row]) -> list[Example]:
        out = []
        for i, r in enumerate(rows):
            targets = r.get("target", r.get("targets"))
            targets = [str(t) for t in (targets if isinstance(targets, list) else [targets])]
            gold = _number(targets)
            if gold is None:
                raise ValueError(f"{task}/{i}: target {targets!r} holds no number")
            text = str(r.get("input", r.get("inputs", "")))
            body = f"{prefix.strip()}\n\n{text.strip()}" if prefix else text.strip()
            out.append(Example(f"{task}/{i}", body, gold, "math",
                               {"task": task, "targets": targets, "source": "bigbench"}))
        return out

    build.__name__ = f"build_{task.replace('-', '_')}"
    return build


def _mc(name: str, folder: str, prefix: str, hub_config: str, shuffle: bool = False,
        n_options: int | None = None) -> BigBenchTask:
    return BigBenchTask(name, "mcq", (f"bigbench/{folder}/task.json",),
                        (("tasksource/bigbench", hub_config, "validation"),),
                        multiple_choice(name, prefix, shuffle, n_options))


_LD = "The following paragraphs each describe a set of {n} objects arranged in a fixed order. " \
      "The statements are logically consistent within each paragraph."
_COUNTS = {3: "three", 5: "five", 7: "seven"}

# Instructions copied from each task.json's `task_prefix` (tracking_shuffled_objects has none:
# its inputs end in the question itself).
BIGBENCH: tuple[BigBenchTask, ...] = (
    _mc("navigate", "navigate", "If you follow these instructions, do you return to the starting point?", "navigate"),
    _mc("causal-judgment", "causal_judgment",
        "How would a typical person answer each of the following questions about causation?", "causal_judgment"),
    _mc("date-understanding", "date_understanding", "", "date_understanding", shuffle=True),
    _mc("sports-understanding", "sports_understanding",
        "Determine whether the following statement or statements are plausible or implausible:",
        "sports_understanding"),
    *(_mc(f"logical-deduction-{n}", f"logical_deduction/{w}_objects", _LD.format(n=w), "logical_deduction", n_options=n)
      for n, w in _COUNTS.items()),
    *(_mc(f"tracking-shuffled-objects-{n}", f"tracking_shuffled_objects/{w}_objects", "",
          "tracking_shuffled_objects", n_options=n) for n, w in _COUNTS.items()),
    BigBenchTask("object-counting", "math", ("bigbench/object_counting/task.json",),
                 (("tasksource/bigbench", "object_counting", "validation"),), exact_number("object-counting")),
)


# The registry's family interface (see registry.py).
from .spec import Spec  # noqa: E402

SPECS: tuple[Spec, ...] = tuple(Spec(b.name, b.family, b.files, b.hub, b.build) for b in BIGBENCH)
ALIASES: dict[str, str] = {}
