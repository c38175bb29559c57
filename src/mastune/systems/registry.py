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

from typing import Any, Protocol

from ..agents.runtime import PoolLike
from ..lazy_registry import LazyRegistry
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


_KINDS: LazyRegistry[Kind] = LazyRegistry("system kind", "kind")
register_kind = _KINDS.register
register_lazy = _KINDS.register_lazy  # heavy kinds (torch, ...): imported when used
kinds = _KINDS.names


def get_kind(name: str, provider: str | None = None) -> Kind:
    return _KINDS.get(name, provider)


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
