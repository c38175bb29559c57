"""Prompt layouts of a node's call: predecessors' outputs as text, or a continued conversation.

In the text layout every successor reads its predecessors' outputs as user text,
so the engine evaluates each output once more as prompt in every successor's
slot. In the transcript layout a successor continues the conversation of one
predecessor (that call's messages, then its reply as the assistant turn), so
the engine finds both the predecessor's prompt and its generated tokens in the
slot's KV cache (llm/slots.py routes it there). See prompts.yaml for the rule.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from ..llm.types import Message
from .prompts import messages

if TYPE_CHECKING:
    from ..graph.topology import Node
    from .runtime import NodeOutput

PROMPT_LAYOUTS = ("text", "transcript")


@dataclass(frozen=True)
class Transcript:
    """A node's conversation: the prompt of the call that wrote its output, then that output."""

    messages: tuple[Message, ...]
    covers: frozenset[str]  # ids of the nodes whose outputs it contains (the node's own included)


def node_prompt(node: "Node", inputs: Sequence[tuple["Node", "NodeOutput"]], template: str, *, question: str,
                family_name: str, **fields: Any) -> list[Message]:
    """The node's messages for `template`, in the node's `prompt_layout` (params; default text)."""
    layout = node.params.get("prompt_layout", "text")
    text = messages(template, question=question, family_name=family_name, role=node.role,
                    inputs=[(p.label, o.text) for p, o in inputs], **fields)
    if layout != "transcript":
        return text
    base = _base(inputs, text[0])
    if base is None:
        return text
    rest = [(p.label, o.text) for p, o in inputs if p.id not in base.covers]
    return messages(template, question=question, family_name=family_name, role=node.role, inputs=rest,
                    transcript=base.messages, **fields)


def transcript_of(node: "Node", inputs: Sequence[tuple["Node", "NodeOutput"]], prompt: Sequence[Message],
                  reply: str) -> Transcript | None:
    """What a successor of `node` continues (None in the text layout: nothing to continue)."""
    if node.params.get("prompt_layout", "text") != "transcript":
        return None
    covers = frozenset(p.id for p, _ in inputs) | {node.id}
    return Transcript((*prompt, {"role": "assistant", "content": reply}), covers)


def _base(inputs: Sequence[tuple["Node", "NodeOutput"]], system: Message) -> Transcript | None:
    """The predecessor conversation to continue: the one holding most of the inputs.

    It may hold only outputs of this node's own predecessors (a chain's third node
    must not see the first node's output through the second's conversation), and
    it must open with this template's system message; otherwise None (text layout)."""
    ids = {p.id for p, _ in inputs}
    best: Transcript | None = None
    for _, out in inputs:
        t = out.transcript
        if t is None or not t.covers <= ids or not t.messages or t.messages[0] != system:
            continue
        if best is None or (len(t.covers), len(t.messages)) >= (len(best.covers), len(best.messages)):
            best = t  # ties: the later input in edge order (the most recent conversation)
    return best
