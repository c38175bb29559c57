"""The graph kind: a YAML config (one layout) bound to a model pool, run by the DAG executor."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ...agents.nodes import node_runner
from ...agents.prompts import canonical_family
from ...agents.runtime import PoolLike, Runtime
from ...agents.supernode import resolve_skips
from ...agents.trace import NodeRecord, Trace
from ...errors import ConfigError
from ...graph.executor import execute
from ...graph.topology import Topology
from ..base import ConfiguredSystem
from ..registry import register_kind
from ..spec import SystemSpec
from .builder import build_topology
from .config import SystemConfig

CONFIG_DIR = Path(__file__).with_name("configs")
OVERRIDES = ("max_tokens", "prompt_layout")  # kind options `mastune eval/run` pass on to the config


def topology_trace(name: str, question: str, family: str, configured: Topology) -> Trace:
    """The trace of one DAG run: the configured topology and what the skips dropped."""
    _, dropped = resolve_skips(configured)
    return Trace(name, question, family, configured, dropped=dropped)


async def run_topology(rt: Runtime) -> tuple[str, str | None]:
    """Run the trace's topology (skips resolved) on the executor; record every node."""
    trace = rt.trace
    configured = trace.topology
    active, _ = resolve_skips(configured)
    runs = await execute(active, node_runner(rt))  # a NodeError gets the trace from BaseSystem.run
    for node in configured.nodes:
        run = runs.get(node.id)
        if run is None:
            trace.nodes[node.id] = NodeRecord(node.id, "skipped")
        else:
            out = run.output
            trace.nodes[node.id] = NodeRecord(node.id, "done", out.text, out.answer, run.usage, run.started,
                                              run.finished, out.note)
    final = runs[active.output_id].output
    return final.text, final.answer


@register_kind("graph")
class System(ConfiguredSystem):
    config: SystemConfig

    def topology(self, family: str, question: str = "") -> Topology:
        """The configured topology for a family (skips not yet applied)."""
        return build_topology(self.config, canonical_family(family), self.default_model, question)

    def _trace(self, question: str, family: str) -> Trace:
        return topology_trace(self.name, question, family, self.topology(family, question))

    async def _solve(self, rt: Runtime) -> tuple[str, str | None]:
        return await run_topology(rt)

    # ---- the kind ------------------------------------------------------------
    @classmethod
    def spec(cls, name: str, *, model: str | None = None, config: str | None = None,
             options: dict[str, Any] | None = None, checkpoint: str | None = None) -> dict[str, Any]:
        if name == "custom" and not config:
            raise ConfigError("give --system NAME or --config FILE.yaml")
        overrides = {k: v for k, v in (options or {}).items() if k in OVERRIDES}
        return load_config(config or name).override(model=model, **overrides).to_dict()

    @classmethod
    def from_spec(cls, spec: SystemSpec, pool: PoolLike) -> "System":
        return cls(SystemConfig.from_dict(dict(spec.config), "the spec's config"), pool)

    def __repr__(self) -> str:
        return f"System({self.name!r}, layout={self.config.layout!r})"


GraphSystem = System


def builtin_systems() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def load_config(name_or_path: str | Path) -> SystemConfig:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        return SystemConfig.from_yaml(path)
    builtin = CONFIG_DIR / f"{name_or_path}.yaml"
    if not builtin.is_file():
        raise ConfigError(f"unknown system {str(name_or_path)!r}: give a YAML file or one of {builtin_systems()}")
    return SystemConfig.from_yaml(builtin)


def load_system(name_or_path: str | Path, pool: PoolLike, **overrides: Any) -> System:
    """A built-in system by name, or a YAML file; `overrides` replace config fields
    (e.g. max_tokens=48, samples=3); `model=M` puts every slot on M."""
    return System(load_config(name_or_path).override(**overrides), pool)
