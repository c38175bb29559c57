"""Systems: one contract (`BaseSystem`), kinds that register themselves, picklable specs.

    graph/    every layout is a YAML configuration of the one DAG runtime
    collab/   the M1 / CEO collaboration loop (a loop with early stopping)
Trained kinds (hieramas) are their optimiser's artifact, registered from `optim/`.
"""
from . import collab as _collab  # noqa: F401  (registers the collab kind)
from .base import BaseSystem, SystemResult
from .graph import (CONFIG_DIR, LAYOUTS, GraphSystem, System, SystemConfig, build_topology, builtin_systems,
                    load_config, load_system)
from .registry import build_system, get_kind, kinds, register_kind, register_lazy, resolve_spec
from .spec import SystemSpec

__all__ = [
    "BaseSystem", "CONFIG_DIR", "GraphSystem", "LAYOUTS", "System", "SystemConfig", "SystemResult", "SystemSpec",
    "build_system", "build_topology", "builtin_systems", "get_kind", "kinds", "load_config", "load_system",
    "register_kind", "register_lazy", "resolve_spec",
]
