"""NeuroMAS under the optimiser contract: REINFORCE over a layered network, thin over train_network.

    opt = NeuroMASOptimiser(NeuroMASConfig(backbone=gguf, task="navigate", layers=(1, 1)))
    folder = await opt.compile(student_spec(), pool, train_examples, valid_examples, "ckpt/run")
    system = NeuroMASArtifact.load(folder, pool)            # the `neuromas` kind

Where episodes are sampled: `runner="local"` (this process, the default) or `"ray"`
(RayEpisodes: Ray workers, each with its own engine, fetch the adapters of the current policy
version and refuse stale jobs; the learner, grading and update stay here; ray_episodes.py).

The sampler: `engine` (the embedded engine, per-node GGUF LoRA adapters, re-exported after
every update; needs a .gguf backbone), `transformers` (generation on the learner's own
model: exact, ~30x slower on CPU), `auto` (engine for a .gguf backbone). The pool is
not used for training: the network is served from the backbone itself.

Why training episodes do not go through `rollout.rollout`: a NeuroMAS episode is the
raw material of the gradient (every node's prompt, sampled text, whether it ended by
itself, the sampler's prompt length), sampled at temperature T under adapters that
change every step; a Rollout carries a SystemResult + grade, whose trace keeps the
text but not the finish state the scorer needs, and a built system is cached per spec
(the adapters are not in the spec). So episodes stay `episode.forward` on a Sampler,
graded by the same `agrade`; the trained network is evaluated through the rollout
runner as the `neuromas` kind (`mastune eval --system neuromas`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ...agents.runtime import PoolLike
from ...errors import ConfigError
from ...rollout.choose import RUNNERS
from ...systems.spec import SystemSpec
from ..base import Artifact, Optimiser, register_optimiser
from .config import NeuroMASConfig
from .engine import EngineSampler, is_gguf
from .system import NeuroMASSystem, build_neuromas_system
from .train import TrainResult, build_policy, train_network

SAMPLERS = ("auto", "engine", "transformers")
MAX_SLOTS = 8  # engine slots (batched sequences); more buys little on a few CPU cores
ENGINE_DIR = "engine"  # OUT/engine/{peft,gguf}: the adapters the sampler serves (rewritten every step)


class NeuroMASArtifact(Artifact):
    """A NeuroMAS run folder: config.json, log.jsonl, state.pt, best.pt."""

    kind = "neuromas"

    @classmethod
    def load(cls, folder: str | Path, pool: PoolLike, **options: Any) -> NeuroMASSystem:
        return build_neuromas_system(folder, pool, **options)


def student_spec() -> SystemSpec:
    """The untrained NeuroMAS student (its shape comes from the NeuroMASConfig)."""
    return SystemSpec("neuromas", {}, provider=NeuroMASSystem.__module__)


def sampler_kind(cfg: NeuroMASConfig, sampler: str) -> str:
    if sampler not in SAMPLERS:
        raise ConfigError(f"--sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
    if sampler == "auto":
        return "engine" if is_gguf(cfg.backbone_file) else "transformers"
    if sampler == "engine" and not is_gguf(cfg.backbone_file):
        raise ConfigError(f"--sampler engine serves a .gguf backbone; {cfg.backbone} is not one "
                          "(give a pool model name or a .gguf file, or use --sampler transformers)")
    return sampler


@register_optimiser("neuromas")
@dataclass
class NeuroMASOptimiser(Optimiser):
    config: NeuroMASConfig
    sampler: str = "auto"
    progress: bool = True
    loaded: Any = None  # tests: (tokenizer, model) already loaded from the backbone
    runner: str = "local"  # where episodes are sampled: local (this process) | ray (workers; ray_episodes.py)
    ray_address: str | None = None  # runner ray: the cluster to join (None: a local Ray instance)
    workers: int | None = None  # runner ray: worker actors (None: one per cluster CPU)
    result: TrainResult | None = None  # what the last compile trained

    artifact = NeuroMASArtifact

    def __post_init__(self) -> None:
        self.sampler_kind = sampler_kind(self.config, self.sampler)
        check_runner(self.runner, self.sampler_kind, self.ray_address, self.workers)

    async def compile(self, student: SystemSpec, pool: PoolLike, trainset: Sequence[Any], validset: Sequence[Any],
                      out: str | Path) -> Path:
        if student.kind != "neuromas" or student.checkpoint:
            raise ConfigError(f"the NeuroMAS optimiser trains an untrained `neuromas` student, not {student.kind!r}"
                              + (f" from {student.checkpoint}" if student.checkpoint else ""))
        cfg, out = self.config, Path(out)
        policy = build_policy(cfg, self.loaded)
        sampler = episodes = None
        # every node call of a step's concurrent episodes gets a slot (a layer's nodes run together)
        slots = max(1, min(MAX_SLOTS, cfg.concurrency * max(cfg.layers or (1,))))
        if self.runner == "ray":
            episodes = ray_episodes(cfg, out, slots, address=self.ray_address, workers=self.workers)
            await episodes.sync(policy, 0)  # fresh adapters (B = 0); a resume or growth publishes again
        elif self.sampler_kind == "engine":
            sampler = EngineSampler(cfg.backbone_file, out / ENGINE_DIR, n_parallel=slots)
            await sampler.sync(policy)  # fresh adapters (B = 0); a resume or growth syncs again
        try:
            self.result = await train_network(cfg, trainset, validset, out, policy=policy, sampler=sampler,
                                              episodes=episodes, progress=self.progress)
        finally:
            if sampler is not None:
                await sampler.aclose()
            if episodes is not None:
                episodes.close()
        return out


def check_runner(runner: str, kind: str, address: str | None, workers: int | None) -> None:
    if runner not in RUNNERS:
        raise ConfigError(f"unknown runner {runner!r}; runners: {', '.join(RUNNERS)}")
    if runner == "local" and (address or workers):
        raise ConfigError("--ray-address and --workers are options of --runner ray")
    if runner == "ray":
        if workers is not None and workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {workers}")
        if kind != "engine":
            raise ConfigError("--runner ray samples on each worker's embedded engine (per-node GGUF adapters): "
                              "give --backbone a pool model name or a .gguf file, with --sampler auto or engine")
        from ...rollout.ray_runner import require_ray

        require_ray()  # before the learner loads: without Ray, say how to install it now


def ray_episodes(cfg: NeuroMASConfig, out: Path, slots: int, *, address: str | None, workers: int | None) -> Any:
    """Episodes on Ray workers, each with its own engine on the backbone; the adapters travel as
    GGUF bytes through the object store (ray_episodes.py says why)."""
    from .checkpoint import backbone_sha256
    from .ray_episodes import EngineOnWorker, GgufExport, RayEpisodes

    bb = cfg.backbone_file
    return RayEpisodes(EngineOnWorker(bb, backbone_sha256(bb), n_parallel=slots),
                       GgufExport(bb, str(out / ENGINE_DIR)), workers=workers, address=address,
                       concurrency=cfg.concurrency)
