"""debate: LLM-Debate; round 1 independent, in round r each agent reads every round r-1 answer; vote."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ....graph import generators as gen
from ....graph.topology import Node, Topology
from ..config import SystemConfig, layout


@layout("debate")
@dataclass
class DebateConfig(SystemConfig):
    prompt: str = "cot"  # round 1's template (later rounds: debate)
    agents: int = 3
    rounds: int = 2
    agent_models: list[str | None] | None = None  # per debater (cycled)

    def validate(self) -> None:
        super().validate()
        self.positive("agents", "rounds")

    def slot_models(self) -> list[str | None]:
        return list(self.agent_models or [])

    def models_replaced(self, m: Callable[[str | None], str | None]) -> dict[str, Any]:
        return {"agent_models": [m(x) for x in self.agent_models] if self.agent_models else None}

    def topology(self, c) -> Topology:
        k, r = self.agents, self.rounds
        ids = [f"r{j + 1}-a{i + 1}" for j in range(r) for i in range(k)]
        nodes = [
            Node(nid, role=f"debater {i % k + 1}", prompt=self.prompt if i < k else "debate",
                 models=[c.agent_model(self.agent_models, i % k)], params=c.params(nid))
            for i, nid in enumerate(ids)
        ]
        nodes.append(Node("vote", kind="vote", prompt="", models=[]))
        edges = gen.edges_to_ids(gen.layered([k] * r), ids) + [(i, "vote") for i in ids[-k:]]
        return Topology(nodes, edges, output="vote")
