"""SystemConfig + task family (+ question) -> the Topology the executor runs.

One small function per layout; all of them only emit nodes and edges.
"""
from __future__ import annotations

import hashlib
import random
from typing import Any, Callable

from ..agents.prompts import Role, family
from ..errors import ConfigError
from ..graph import generators as gen
from ..graph.topology import Node, Topology
from .config import SystemConfig


def build_topology(cfg: SystemConfig, family_name: str, default_model: str, question: str = "") -> Topology:
    return LAYOUT_BUILDERS[cfg.layout](_Ctx(cfg, family_name, cfg.model or default_model, question))


class _Ctx:
    def __init__(self, cfg: SystemConfig, family_name: str, model: str, question: str) -> None:
        self.cfg, self.family, self.model, self.question = cfg, family(family_name), model, question

    def m(self, name: str | None) -> str:
        return name or self.model

    def params(self, node_id: str, role: str | None = None, **base: Any) -> dict[str, Any]:
        """System defaults, then the node's own settings from `nodes:` (by id, then role name)."""
        p: dict[str, Any] = {"max_tokens": self.cfg.max_tokens, "temperature": self.cfg.temperature, **base}
        for key in (node_id, role):
            if key and key in self.cfg.nodes:
                p.update(self.cfg.nodes[key])
        return p


def _single(c: _Ctx) -> Topology:
    return Topology([Node("answer", prompt=c.cfg.prompt, models=[c.model], params=c.params("answer"))], output="answer")


def _agent_model(c: _Ctx, i: int) -> str:
    models = c.cfg.agent_models
    return c.m(models[i % len(models)] if models else None)


def _samples(c: _Ctx) -> Topology:
    """Self-consistency: N independent samples, majority vote on the extracted answer."""
    ids = [f"sample-{i}" for i in range(c.cfg.samples)]
    nodes = [Node(i, prompt=c.cfg.prompt, models=[_agent_model(c, k)], params=c.params(i)) for k, i in enumerate(ids)]
    nodes.append(Node("vote", kind="vote", prompt="", models=[]))
    return Topology(nodes, [(i, "vote") for i in ids], output="vote")


def _debate(c: _Ctx) -> Topology:
    """LLM-Debate: round 1 independent; in round r each agent reads every round r-1 answer."""
    k, r = c.cfg.agents, c.cfg.rounds
    ids = [f"r{j + 1}-a{i + 1}" for j in range(r) for i in range(k)]
    nodes = [
        Node(nid, role=f"debater {i % k + 1}", prompt=c.cfg.prompt if i < k else "debate",
             models=[_agent_model(c, i % k)], params=c.params(nid))
        for i, nid in enumerate(ids)
    ]
    nodes.append(Node("vote", kind="vote", prompt="", models=[]))
    edges = gen.edges_to_ids(gen.layered([k] * r), ids) + [(i, "vote") for i in ids[-k:]]
    return Topology(nodes, edges, output="vote")


def _moa(c: _Ctx) -> Topology:
    """Mixture-of-Agents: proposer layers fully connected, one aggregator at the end."""
    nodes: list[Node] = []
    for j, layer in enumerate(c.cfg.layers):
        for i, model in enumerate(layer):
            nid = f"l{j + 1}-p{i + 1}"
            nodes.append(Node(nid, role=f"proposer {i + 1}", prompt=c.cfg.prompt if j == 0 else "aggregate",
                              models=[c.m(model)], params=c.params(nid)))
    ids = [n.id for n in nodes]
    nodes.append(Node("aggregator", role="aggregator", prompt="aggregate", models=[c.m(c.cfg.aggregator)],
                      params=c.params("aggregator")))
    last = ids[-len(c.cfg.layers[-1]):]
    edges = gen.edges_to_ids(gen.layered([len(layer) for layer in c.cfg.layers]), ids) + [(i, "aggregator") for i in last]
    return Topology(nodes, edges, output="aggregator")


def _graph(c: _Ctx) -> Topology:
    """Role agents (or supernodes) over a generated or given DAG, then the decision node."""
    roles = _roles(c)
    ids = [r.id for r in roles]
    nodes = [_role_node(c, r) for r in roles]
    answering = [n.id for n in nodes if n.answers]
    if not answering:
        raise ConfigError(f"system {c.cfg.name!r}: no answer-producing role among {[r.name for r in roles]}")
    decision = Node("decision", kind="decision", prompt="decision", models=[c.m(c.cfg.decision_model)],
                    params=c.params("decision", temperature=0.0, consensus=c.cfg.consensus))
    edges = gen.edges_to_ids(_role_edges(c, roles), ids) + [(i, "decision") for i in answering]
    return Topology(nodes + [decision], edges, output="decision")


def _roles(c: _Ctx) -> list[Role]:
    names = (c.cfg.roles or {}).get(c.family.name)
    return [c.family.role(n) for n in names] if names else list(c.family.roles)


def _role_node(c: _Ctx, role: Role) -> Node:
    spec = c.cfg.assignments.get(role.name) or c.cfg.assignments.get(role.id) or {}
    params = c.params(role.id, role.name)
    if not c.cfg.supernodes:
        return Node(role.id, role=role.name, prompt="role", models=[c.m(spec.get("model"))], answers=role.answers,
                    params=params)
    proposers = spec.get("proposers") or [spec.get("model")] * c.cfg.proposers
    if c.cfg.proposer_temperature is not None:
        params.setdefault("proposer_temperature", c.cfg.proposer_temperature)
    return Node(role.id, role=role.name, prompt="role", models=[c.m(p) for p in proposers],
                synthesiser=c.m(spec.get("synthesiser") or spec.get("model")), answers=role.answers, params=params)


def _role_edges(c: _Ctx, roles: list[Role]) -> list[tuple[int, int]]:
    g = c.cfg.graph
    n = len(roles)
    kind = g.get("generator", "edges" if "edges" in g else "chain")
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
            raise ConfigError(f"system {c.cfg.name!r}: layer sizes {sizes} do not add up to {n} roles")
        return gen.layered(sizes)
    if kind == "random":
        seed = g.get("seed", 0)
        if g.get("per_question", True):
            # A different DAG per question, yet reproducible (and cache-friendly) across runs.
            seed = int(hashlib.sha256(f"{seed}\x00{c.question}".encode()).hexdigest()[:12], 16)
        return gen.random_dag(n, tuple(g.get("density", (0.0, 1.0))), random.Random(seed))
    pairs = g["edges"].get(c.family.name)
    if pairs is None:
        raise ConfigError(f"system {c.cfg.name!r}: graph.edges has no entry for family {c.family.name!r}")
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


LAYOUT_BUILDERS: dict[str, Callable[[_Ctx], Topology]] = {
    "single": _single, "samples": _samples, "debate": _debate, "moa": _moa, "graph": _graph,
}
