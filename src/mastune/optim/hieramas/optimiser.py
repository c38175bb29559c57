"""HieraMAS under the optimiser contract: stage 1 (selector) then stage 2 (graph classifier).

    opt = HieraMASOptimiser(TrainConfig(task="gsm8k", ...), stage="all")
    folder = await opt.compile(student, pool, train_examples, valid_examples, "ckpt/run")
    system = HieraMASArtifact.load(folder, pool)           # the `hieramas` kind

The student is a `hieramas` spec without a checkpoint: its config holds the
runtime options the plans run with (decision_model, max_tokens, ...), which
win over the TrainConfig's.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from ...agents.runtime import PoolLike
from ...errors import ConfigError
from ...systems.spec import SystemSpec
from ..base import Artifact, Optimiser, register_optimiser
from .config import TrainConfig
from .episode import RuntimeOptions
from .system import HieraMASSystem, build_hieramas_system
from .train import Stage1Result, Stage2Result, train_stage1, train_stage2

STAGES = ("1", "2", "all")


class HieraMASArtifact(Artifact):
    """A HieraMAS run folder: config.json, selector.pt, classifier.pt (+ logs)."""

    kind = "hieramas"

    @classmethod
    def load(cls, folder: str | Path, pool: PoolLike, **options: Any) -> HieraMASSystem:
        return build_hieramas_system(folder, pool, **options)


def student_spec(runtime: RuntimeOptions | None = None) -> SystemSpec:
    """The untrained HieraMAS student: the runtime options its plans run with."""
    return SystemSpec("hieramas", {"runtime": (runtime or RuntimeOptions()).to_dict()},
                      provider=HieraMASSystem.__module__)


@register_optimiser("hieramas")
@dataclass
class HieraMASOptimiser(Optimiser):
    config: TrainConfig
    stage: str = "all"
    stage2_size: int | None = None  # stage 2 labels DAGs for the first N training queries (None: all)
    progress: bool = True
    embedder: Any = None  # tests: a small embedder instead of cfg.embedder's
    runner: Any = None  # where episodes run (default: a LocalRunner on the pool; or a RayRunner)
    stage1: Stage1Result | None = None  # what the last compile trained
    stage2: Stage2Result | None = None

    artifact = HieraMASArtifact

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ConfigError(f"--stage must be one of {', '.join(STAGES)}, got {self.stage!r}")

    async def compile(self, student: SystemSpec, pool: PoolLike, trainset: Sequence[Any], validset: Sequence[Any],
                      out: str | Path) -> Path:
        if student.kind != "hieramas" or student.checkpoint:
            raise ConfigError(f"the HieraMAS optimiser trains an untrained `hieramas` student, not {student.kind!r}"
                              + (f" from {student.checkpoint}" if student.checkpoint else ""))
        cfg = self.config
        if "runtime" in student.config:
            cfg = replace(cfg, runtime=RuntimeOptions(**student.config["runtime"]))
        if self.stage in ("1", "all"):
            self.stage1 = await train_stage1(cfg, pool, trainset, validset, out, embedder=self.embedder,
                                             progress=self.progress, runner=self.runner)
        if self.stage in ("2", "all"):
            self.stage2 = await train_stage2(cfg, pool, list(trainset)[: self.stage2_size], out,
                                             embedder=self.embedder, progress=self.progress, runner=self.runner)
        return Path(out)
