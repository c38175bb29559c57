"""The optimiser contract, in the spirit of DSPy's `compile`.

    opt = get_optimiser("hieramas")(config)
    folder = await opt.compile(student, pool, trainset, validset, out)   # writes the artifact folder
    system = opt.artifact.load(folder, pool)                            # a runnable BaseSystem

`student` is the `SystemSpec` being optimised, `pool` the live model pool,
`trainset` / `validset` what the optimiser learns from and selects on (task
examples for HieraMAS; exported trace chats for SFT). The artifact folder is
self-describing: `Artifact.load` needs nothing but the folder and a pool, and
`Artifact.spec` gives the picklable form for another process. Optimisers
register themselves; `mastune train METHOD` lists the registered ones.
"""
from __future__ import annotations

import abc
import importlib
from pathlib import Path
from typing import Any, Callable, ClassVar, Sequence, TypeVar

from ..agents.runtime import PoolLike
from ..errors import ConfigError
from ..systems.spec import SystemSpec


class Artifact(abc.ABC):
    """What an optimiser leaves in its folder, and how it becomes a system again."""

    kind: ClassVar[str]  # the system kind the artifact loads as

    @classmethod
    @abc.abstractmethod
    def load(cls, folder: str | Path, pool: PoolLike, **options: Any) -> Any:
        """The trained system on `pool` (checked against what it was trained for)."""

    @classmethod
    def spec(cls, folder: str | Path, pool: dict[str, Any] | None = None, **options: Any) -> SystemSpec:
        """The artifact as a picklable spec (build it with systems.build_system anywhere)."""
        from ..systems.registry import get_kind

        return SystemSpec(cls.kind, dict(options), pool, str(folder), provider=get_kind(cls.kind).__module__)


class Optimiser(abc.ABC):
    name: ClassVar[str]
    artifact: ClassVar[type[Artifact]]

    @abc.abstractmethod
    async def compile(self, student: SystemSpec, pool: PoolLike, trainset: Sequence[Any], validset: Sequence[Any],
                      out: str | Path) -> Path:
        """Optimise `student` and write the artifact folder `out` (re-running resumes); return it."""


_OPTIMISERS: dict[str, type[Optimiser]] = {}
_LAZY: dict[str, str] = {}  # name -> module that registers it (torch / transformers are heavy imports)
O = TypeVar("O", bound=type)


def register_optimiser(name: str) -> Callable[[O], O]:
    def deco(cls: O) -> O:
        cls.name = name  # type: ignore[attr-defined]
        _OPTIMISERS[name] = cls  # type: ignore[assignment]
        return cls

    return deco


def register_lazy_optimiser(name: str, module: str) -> None:
    if name not in _OPTIMISERS:
        _LAZY[name] = module


def optimisers() -> list[str]:
    return sorted({*_OPTIMISERS, *_LAZY})


def get_optimiser(name: str) -> type[Optimiser]:
    if name not in _OPTIMISERS and name in _LAZY:
        importlib.import_module(_LAZY[name])
    try:
        return _OPTIMISERS[name]
    except KeyError:
        raise ConfigError(f"unknown optimiser {name!r}; optimisers: {', '.join(optimisers())}") from None
