"""Systems: YAML configurations of the one runtime, and the object that runs them."""
from .builder import build_topology
from .config import LAYOUTS, SystemConfig
from .system import CONFIG_DIR, System, SystemResult, builtin_systems, load_config, load_system

__all__ = [
    "CONFIG_DIR", "LAYOUTS", "System", "SystemConfig", "SystemResult", "build_topology", "builtin_systems",
    "load_config", "load_system",
]
