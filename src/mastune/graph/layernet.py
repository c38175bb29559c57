"""NeuroMAS layered networks as topology data.

`layers` lists the widths of the hidden layers; one output node follows them:
[1, 1] -> NeuroMAS-3, [2, 2] -> NeuroMAS-5, [2, 2, 2] -> NeuroMAS-7, [] -> one call
(the single-LLM baseline). Every node of layer l reads the task and every output of
layer l-1 (layer 1 reads only the task); the output node is layer len(layers) + 1.

Node ids: "h{layer}_{index}" for hidden nodes (layer from 1, index from 0) and
"out" for the output node. They name the node's adapter too, so they avoid dots
(peft keeps adapters in module dicts, where "." is not allowed).
"""
from __future__ import annotations

from typing import Sequence

from ..errors import ConfigError
from .generators import edges_to_ids, layered
from .topology import Node, Topology

OUTPUT = "out"


def parse_layers(value: str | Sequence[int]) -> tuple[int, ...]:
    """"2,2" / [2, 2] -> (2, 2); "" / [] -> () (no hidden layer)."""
    if isinstance(value, str):
        parts = [p.strip() for p in value.replace(" ", ",").split(",") if p.strip()]
        try:
            value = [int(p) for p in parts]
        except ValueError:
            raise ConfigError(f"layers must be comma-separated widths such as 1,1 or 2,2,2; got {value!r}") from None
    widths = tuple(int(w) for w in value)
    if any(w < 1 for w in widths):
        raise ConfigError(f"every hidden layer needs at least one node; got widths {list(widths)}")
    return widths


def node_id(layer: int, index: int) -> str:
    return f"h{layer}_{index}"


def node_ids(layers: Sequence[int]) -> list[str]:
    """All node ids, layer by layer, the output node last."""
    return [node_id(l, i) for l, w in enumerate(layers, 1) for i in range(w)] + [OUTPUT]


def calls(layers: Sequence[int]) -> int:
    """LLM calls per forward pass (the c of NeuroMAS-c)."""
    return sum(layers) + 1


def network_name(layers: Sequence[int]) -> str:
    return f"NeuroMAS-{calls(layers)}"


def layered_network(layers: str | Sequence[int]) -> Topology:
    """The layered topology; node params hold `layer`, `index` and (output node) `output: True`.

    Each node has one model slot named like the node: its adapter (one pool entry per node)."""
    widths = parse_layers(layers)
    nodes = [Node(node_id(l, i), prompt="layered", models=[node_id(l, i)], answers=False,
                  params={"layer": l, "index": i})
             for l, w in enumerate(widths, 1) for i in range(w)]
    nodes.append(Node(OUTPUT, prompt="layered", models=[OUTPUT], answers=True,
                      params={"layer": len(widths) + 1, "index": 0, "output": True}))
    edges = edges_to_ids(layered([*widths, 1]), [n.id for n in nodes])
    return Topology(nodes, edges, output=OUTPUT)


def layer_groups(topology: Topology) -> list[list[str]]:
    """Node ids grouped by layer, in order: the forward pass runs one group at a time."""
    groups: dict[int, list[str]] = {}
    for n in topology.nodes:
        groups.setdefault(int(n.params["layer"]), []).append(n.id)
    return [groups[k] for k in sorted(groups)]
