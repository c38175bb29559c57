"""CollabConfig: every knob of the M1 / AgentVerse loop, loadable from YAML.

    name: collab-ceo
    ceo: true
    model: qwen2.5-coder-0.5b          # default model of every role
    experts: 2                         # solver + (experts - 1) critics, round 1
    max_turn: 2                        # outer rounds
    max_inner_turns: 3                 # critic iterations per round
    max_tokens: 512                    # expert budget (solver, critics), round 1
    budget_ladder: [256, 512, 1024, 2048]
    roles:
      critic: {model: [qwen2.5-coder-0.5b, smollm2-135m]}   # cycled over critics
      ceo: {model: qwen2.5-coder-1.5b, temperature: 0.0}

With the CEO on, experts / max_tokens / direction are only round 1's values:
the CEO's decision sets them for each later round.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from ...io import dataclass_from_dict, dump_yaml, load_yaml_file

ROLES = ("ceo", "recruiter", "solver", "critic", "evaluator", "test_writer")
# Roles whose max_tokens is the round's budget (the CEO's knob), not a fixed setting.
EXPERT_ROLES = ("solver", "critic")
CONFIG_DIR = Path(__file__).with_name("configs")


@dataclass
class RoleSettings:
    model: str | list[str] | None = None  # a list is cycled over the role's agents (critics)
    max_tokens: int | None = None  # non-expert roles only; None: aux_max_tokens
    temperature: float | None = None  # None: the config's temperature

    def models(self) -> list[str]:
        if self.model is None:
            return []
        return [self.model] if isinstance(self.model, str) else list(self.model)


@dataclass
class CollabConfig:
    name: str = "collab"
    description: str = ""
    ceo: bool = False
    model: str | None = None  # default model of every role; None: the pool's default
    roles: dict[str, RoleSettings] = field(default_factory=dict)
    experts: int = 2  # paper default: 2 agents (1 solver + 1 critic)
    max_experts: int = 4  # the CEO may recruit 1..max_experts
    max_turn: int = 2
    max_inner_turns: int = 3
    max_tokens: int = 512
    budget_ladder: list[int] = field(default_factory=lambda: [256, 512, 1024, 2048])
    temperature: float = 0.7
    aux_max_tokens: int = 384  # recruiter, evaluator, CEO, test writer
    accept_on_correct: bool = True  # the evaluator's "Correctness: 1" ends the run (AgentVerse rule)
    generate_tests: bool = True  # code: an LLM writes asserts when the prompt shows no examples
    max_tests: int = 8
    exec_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        self.roles = {k: v if isinstance(v, RoleSettings) else _role(k, v) for k, v in (self.roles or {}).items()}
        self.budget_ladder = sorted({int(b) for b in self.budget_ladder})
        self.validate()

    def validate(self) -> None:
        def bad(msg: str) -> ConfigError:
            return ConfigError(f"collab config {self.name!r}: {msg}")

        unknown = set(self.roles) - set(ROLES)
        if unknown:
            raise bad(f"unknown role(s) {sorted(unknown)}; roles: {list(ROLES)}")
        for role in EXPERT_ROLES:
            if role in self.roles and self.roles[role].max_tokens is not None:
                raise bad(f"roles.{role}.max_tokens: experts use the round budget; set max_tokens / budget_ladder")
        for key in ("experts", "max_experts", "max_turn", "max_inner_turns", "max_tokens", "aux_max_tokens", "max_tests"):
            if int(getattr(self, key)) < 1:
                raise bad(f"{key} must be >= 1")
        if not 1 <= self.experts <= self.max_experts:
            raise bad(f"experts must be between 1 and max_experts ({self.max_experts})")
        if not self.budget_ladder or min(self.budget_ladder) < 1:
            raise bad("budget_ladder needs at least one positive token budget")
        if self.temperature < 0:
            raise bad("temperature must be >= 0")

    # ---- per-role lookups ---------------------------------------------------
    def model_for(self, role: str, index: int = 0, default: str | None = None) -> str:
        models = self.roles[role].models() if role in self.roles else []
        name = models[index % len(models)] if models else (self.model or default)
        if not name:
            raise ConfigError(f"collab config {self.name!r}: no model for role {role!r}; set `model`")
        return name

    def temperature_for(self, role: str) -> float:
        t = self.roles[role].temperature if role in self.roles else None
        return self.temperature if t is None else float(t)

    def aux_tokens_for(self, role: str) -> int:
        n = self.roles[role].max_tokens if role in self.roles else None
        return int(n or self.aux_max_tokens)

    def model_names(self, default: str) -> set[str]:
        names = {self.model or default}
        for spec in self.roles.values():
            names.update(spec.models())
        return names

    # ---- overrides and YAML -------------------------------------------------
    def override(self, **overrides: Any) -> "CollabConfig":
        """Replace fields (None values are ignored); `model` puts every role on one model."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(f"unknown collab option(s) {sorted(unknown)}; options: {sorted(known)}")
        changes = {k: v for k, v in overrides.items() if v is not None}
        if "model" in changes:
            roles = changes.get("roles", self.roles)
            changes["roles"] = {k: dataclasses.replace(_role(k, v), model=None) for k, v in roles.items()}
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "collab config") -> "CollabConfig":
        if not isinstance(d, dict):
            raise ConfigError(f"{source}: a collab config is a mapping")
        return dataclass_from_dict(cls, d, source)

    def to_yaml(self, path: str | Path | None = None) -> str:
        return dump_yaml(self.to_dict(), path)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "CollabConfig":
        return cls.from_dict(load_yaml_file(path, "collab config"), str(path))


def _role(name: str, spec: Any) -> RoleSettings:
    if isinstance(spec, RoleSettings):
        return spec
    if isinstance(spec, str):  # shorthand `critic: model-name`
        return RoleSettings(model=spec)
    if not isinstance(spec, dict):
        raise ConfigError(f"roles.{name} must be a model name or a mapping of model / max_tokens / temperature")
    extra = set(spec) - {"model", "max_tokens", "temperature"}
    if extra:
        raise ConfigError(f"roles.{name}: unknown keys {sorted(extra)}; allowed: model, max_tokens, temperature")
    return RoleSettings(**spec)


def builtin_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def load_collab_config(name_or_path: str | Path | None = None, *, ceo: bool | None = None) -> CollabConfig:
    """A YAML file, a built-in name (collab, collab-ceo), or the built-in matching `ceo`."""
    if name_or_path is None:
        name_or_path = "collab-ceo" if ceo else "collab"
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml") and not path.is_file():
        path = CONFIG_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            raise ConfigError(f"unknown collab config {str(name_or_path)!r}: give a YAML file or one of {builtin_configs()}")
    cfg = CollabConfig.from_yaml(path)
    return cfg if ceo is None else cfg.override(ceo=ceo)
