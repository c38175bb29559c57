"""The benchmark registry: every family module contributes its Specs and name aliases."""
from __future__ import annotations

from ...errors import ConfigError
from . import bigbench, code, math_like, multiple_choice
from .spec import Spec

FAMILIES = (math_like, multiple_choice, code, bigbench)

REGISTRY: dict[str, Spec] = {s.name: s for fam in FAMILIES for s in fam.SPECS}
_ALIASES: dict[str, str] = {k: v for fam in FAMILIES for k, v in fam.ALIASES.items()}


def task_names() -> list[str]:
    return sorted(REGISTRY)


def split_name(name: str) -> tuple[str, list[str]]:
    """'mmlu-redux:college_physics,abstract_algebra' -> ('mmlu-redux', ['college_physics', 'abstract_algebra'])."""
    base, _, selector = name.partition(":")
    return base, [s.strip() for s in selector.split(",") if s.strip()]


def get_spec(name: str) -> Spec:
    """The Spec of a task name (a ':subject,...' selector after it is ignored here)."""
    key = split_name(name)[0].strip().lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    if key not in REGISTRY:
        raise ConfigError(f"unknown task {name!r}; known: {', '.join(task_names())}")
    return REGISTRY[key]
