"""Task families, their roles and the prompt templates (data in prompts.yaml)."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import yaml

from ..errors import ConfigError
from ..llm.types import Message

PROMPTS_PATH = Path(__file__).with_name("prompts.yaml")


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    answers: bool = True  # its output is a gradable answer (code: emits code)

    @property
    def id(self) -> str:
        return slug(self.name)


@dataclass(frozen=True)
class Family:
    name: str
    format: str  # how a final answer must be written
    advice_format: str  # what a non-answering role writes instead
    roles: tuple[Role, ...]

    def role(self, name_or_id: str) -> Role:
        for r in self.roles:
            if name_or_id in (r.name, r.id):
                return r
        raise ConfigError(f"family {self.name!r} has no role {name_or_id!r}; roles: {[r.name for r in self.roles]}")


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


@functools.lru_cache(maxsize=None)
def _data() -> dict[str, Any]:
    return yaml.safe_load(PROMPTS_PATH.read_text())


def family_names() -> list[str]:
    return list(_data()["families"])


def canonical_family(name: str) -> str:
    key = name.lower()
    for fam, spec in _data()["families"].items():
        if key == fam or key in spec.get("aliases", []):
            return fam
    raise ConfigError(f"unknown task family {name!r}; use one of {family_names()} (or an alias such as gsm8k, mmlu, humaneval)")


@functools.lru_cache(maxsize=None)
def family(name: str) -> Family:
    fam = canonical_family(name)
    spec = _data()["families"][fam]
    roles = tuple(Role(r["name"], r["description"], bool(r.get("answers", True))) for r in spec["roles"])
    return Family(fam, spec["format"], spec["advice_format"], roles)


def template_names() -> list[str]:
    return list(_data()["templates"])


def render_context(inputs: Sequence[tuple[str, str]]) -> str:
    """Predecessor outputs as 'Agent <label> said: ...' (empty for a source node)."""
    if not inputs:
        return ""
    ctx = _data()["context"]
    return ctx["header"] + "".join(ctx["item"].format(label=label, text=text.strip()) for label, text in inputs)


def render_proposals(texts: Sequence[str]) -> str:
    item = _data()["context"]["proposal"]
    return "".join(item.format(index=i + 1, text=t.strip()) for i, t in enumerate(texts))


def messages(
    template: str,
    *,
    question: str,
    family_name: str,
    role: str | None = None,
    inputs: Sequence[tuple[str, str]] = (),
    proposals: Sequence[str] = (),
    answers: bool = True,
    transcript: Sequence[Message] = (),
) -> list[Message]:
    """Build the chat messages of one call from a template key.

    `transcript` (the transcript layout, see prompts.yaml): the conversation this
    call continues, a predecessor's messages + its reply; the call then adds one
    user message, the template's `user` part without the `task` opening."""
    templates = _data()["templates"]
    if template not in templates:
        raise ConfigError(f"unknown prompt template {template!r}; templates: {template_names()}")
    fam = family(family_name)
    description = ""
    if role is not None:
        try:
            description = fam.role(role).description
        except ConfigError:
            description = ""  # ad-hoc labels (debaters, MoA proposers) have no description
    fields = {
        "question": question.strip(),
        "context": render_context(inputs),
        "proposals": render_proposals(proposals),
        "format": fam.format if answers else fam.advice_format,
        "role": role or "assistant",
        "role_description": description,
        "role_line": f"You are the {role or 'assistant'}. {description}".strip(),
    }
    t = templates[template]
    user = t["user"].format_map(fields)
    if transcript:
        return [dict(m) for m in transcript] + [{"role": "user", "content": user}]
    out: list[Message] = []
    if t.get("system"):
        out.append({"role": "system", "content": t["system"].format_map(fields).strip()})
    out.append({"role": "user", "content": t.get("task", "").format_map(fields) + user})
    return out
