"""graph: role agents (or supernodes) over a generated or given DAG, then the decision node."""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any, Callable

from ....agents.prompts import Role
from ....agents.transcript import PROMPT_LAYOUTS
from ....errors import ConfigError
from ....graph import generators as gen
from ....graph.topology import Node, Topology
from ..config import SystemConfig, layout

GENERATORS = ("chain", "star", "full", "layered", "random", "edges")


@layout("graph")
@dataclass
class GraphConfig(SystemConfig):
    # generator + its params (width/sizes, hub, seed, density, per_question) or explicit edges per family
    graph: dict[str, Any] = field(default_factory=lambda: {"generator": "chain"})
    roles: dict[str, list[str]] | None = None  # family -> the roles to use (default: all, in data order)
    supernodes: bool = False  # each role = P proposers + a synthesiser
    proposers: int = 2
    proposer_temperature: float | None = None
    # role name or node id -> {proposers: [model|skip|null...], synthesiser: model|skip|null} or {model: m}
    assignments: dict[str, dict[str, Any]] = field(default_factory=dict)
    decision_model: str | None = None
    consensus: bool = True  # decision node: no call when all answers agree
    # "text": predecessors' outputs as text; "transcript": a successor continues a predecessor's
    # conversation, so the engine reuses that prompt and reply from its KV cache (agents/transcript.py).
    # Not the default: in it Qwen2.5-Coder-1.5B copies the reply it continues (benchmarks/RESULTS.md).
    prompt_layout: str = "text"

    def validate(self) -> None:
        super().validate()
        self.positive("proposers")
        if self.prompt_layout not in PROMPT_LAYOUTS:
            raise self.bad(f"prompt_layout {self.prompt_layout!r} is not one of {PROMPT_LAYOUTS}")
        kind = self.generator
        if kind not in GENERATORS:
            raise self.bad(f"graph generator {kind!r} is not one of {GENERATORS}")
        if kind == "edges" and not isinstance(self.graph.get("edges"), dict):
            raise self.bad("graph.edges must map a family to a list of [src, dst] role pairs")
        for key, spec in self.assignments.items():
            extra = set(spec) - {"proposers", "synthesiser", "model"}
            if extra:
                raise self.bad(f"assignment {key!r}: unknown keys {sorted(extra)}")
            if not self.supernodes and set(spec) - {"model"}:
                raise self.bad(f"assignment {key!r}: proposers/synthesiser need `supernodes: true`")

    @property
    def generator(self) -> str:
        return self.graph.get("generator", "edges" if "edges" in self.graph else "chain")

    def slot_models(self) -> list[str | None]:
        names: list[str | None] = [self.decision_model]
        for spec in self.assignments.values():
            names += list(spec.get("proposers") or []) + [spec.get("synthesiser"), spec.get("model")]
        return names

    def models_replaced(self, m: Callable[[str | None], str | None]) -> dict[str, Any]:
        return {
            "decision_model": m(None),  # m(None): the model itself
            "assignments": {k: {kk: ([m(x) for x in v] if kk == "proposers" else m(v)) for kk, v in spec.items()}
                            for k, spec in self.assignments.items()},
        }

    def topology(self, c) -> Topology:
        roles = self._roles(c)
        ids = [r.id for r in roles]
        nodes = [self._role_node(c, r) for r in roles]
        answering = [n.id for n in nodes if n.answers]
        if not answering:
            raise ConfigError(f"system {self.name!r}: no answer-producing role among {[r.name for r in roles]}")
        decision = Node("decision", kind="decision", prompt="decision", models=[c.m(self.decision_model)],
                        params=self._layout_param(c.params("decision", temperature=0.0, consensus=self.consensus)))
        edges = gen.edges_to_ids(self._role_edges(c, roles), ids) + [(i, "decision") for i in answering]
        return Topology(nodes + [decision], edges, output="decision")

    def _roles(self, c) -> list[Role]:
        names = (self.roles or {}).get(c.family.name)
        return [c.family.role(n) for n in names] if names else list(c.family.roles)

    def _role_node(self, c, role: Role) -> Node:
        spec = self.assignments.get(role.name) or self.assignments.get(role.id) or {}
        params = self._layout_param(c.params(role.id, role.name))
        if not self.supernodes:
            return Node(role.id, role=role.name, prompt="role", models=[c.m(spec.get("model"))], answers=role.answers,
                        params=params)
        proposers = spec.get("proposers") or [spec.get("model")] * self.proposers
        if self.proposer_temperature is not None:
            params.setdefault("proposer_temperature", self.proposer_temperature)
        return Node(role.id, role=role.name, prompt="role", models=[c.m(p) for p in proposers],
                    synthesiser=c.m(spec.get("synthesiser") or spec.get("model")), answers=role.answers, params=params)

    def _layout_param(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.prompt_layout != "text":  # the default stays out of node params (and of traces)
            params["prompt_layout"] = self.prompt_layout
        return params

    def _role_edges(self, c, roles: list[Role]) -> list[tuple[int, int]]:
        g, n, kind = self.graph, len(roles), self.generator
        if kind == "chain":
            return gen.chain(n)
        if kind == "star":
            hub = g.get("hub", 0)
            return gen.star(n, hub if isinstance(hub, int) else _index(roles, hub))
        if kind == "full":
            return gen.full(n)
        if kind == "layered":
            sizes = g.get("sizes") or gen.layer_sizes(n, int(g.get("width", 2)))
            if sum(sizes) != n:
                raise ConfigError(f"system {self.name!r}: layer sizes {sizes} do not add up to {n} roles")
            return gen.layered(sizes)
        if kind == "random":
            seed = g.get("seed", 0)
            if g.get("per_question", True):
                # A different DAG per question, yet reproducible (and cache-friendly) across runs.
                seed = int(hashlib.sha256(f"{seed}\x00{c.question}".encode()).hexdigest()[:12], 16)
            return gen.random_dag(n, tuple(g.get("density", (0.0, 1.0))), random.Random(seed))
        pairs = g["edges"].get(c.family.name)
        if pairs is None:
            raise ConfigError(f"system {self.name!r}: graph.edges has no entry for family {c.family.name!r}")
        return [(_index(roles, s), _index(roles, d)) for s, d in pairs]


def _index(roles: list[Role], key: int | str) -> int:
    if isinstance(key, int):
        if not 0 <= key < len(roles):
            raise ConfigError(f"role index {key} is out of range for {len(roles)} roles")
        return key
    for i, r in enumerate(roles):
        if key in (r.name, r.id):
            return i
    raise ConfigError(f"unknown role {key!r}; roles: {[r.name for r in roles]}")
