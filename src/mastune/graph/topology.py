"""A topology as plain data: a node list and an edge list (like edge_index).

Nodes say *what* runs (kind, role, prompt template, model slots); edges say
who reads whom. Nothing here calls a model, so a topology can be generated,
scored, saved and diffed without an engine.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable

import yaml

from ..errors import ConfigError
from ..io import dump_json, dump_yaml

SKIP = "skip"  # a model slot that is switched off (HieraMAS "skip" token)
NODE_KINDS = ("agent", "decision", "vote")


class GraphError(ConfigError):
    """A topology is malformed (unknown node, duplicate id, cycle...)."""


class CycleError(GraphError):
    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__("cycle: " + " -> ".join(cycle) + "; a topology must be a DAG, remove one of these edges")

    def __reduce__(self) -> tuple:  # errors travel back from runners' workers: rebuild from the cycle
        return (CycleError, (self.cycle,), dict(self.__dict__))


@dataclass
class Node:
    """One step of the system; runs one or more LLM calls (or none: a vote).

    kind="agent": `models` are the proposer slots; with a `synthesiser` it is a
    supernode (proposers in parallel, then one synthesis call), without one it
    must have a single slot (one call). kind="decision": reads its inputs and
    writes the final answer (models[0]). kind="vote": majority, no call.
    """

    id: str
    kind: str = "agent"
    role: str | None = None  # role name (prompt lookup) and display label
    prompt: str = "cot"  # template key in agents/prompts.yaml
    models: list[str] = field(default_factory=list)
    synthesiser: str | None = None
    answers: bool = True  # emits a gradable answer (feeds decision / vote)
    params: dict[str, Any] = field(default_factory=dict)  # max_tokens, temperature, ...

    @property
    def label(self) -> str:
        return self.role or self.id

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Node":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise GraphError(f"node {d.get('id')!r}: unknown fields {sorted(unknown)}; allowed: {sorted(known)}")
        return cls(**{**d, "models": list(d.get("models") or []), "params": dict(d.get("params") or {})})


@dataclass
class Topology:
    nodes: list[Node]
    edges: list[tuple[str, str]] = field(default_factory=list)
    output: str | None = None  # the node whose text is the system's answer (default: the unique sink)

    def __post_init__(self) -> None:
        self.edges = [(str(s), str(d)) for s, d in self.edges]
        self.validate()

    # ---- structure ---------------------------------------------------------
    @property
    def ids(self) -> list[str]:
        return [n.id for n in self.nodes]

    def node(self, node_id: str) -> Node:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise GraphError(f"no node {node_id!r}; nodes: {self.ids}")

    def predecessors(self) -> dict[str, list[str]]:
        """Inputs of each node, in edge-list order (the order prompts show them)."""
        preds: dict[str, list[str]] = {i: [] for i in self.ids}
        for s, d in self.edges:
            preds[d].append(s)
        return preds

    def successors(self) -> dict[str, list[str]]:
        succ: dict[str, list[str]] = {i: [] for i in self.ids}
        for s, d in self.edges:
            succ[s].append(d)
        return succ

    def sinks(self) -> list[str]:
        succ = self.successors()
        return [i for i in self.ids if not succ[i]]

    @property
    def output_id(self) -> str:
        if self.output is not None:
            return self.output
        sinks = self.sinks()
        if len(sinks) != 1:
            raise GraphError(f"topology has sinks {sinks}; set `output` to the node that gives the answer")
        return sinks[0]

    def topo_order(self) -> list[str]:
        """Kahn's order, stable in node-list order (cycles were rejected earlier)."""
        indeg = {i: 0 for i in self.ids}
        for _, d in self.edges:
            indeg[d] += 1
        succ = self.successors()
        ready = [i for i in self.ids if indeg[i] == 0]
        order: list[str] = []
        while ready:
            i = ready.pop(0)
            order.append(i)
            for d in succ[i]:
                indeg[d] -= 1
                if indeg[d] == 0:
                    ready.append(d)
        return order

    def levels(self) -> dict[str, int]:
        """Longest-path depth from a source (0 for sources): the layer of a layered drawing."""
        preds = self.predecessors()
        level: dict[str, int] = {}
        for i in self.topo_order():
            level[i] = max((level[p] + 1 for p in preds[i]), default=0)
        return level

    def subgraph(self, keep: Iterable[str]) -> "Topology":
        """The induced sub-DAG (edges touching a dropped node vanish, no bridging)."""
        keep = set(keep)
        out = self.output if self.output in keep else None
        return Topology(
            [n for n in self.nodes if n.id in keep],
            [(s, d) for s, d in self.edges if s in keep and d in keep],
            out,
        )

    # ---- validation --------------------------------------------------------
    def validate(self) -> None:
        seen: set[str] = set()
        for n in self.nodes:
            if n.id in seen:
                raise GraphError(f"duplicate node id {n.id!r}")
            if n.kind not in NODE_KINDS:
                raise GraphError(f"node {n.id!r}: kind {n.kind!r} is not one of {NODE_KINDS}")
            seen.add(n.id)
        if self.output is not None and self.output not in seen:
            raise GraphError(f"output {self.output!r} is not a node")
        pairs: set[tuple[str, str]] = set()
        for s, d in self.edges:
            for x in (s, d):
                if x not in seen:
                    raise GraphError(f"edge ({s!r}, {d!r}) names unknown node {x!r}; nodes: {sorted(seen)}")
            if (s, d) in pairs:
                raise GraphError(f"duplicate edge ({s!r}, {d!r})")
            pairs.add((s, d))
        cycle = find_cycle(self.ids, self.edges)
        if cycle:
            raise CycleError(cycle)

    # ---- (de)serialisation -------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"nodes": [n.to_dict() for n in self.nodes], "edges": [[s, t] for s, t in self.edges]}
        if self.output is not None:
            d["output"] = self.output
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Topology":
        return cls([Node.from_dict(n) for n in d["nodes"]], [tuple(e) for e in d.get("edges", [])], d.get("output"))

    def to_json(self, path: str | Path | None = None) -> str:
        return dump_json(self.to_dict(), path)

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> "Topology":
        return cls.from_dict(json.loads(_read(text_or_path)))

    def to_yaml(self, path: str | Path | None = None) -> str:
        return dump_yaml(self.to_dict(), path)

    @classmethod
    def from_yaml(cls, text_or_path: str | Path) -> "Topology":
        return cls.from_dict(yaml.safe_load(_read(text_or_path)))


def _read(text_or_path: str | Path) -> str:
    """A Path, or a string that names an existing file, is read; any other string is the text."""
    if isinstance(text_or_path, Path):
        return text_or_path.read_text()
    try:
        if "\n" not in text_or_path and Path(text_or_path).is_file():
            return Path(text_or_path).read_text()
    except OSError:  # e.g. a long one-line JSON text is "a file name too long"
        pass
    return text_or_path


def find_cycle(ids: list[str], edges: list[tuple[str, str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None. Iterative DFS (no recursion limit)."""
    succ: dict[str, list[str]] = {i: [] for i in ids}
    for s, d in edges:
        succ[s].append(d)
    state = {i: 0 for i in ids}  # 0 new, 1 on the current path, 2 finished
    for root in ids:
        if state[root]:
            continue
        path = [root]
        stack = [iter(succ[root])]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state[nxt] == 1:
                return path[path.index(nxt):] + [nxt]
            elif state[nxt] == 0:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(succ[nxt]))
    return None
