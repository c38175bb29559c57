"""What a benchmark loader declares: its name, family, where its data lives, how rows become Examples."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..base import Example, TaskFamily


@dataclass(frozen=True)
class Spec:
    name: str
    family: TaskFamily
    files: tuple[str, ...]  # candidates, relative to a data folder
    hub: tuple[tuple[str, str | None, str], ...]  # (dataset id, config, split)
    build: Callable[..., list[Example]]
    hub_subject_configs: bool = False  # one hub config per MMLU subject
