"""The record of one run: every call (node, slot, model, messages, output, usage).

Plain dataclasses that round-trip through JSON, so a run can be inspected
(`mastune trace show`), graded per node (HieraMAS node rewards) or replayed
as training data later.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..graph.topology import Topology
from ..io import dump_json
from ..llm.types import Message, Usage


@dataclass
class CallRecord:
    node: str
    slot: str  # "proposer 0" | "synthesiser" | "agent" | "decision"
    model: str
    messages: list[Message]
    output: str
    usage: Usage
    max_tokens: int
    temperature: float
    rollout: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "usage": self.usage.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CallRecord":
        return cls(**{**d, "usage": Usage.from_dict(d["usage"])})


@dataclass
class NodeRecord:
    id: str
    status: str  # "done" | "skipped" (removed by a synthesiser skip)
    output: str = ""
    answer: str | None = None
    usage: Usage = field(default_factory=Usage)
    started: float = 0.0
    finished: float = 0.0
    note: str = ""  # e.g. "consensus" when the decision node made no call

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "usage": self.usage.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "NodeRecord":
        return cls(**{**d, "usage": Usage.from_dict(d.get("usage", {}))})


@dataclass
class Trace:
    system: str
    question: str
    family: str
    topology: Topology | None  # as configured, skipped nodes included; None: a loop, not a DAG (collab)
    calls: list[CallRecord] = field(default_factory=list)
    nodes: dict[str, NodeRecord] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)  # what skip resolution removed, in words
    answer_text: str = ""
    extracted_answer: str | None = None
    usage: Usage = field(default_factory=Usage)
    wall_s: float = 0.0

    def calls_of(self, node_id: str) -> list[CallRecord]:
        return [c for c in self.calls if c.node == node_id]

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "question": self.question,
            "family": self.family,
            "topology": self.topology.to_dict() if self.topology is not None else None,
            "nodes": [n.to_dict() for n in self.nodes.values()],
            "calls": [c.to_dict() for c in self.calls],
            "dropped": list(self.dropped),
            "answer_text": self.answer_text,
            "extracted_answer": self.extracted_answer,
            "usage": self.usage.to_dict(),
            "wall_s": round(self.wall_s, 4),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Trace":
        nodes = [NodeRecord.from_dict(n) for n in d.get("nodes", [])]
        return cls(
            system=d["system"],
            question=d["question"],
            family=d["family"],
            topology=Topology.from_dict(d["topology"]) if d.get("topology") is not None else None,
            calls=[CallRecord.from_dict(c) for c in d.get("calls", [])],
            nodes={n.id: n for n in nodes},
            dropped=list(d.get("dropped", [])),
            answer_text=d.get("answer_text", ""),
            extracted_answer=d.get("extracted_answer"),
            usage=Usage.from_dict(d.get("usage", {})),
            wall_s=d.get("wall_s", 0.0),
        )

    def to_json(self, path: str | Path | None = None) -> str:
        return dump_json(self.to_dict(), path)

    @classmethod
    def from_json(cls, path: str | Path) -> "Trace":
        return cls.from_dict(json.loads(Path(path).read_text()))
