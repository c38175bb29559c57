"""System kinds register themselves here; a spec is built by its kind.

    @register_kind("collab")
    class CollabSystem(BaseSystem):
        @classmethod
        def spec(cls, name, *, model=None, config=None, options=None, checkpoint=None) -> dict: ...  # its config
        @classmethod
        def from_spec(cls, spec, pool) -> "CollabSystem": ...

`resolve_spec("collab", ...)` asks the kind registered under that name; any
other name is a YAML configuration of the `graph` kind (the default kind).
Kinds that live outside `systems/` (trained ones, registered by their
optimiser) are recorded in the spec as `provider`, so a fresh process imports
that module before building.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable, Protocol, TypeVar

from ..agents.runtime import PoolLike
from ..errors import ConfigError
from .spec import SystemSpec

DEFAULT_KIND = "graph"


class Kind(Protocol):
    kind: str
    __module__: str

    @classmethod
    def spec(cls, name: str, *, model: str | None = None, config: str | None = None,
             options: dict[str, Any] | None = None, checkpoint: str | None = None) -> dict[str, Any]: ...

    @classmethod
    def from_spec(cls, spec: SystemSpec, pool: PoolLike) -> Any: ...


_KINDS: dict[str, Kind] = {}
_LAZY: dict[str, str] = {}  # kind -> module that registers it on import (heavy kinds: torch, ...)
K = TypeVar("K")


def register_kind(name: str) -> Callable[[K], K]:
    def deco(cls: K) -> K:
        cls.kind = name  # type: ignore[attr-defined]
        _KINDS[name] = cls  # type: ignore[assignment]
        return cls

    return deco


def register_lazy(name: str, module: str) -> None:
    """Name a kind whose module is imported only when the kind is used (its import is heavy)."""
    if name not in _KINDS:
        _LAZY[name] = module


def kinds() -> list[str]:
    return sorted({*_KINDS, *_LAZY})


def get_kind(name: str, provider: str | None = None) -> Kind:
    module = provider or _LAZY.get(name)
    if name not in _KINDS and module:
        importlib.import_module(module)
    try:
        return _KINDS[name]
    except KeyError:
        raise ConfigError(f"unknown system kind {name!r}; kinds: {', '.join(kinds())}") from None


def resolve_spec(system: str, *, model: str | None = None, config: str | None = None,
                 options: dict[str, Any] | None = None, pool: dict[str, Any] | None = None) -> SystemSpec:
    """CLI words (`--system NAME --config FILE --model M` + kind options) -> a spec.

    NAME is a registered kind (collab, hieramas) or else a graph system (a
    built-in name or, with --config, a YAML file)."""
    options = {k: v for k, v in (options or {}).items() if v is not None}
    name = system if system in kinds() and system != DEFAULT_KIND else DEFAULT_KIND
    cls = get_kind(name)
    checkpoint = options.pop("checkpoint", None)
    checkpoint = str(checkpoint) if checkpoint else None
    cfg = cls.spec(system, model=model, config=config, options=options, checkpoint=checkpoint)
    return SystemSpec(name, cfg, pool, checkpoint, provider=cls.__module__)


def build_system(spec: SystemSpec, pool: PoolLike | None = None) -> Any:
    """The system a spec describes, on `pool` (default: a pool built from `spec.pool`)."""
    if pool is None:
        pool = pool_of(spec)
    return get_kind(spec.kind, spec.provider).from_spec(spec, pool)


def pool_of(spec: SystemSpec) -> Any:
    from ..llm.pool import Pool

    return Pool.default() if spec.pool is None else Pool.from_dict(spec.pool, source="the spec's pool")
