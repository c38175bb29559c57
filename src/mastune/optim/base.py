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
from pathlib import Path
from typing import Any, ClassVar, Sequence

from ..agents.runtime import PoolLike
from ..lazy_registry import LazyRegistry
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


_OPTIMISERS: LazyRegistry[type[Optimiser]] = LazyRegistry("optimiser", "name")
register_optimiser = _OPTIMISERS.register
register_lazy_optimiser = _OPTIMISERS.register_lazy  # torch / transformers are heavy imports
optimisers = _OPTIMISERS.names


def get_optimiser(name: str) -> type[Optimiser]:
    return _OPTIMISERS.get(name)
