"""samples: self-consistency, N independent samples, majority vote on the extracted answer."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ....graph.topology import Node, Topology
from ..config import SystemConfig, layout


@layout("samples")
@dataclass
class SamplesConfig(SystemConfig):
    prompt: str = "cot"
    samples: int = 5
    agent_models: list[str | None] | None = None  # per sample (cycled)

    def validate(self) -> None:
        super().validate()
        self.positive("samples")

    def slot_models(self) -> list[str | None]:
        return list(self.agent_models or [])

    def models_replaced(self, m: Callable[[str | None], str | None]) -> dict[str, Any]:
        return {"agent_models": [m(x) for x in self.agent_models] if self.agent_models else None}

    def topology(self, c) -> Topology:
        ids = [f"sample-{i}" for i in range(self.samples)]
        nodes = [Node(i, prompt=self.prompt, models=[c.agent_model(self.agent_models, k)], params=c.params(i))
                 for k, i in enumerate(ids)]
        nodes.append(Node("vote", kind="vote", prompt="", models=[]))
        return Topology(nodes, [(i, "vote") for i in ids], output="vote")
