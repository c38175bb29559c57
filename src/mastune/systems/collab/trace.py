"""The runtime's Trace, plus what the collaboration loop decided per round.

`CollabTrace` is a `agents.trace.Trace` (same calls, nodes, usage, JSON), so
`mastune trace show`, graders and the eval runner treat collab like any other
system; the extra `collab` block records rounds, CEO decisions, consensus,
how often a reply had to fall back to a default, and the roles (node ids) in
the order a round runs them. A loop is not a DAG, so the trace has no
topology (older traces that carry the display one still load).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ...agents.trace import Trace


@dataclass
class RoundRecord:
    index: int  # 1-based
    experts: int
    max_tokens: int
    direction: str = ""  # the CEO's, shown to the solver
    roles: list[str] = field(default_factory=list)  # recruited descriptions; [0] is the solver
    recruit_fallbacks: int = 0  # descriptions filled from defaults
    verdicts: list[list[str]] = field(default_factory=list)  # per critic iteration, per critic
    consensus: bool = False
    solution: str = ""
    execution: dict[str, Any] | None = None  # ExecReport.to_dict(); None for math / mcq
    evaluation: dict[str, Any] | None = None  # Evaluation.to_dict()

    @property
    def inner_turns(self) -> int:
        return len(self.verdicts)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "inner_turns": self.inner_turns}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RoundRecord":
        return cls(**{k: v for k, v in d.items() if k != "inner_turns"})


@dataclass
class CollabTrace(Trace):
    rounds: list[RoundRecord] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)  # CEO decisions, each with `before_round`
    stop_reason: str = ""  # "evaluator_correct" | "ceo_stop" | "max_turn"
    config: dict[str, Any] = field(default_factory=dict)
    roles: list[str] = field(default_factory=list)  # node ids in the order a round runs them

    @property
    def consensus(self) -> bool:
        """Did the final round's discussion end with every critic agreeing?"""
        return bool(self.rounds) and self.rounds[-1].consensus

    @property
    def ceo_fallbacks(self) -> int:
        """CEO replies with at least one unreadable field (a default was used)."""
        return sum(1 for d in self.decisions if d["fallbacks"])

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["collab"] = {
            "stop_reason": self.stop_reason,
            "consensus": self.consensus,
            "ceo_fallbacks": self.ceo_fallbacks,
            "rounds": [r.to_dict() for r in self.rounds],
            "decisions": self.decisions,
            "config": self.config,
            "roles": self.roles,
        }
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CollabTrace":
        base = Trace.from_dict(d)
        c = d.get("collab", {})
        return cls(
            **{k: getattr(base, k) for k in base.__dataclass_fields__},
            rounds=[RoundRecord.from_dict(r) for r in c.get("rounds", [])],
            decisions=list(c.get("decisions", [])),
            stop_reason=c.get("stop_reason", ""),
            config=c.get("config", {}),
            roles=list(c.get("roles") or (base.topology.ids if base.topology is not None else [])),
        )
