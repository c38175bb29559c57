"""A system is a configuration of the one runtime: this dataclass, loadable from YAML.

`layout` picks how nodes are laid out; every layout becomes a Topology run
by the same executor:
  single   one answering node (direct answer or CoT)
  samples  N parallel samples -> vote (self-consistency)
  debate   agents x rounds, rounds fully connected -> vote (LLM-Debate)
  moa      layers of proposers, fully connected -> aggregator (Mixture-of-Agents)
  graph    role agents (or supernodes) over a DAG -> decision node
Model fields left null use `model`, and `model` left null uses the pool's default.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..agents.prompts import template_names
from ..errors import ConfigError
from ..graph.topology import SKIP
from ..io import dataclass_from_dict, dump_yaml, parse_yaml

LAYOUTS = ("single", "samples", "debate", "moa", "graph")
GENERATORS = ("chain", "star", "full", "layered", "random", "edges")


@dataclass
class SystemConfig:
    name: str
    layout: str = "single"
    description: str = ""
    model: str | None = None  # default model of every slot
    prompt: str = "cot"  # template of the first answering nodes (single / samples / debate round 1 / moa layer 1)
    max_tokens: int = 512
    temperature: float = 0.0
    # samples / debate
    samples: int = 5
    agents: int = 3
    rounds: int = 2
    agent_models: list[str | None] | None = None  # per sample / debater (cycled)
    # moa
    layers: list[list[str | None]] = field(default_factory=lambda: [[None, None, None]])
    aggregator: str | None = None
    # graph: generator + its params (width/sizes, hub, seed, density, per_question) or explicit edges per family
    graph: dict[str, Any] = field(default_factory=lambda: {"generator": "chain"})
    roles: dict[str, list[str]] | None = None  # family -> the roles to use (default: all, in data order)
    supernodes: bool = False  # each role = P proposers + a synthesiser
    proposers: int = 2
    proposer_temperature: float | None = None
    # role name or node id -> {proposers: [model|skip|null...], synthesiser: model|skip|null} or {model: m}
    assignments: dict[str, dict[str, Any]] = field(default_factory=dict)
    decision_model: str | None = None
    consensus: bool = True  # decision node: no call when all answers agree
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)  # node id / role -> {max_tokens, temperature}

    def __post_init__(self) -> None:
        self.validate()

    # ---- checks ------------------------------------------------------------
    def validate(self) -> None:
        def bad(msg: str) -> ConfigError:
            return ConfigError(f"system {self.name!r}: {msg}")

        if self.layout not in LAYOUTS:
            raise bad(f"layout {self.layout!r} is not one of {LAYOUTS}")
        if self.prompt not in template_names():
            raise bad(f"prompt {self.prompt!r} is not one of {template_names()}")
        for key in ("max_tokens", "samples", "agents", "rounds", "proposers"):
            if int(getattr(self, key)) < 1:
                raise bad(f"{key} must be >= 1")
        if self.temperature < 0:
            raise bad("temperature must be >= 0")
        if self.layout == "moa" and (not self.layers or not all(self.layers)):
            raise bad("moa needs at least one non-empty layer of proposers")
        gen = self.graph.get("generator", "edges" if "edges" in self.graph else "chain")
        if gen not in GENERATORS:
            raise bad(f"graph generator {gen!r} is not one of {GENERATORS}")
        if gen == "edges" and not isinstance(self.graph.get("edges"), dict):
            raise bad("graph.edges must map a family to a list of [src, dst] role pairs")
        for key, spec in self.assignments.items():
            extra = set(spec) - {"proposers", "synthesiser", "model"}
            if extra:
                raise bad(f"assignment {key!r}: unknown keys {sorted(extra)}")
            if not self.supernodes and set(spec) - {"model"}:
                raise bad(f"assignment {key!r}: proposers/synthesiser need `supernodes: true`")
        for key, spec in self.nodes.items():
            extra = set(spec) - {"max_tokens", "temperature", "proposer_temperature", "proposer_max_tokens"}
            if extra:
                raise bad(f"nodes.{key}: unknown keys {sorted(extra)}")

    def model_names(self, default: str) -> set[str]:
        """Every pool model this config can call (for an early check against the pool)."""
        names = {self.model or default, self.aggregator, self.decision_model}
        names.update(self.agent_models or [])
        names.update(m for layer in self.layers for m in layer)
        for spec in self.assignments.values():
            names.update(spec.get("proposers") or [])
            names.update([spec.get("synthesiser"), spec.get("model")])
        return {n for n in names if n and n != SKIP}

    # ---- overrides ---------------------------------------------------------
    def with_model(self, model: str) -> "SystemConfig":
        """Every slot on `model` (a 'skip' stays a skip: it is structure, not a model)."""

        def m(x: str | None) -> str | None:
            return x if x == SKIP else model

        return dataclasses.replace(
            self,
            model=model,
            agent_models=[m(x) for x in self.agent_models] if self.agent_models else None,
            layers=[[m(x) for x in layer] for layer in self.layers],
            aggregator=model,
            decision_model=model,
            assignments={
                k: {kk: ([m(x) for x in v] if kk == "proposers" else m(v)) for kk, v in spec.items()}
                for k, spec in self.assignments.items()
            },
        )

    def override(self, **overrides: Any) -> "SystemConfig":
        """Replace fields; dict fields (graph, nodes, assignments) are merged; `model` sets every slot."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(f"unknown system option(s) {sorted(unknown)}; options: {sorted(known)}")
        model = overrides.pop("model", None)
        merged = {
            k: ({**getattr(self, k), **v} if isinstance(v, dict) and isinstance(getattr(self, k), dict) else v)
            for k, v in overrides.items()
            if v is not None
        }
        cfg = dataclasses.replace(self, **merged)
        return cfg.with_model(model) if model else cfg

    # ---- YAML --------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "system config") -> "SystemConfig":
        if not isinstance(d, dict) or "name" not in d:
            raise ConfigError(f"{source}: a system config is a mapping with at least a `name`")
        return dataclass_from_dict(cls, d, source)

    def to_yaml(self, path: str | Path | None = None) -> str:
        return dump_yaml(self.to_dict(), path)

    @classmethod
    def from_yaml(cls, text_or_path: str | Path) -> "SystemConfig":
        source = "system config"
        if isinstance(text_or_path, Path) or str(text_or_path).endswith((".yaml", ".yml")):
            path = Path(text_or_path)
            if not path.is_file():
                raise ConfigError(f"system config not found: {path}")
            text_or_path, source = path.read_text(), str(path)
        return cls.from_dict(parse_yaml(str(text_or_path), source), source)
