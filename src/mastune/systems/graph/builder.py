"""SystemConfig + task family (+ question) -> the Topology the executor runs.

Each layout's config lays out its own nodes (`layouts/`); this module holds
what they share: the per-run context (family, default model, node settings).
"""
from __future__ import annotations

from typing import Any

from ...agents.prompts import family
from ...graph.topology import Topology
from .config import SystemConfig


def build_topology(cfg: SystemConfig, family_name: str, default_model: str, question: str = "") -> Topology:
    return cfg.topology(Ctx(cfg, family_name, cfg.model or default_model, question))


class Ctx:
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

    def agent_model(self, models: list[str | None] | None, i: int) -> str:
        """Per-agent models (cycled), else the default."""
        return self.m(models[i % len(models)] if models else None)
