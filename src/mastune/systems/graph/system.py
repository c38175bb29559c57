"""`System`: a config bound to a model pool; `run` answers one question."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..agents.answers import extract_answer
from ..agents.nodes import node_runner
from ..agents.prompts import canonical_family
from ..agents.runtime import PoolLike, Runtime, bind_models
from ..agents.supernode import resolve_skips
from ..agents.trace import NodeRecord, Trace
from ..errors import ConfigError
from ..graph.executor import NodeError, execute
from ..graph.topology import Topology
from ..llm.types import Usage
from ..llm.usage import track_usage
from .builder import build_topology
from .config import SystemConfig

CONFIG_DIR = Path(__file__).with_name("configs")


@dataclass
class SystemResult:
    answer_text: str
    extracted_answer: str | None
    usage: Usage  # every call of the run, from one track_usage() around it
    calls: int
    trace: Trace


class System:
    def __init__(self, config: SystemConfig, pool: PoolLike) -> None:
        self.config = config
        self.pool = pool
        self.default_model = bind_models(config, pool)

    @property
    def name(self) -> str:
        return self.config.name

    def topology(self, family: str, question: str = "") -> Topology:
        """The configured topology for a family (skips not yet applied)."""
        return build_topology(self.config, canonical_family(family), self.default_model, question)

    async def run(self, question: str, family: str, *, rollout: str | int | None = None) -> SystemResult:
        """Answer one question. `rollout` separates repeated sampled runs in the cache."""
        fam = canonical_family(family)
        configured = self.topology(fam, question)
        active, dropped = resolve_skips(configured)
        trace = Trace(self.name, question, fam, configured, dropped=dropped)
        rt = Runtime(question, fam, self.pool, trace, rollout)
        start = time.perf_counter()
        with track_usage() as tracker:
            try:
                runs = await execute(active, node_runner(rt))
            except NodeError as e:
                e.trace = trace  # the calls made so far, for debugging
                raise
        for node in configured.nodes:
            run = runs.get(node.id)
            if run is None:
                trace.nodes[node.id] = NodeRecord(node.id, "skipped")
            else:
                out = run.output
                trace.nodes[node.id] = NodeRecord(node.id, "done", out.text, out.answer, run.usage, run.started,
                                                  run.finished, out.note)
        final = runs[active.output_id].output
        answer = final.answer if final.answer is not None else extract_answer(final.text, fam)
        trace.answer_text, trace.extracted_answer = final.text, answer
        trace.usage, trace.wall_s = tracker.total, time.perf_counter() - start
        return SystemResult(final.text, answer, tracker.total, tracker.total.calls, trace)

    def __repr__(self) -> str:
        return f"System({self.name!r}, layout={self.config.layout!r})"


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
