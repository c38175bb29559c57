"""Render the collaboration roles' messages from prompts.yaml."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

from ...agents.prompts import family
from ...llm.types import Message

PROMPTS_PATH = Path(__file__).with_name("prompts.yaml")


@functools.lru_cache(maxsize=None)
def _data() -> dict[str, Any]:
    return yaml.safe_load(PROMPTS_PATH.read_text())


def default_experts(family_name: str) -> list[str]:
    return list(_data()["default_experts"][family(family_name).name])


def block(name: str, **fields: Any) -> str:
    """An optional prompt block; empty when its main field is empty."""
    if not any(str(v).strip() for v in fields.values()):
        return ""
    return _data()["blocks"][name].format(**{k: str(v).strip() for k, v in fields.items()})


def text(name: str) -> str:
    return _data()["blocks"][name]


def render(role: str, *, question: str, family_name: str, **fields: Any) -> list[Message]:
    """System + user messages of one role's call."""
    spec = _data()["roles"][role]
    fam = family(family_name)
    values = {"question": question.strip(), "format": fam.format, "solve": _data()["solve_instruction"][fam.name],
              **fields}
    # One system message for every role (shared prefix); the role's persona goes
    # into the user message after the shared content. A role may still set its own.
    system = spec.get("system", _data().get("system", ""))
    if "persona" in spec:
        values["persona"] = spec["persona"].format_map(values).strip()
    return [
        {"role": "system", "content": system.format_map(values).strip()},
        {"role": "user", "content": spec["user"].format_map(values)},
    ]
