"""single: one answering node (direct answer or CoT)."""
from __future__ import annotations

from dataclasses import dataclass

from ....graph.topology import Node, Topology
from ..config import SystemConfig, layout


@layout("single")
@dataclass
class SingleConfig(SystemConfig):
    prompt: str = "cot"  # template of the answering node

    def topology(self, c) -> Topology:
        return Topology([Node("answer", prompt=self.prompt, models=[c.model], params=c.params("answer"))],
                        output="answer")
