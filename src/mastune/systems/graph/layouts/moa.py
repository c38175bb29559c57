"""moa: Mixture-of-Agents; proposer layers fully connected, one aggregator at the end."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ....graph import generators as gen
from ....graph.topology import Node, Topology
from ..config import SystemConfig, layout


@layout("moa")
@dataclass
class MoAConfig(SystemConfig):
    prompt: str = "cot"  # layer 1's template (later layers: aggregate)
    layers: list[list[str | None]] = field(default_factory=lambda: [[None, None, None]])
    aggregator: str | None = None

    def validate(self) -> None:
        super().validate()
        if not self.layers or not all(self.layers):
            raise self.bad("moa needs at least one non-empty layer of proposers")

    def slot_models(self) -> list[str | None]:
        return [self.aggregator, *(m for layer in self.layers for m in layer)]

    def models_replaced(self, m: Callable[[str | None], str | None]) -> dict[str, Any]:
        return {"layers": [[m(x) for x in layer] for layer in self.layers], "aggregator": m(None)}  # m(None): the model itself

    def topology(self, c) -> Topology:
        nodes: list[Node] = []
        for j, layer in enumerate(self.layers):
            for i, model in enumerate(layer):
                nid = f"l{j + 1}-p{i + 1}"
                nodes.append(Node(nid, role=f"proposer {i + 1}", prompt=self.prompt if j == 0 else "aggregate",
                                  models=[c.m(model)], params=c.params(nid)))
        ids = [n.id for n in nodes]
        nodes.append(Node("aggregator", role="aggregator", prompt="aggregate", models=[c.m(self.aggregator)],
                          params=c.params("aggregator")))
        last = ids[-len(self.layers[-1]):]
        edges = gen.edges_to_ids(gen.layered([len(layer) for layer in self.layers]), ids) + [(i, "aggregator") for i in last]
        return Topology(nodes, edges, output="aggregator")
