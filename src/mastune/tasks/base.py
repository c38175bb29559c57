"""Core task types shared by loaders, extractors and graders."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import MastuneError

TaskFamily = Literal["math", "code", "mcq"]


class DataNotFound(MastuneError):
    """A benchmark's data could not be found in any of the places tried."""


class GradingError(MastuneError):
    """Grading itself failed (e.g. the reference solution could not be run).

    Raised instead of scoring the reply as wrong, so infrastructure faults
    never hide inside accuracy numbers.
    """


@dataclass(frozen=True)
class Example:
    """One benchmark item.

    `question` is the full text shown to a model (mcq: with lettered options;
    code: the signature + docstring prompt). `answer` is the gold answer as text
    (math: final answer; mcq: the letter; code: the canonical solution).
    `meta` holds task-specific data (choices, tests, inputs, subject, ...).
    """

    id: str
    question: str
    answer: str
    family: TaskFamily
    # meta is a dict, so it is left out of hashing and equality: two loads of
    # the same item compare equal by id/question/answer/family.
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def task(self) -> str:
        """Name of the benchmark this example came from (e.g. "gsm8k")."""
        return str(self.meta.get("task", ""))


@dataclass
class Grade:
    """Did a reply get an example right? `parsed` False: no answer could be found
    ("unparsed"), reported apart from a parsed but wrong answer."""

    correct: bool
    parsed: bool
    predicted: str | None
    method: str  # how the answer was extracted (see extract.Extracted.method), or "code"
    detail: str = ""
    # e.g. "constant_answerable": a constant reply could pass this item (see tasks/code.py)
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Task:
    """A named benchmark: its family, examples and where they were read from."""

    name: str
    family: TaskFamily
    examples: list[Example]
    source: str  # human-readable origin: a file name or a hub dataset id

    def __len__(self) -> int:
        return len(self.examples)

    def __iter__(self):
        return iter(self.examples)
