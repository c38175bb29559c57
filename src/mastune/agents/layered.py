"""Role-free prompts of layered (NeuroMAS) nodes; the text lives in layered.yaml."""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Sequence

import yaml

from ..llm.types import Message

LAYERED_PROMPTS = Path(__file__).with_name("layered.yaml")


@functools.lru_cache(maxsize=None)
def _data() -> dict:
    return yaml.safe_load(LAYERED_PROMPTS.read_text())


def prompt_fingerprint(answer_format: str = "") -> str:
    """Hash of the prompt templates (+ the task's answer format): a checkpoint is only valid for these."""
    h = hashlib.sha256(LAYERED_PROMPTS.read_bytes())
    h.update(b"\x00" + answer_format.encode())
    return h.hexdigest()[:16]


def render_context(layer: int, messages: Sequence[str]) -> str:
    """The previous layer's messages, labelled by 1-based index. Empty messages are left out,
    so a node that writes nothing adds nothing to the prompts of the next layer."""
    ctx = _data()["context"]
    items = [ctx["item"].format(index=i + 1, text=t.strip()) for i, t in enumerate(messages) if t.strip()]
    return ctx["header"].format(layer=layer) + "".join(items) if items else ""


def layered_messages(question: str, *, layer: int, index: int, output: bool,
                     previous: Sequence[str] = (), answer_format: str = "") -> list[Message]:
    """Chat messages of one node. layer from 1, index from 0 (shown 1-based);
    previous: the outputs of layer-1's nodes in index order (none for layer 1);
    answer_format: how the output node must write its final answer (the task family's format)."""
    t = _data()["output" if output else "hidden"]
    fields = {"layer": layer, "index": index + 1, "question": question.strip(),
              "context": render_context(layer - 1, previous), "format": answer_format}
    return [{"role": "system", "content": t["system"].format_map(fields).strip()},
            {"role": "user", "content": t["user"].format_map(fields).strip()}]
