"""The graph kind: every layout is a YAML configuration of the one DAG runtime."""
from .builder import build_topology
from .config import SystemConfig, layout_classes
from .layouts.debate import DebateConfig
from .layouts.graph import GraphConfig
from .layouts.moa import MoAConfig
from .layouts.samples import SamplesConfig
from .layouts.single import SingleConfig
from .system import CONFIG_DIR, GraphSystem, System, builtin_systems, load_config, load_system, run_topology, topology_trace

LAYOUTS = tuple(layout_classes())

__all__ = [
    "CONFIG_DIR", "DebateConfig", "GraphConfig", "GraphSystem", "LAYOUTS", "MoAConfig", "SamplesConfig",
    "SingleConfig", "System", "SystemConfig", "build_topology", "builtin_systems", "layout_classes", "load_config",
    "load_system", "run_topology", "topology_trace",
]
