"""A graph system is a configuration of the one runtime: one config class per layout.

`layout` is the tag of a tagged union: each layout (single, samples, debate,
moa, graph) is a dataclass in `layouts/` with only its own fields and the one
function that lays its nodes out; every layout becomes a Topology run by the
same executor. A new layout is a new file there.
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
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from ...agents.prompts import template_names
from ...errors import ConfigError
from ...graph.topology import SKIP
from ...io import dataclass_from_dict, dump_yaml, parse_yaml

if TYPE_CHECKING:
    from ...graph.topology import Topology
    from .builder import Ctx

_LAYOUTS: dict[str, type["SystemConfig"]] = {}


def layout(name: str) -> Callable[[type], type]:
    """Register a layout's config class under its tag."""

    def deco(cls: type) -> type:
        cls.LAYOUT = name
        _LAYOUTS[name] = cls
        return cls

    return deco


def layout_classes() -> dict[str, type["SystemConfig"]]:
    from . import layouts as _  # noqa: F401  (each layout module registers itself on import)

    return dict(_LAYOUTS)


@dataclass
class SystemConfig:
    """What every layout has. Build one with `SystemConfig.from_dict` (or a layout's class)."""

    LAYOUT: ClassVar[str] = ""

    name: str
    layout: str = ""
    description: str = ""
    model: str | None = None  # default model of every slot
    max_tokens: int = 512
    temperature: float = 0.0
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)  # node id / role -> {max_tokens, temperature}

    def __post_init__(self) -> None:
        if not self.LAYOUT:
            raise ConfigError(f"system {self.name!r}: build a config with SystemConfig.from_dict (it picks the "
                              f"layout's class); layouts: {tuple(layout_classes())}")
        self.layout = self.layout or self.LAYOUT
        self.validate()

    # ---- checks ------------------------------------------------------------
    def bad(self, msg: str) -> ConfigError:
        return ConfigError(f"system {self.name!r}: {msg}")

    def positive(self, *keys: str) -> None:
        for key in keys:
            if int(getattr(self, key)) < 1:
                raise self.bad(f"{key} must be >= 1")

    def validate(self) -> None:
        if self.layout != self.LAYOUT:
            raise self.bad(f"layout {self.layout!r} does not match its config class ({self.LAYOUT!r})")
        if hasattr(self, "prompt") and self.prompt not in template_names():
            raise self.bad(f"prompt {self.prompt!r} is not one of {template_names()}")
        self.positive("max_tokens")
        if self.temperature < 0:
            raise self.bad("temperature must be >= 0")
        for key, spec in self.nodes.items():
            extra = set(spec) - {"max_tokens", "temperature", "proposer_temperature", "proposer_max_tokens"}
            if extra:
                raise self.bad(f"nodes.{key}: unknown keys {sorted(extra)}")

    def model_names(self, default: str) -> set[str]:
        """Every pool model this config can call (for an early check against the pool)."""
        return {n for n in {self.model or default, *self.slot_models()} if n and n != SKIP}

    def slot_models(self) -> list[str | None]:
        """Models named by the layout's own fields."""
        return []

    # ---- the layout ----------------------------------------------------------
    def topology(self, ctx: "Ctx") -> "Topology":
        raise NotImplementedError

    # ---- overrides ---------------------------------------------------------
    def with_model(self, model: str) -> "SystemConfig":
        """Every slot on `model` (a 'skip' stays a skip: it is structure, not a model)."""
        return dataclasses.replace(self, model=model, **self.models_replaced(lambda x: x if x == SKIP else model))

    def models_replaced(self, m: Callable[[str | None], str | None]) -> dict[str, Any]:
        """The layout's model fields with `m` applied to each model."""
        return {}

    def override(self, **overrides: Any) -> "SystemConfig":
        """Replace fields; dict fields (graph, nodes, assignments) are merged; `model` sets every slot."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(f"unknown system option(s) {sorted(unknown)} for layout {self.layout!r}; "
                              f"options: {sorted(known)}")
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
        tag = d.get("layout", "single")
        known = layout_classes()
        if tag not in known:
            raise ConfigError(f"system {d['name']!r}: layout {tag!r} is not one of {tuple(known)}")
        return dataclass_from_dict(known[tag], {**d, "layout": tag}, source)

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


def __getattr__(name: str) -> Any:
    if name == "LAYOUTS":  # the tags, in registration order
        return tuple(layout_classes())
    raise AttributeError(name)
