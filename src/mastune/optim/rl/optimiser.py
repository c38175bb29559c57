"""The `rl` optimiser: RL of a single model's LoRA adapter (or a NeuroMAS network) under the contract.

    opt = RLOptimiser(RLConfig(task="gsm8k", backbone="qwen2.5-coder-0.5b"))
    folder = await opt.compile(student_spec(), pool, train, valid, "runs/rl", reward=task_reward)
    system = RLArtifact.load(folder, pool)          # the `neuromas` kind: a one-node network is one model

The artifact is a network checkpoint (best.pt) in the NeuroMAS format, so `mastune eval --system
neuromas --checkpoint OUT` evaluates it, on the embedded engine with the adapter served per request.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ...agents.runtime import PoolLike
from ...errors import ConfigError
from ...systems.spec import SystemSpec
from ..base import register_optimiser, Optimiser
from ..neuromas.engine import EngineSampler, is_gguf
from ..neuromas.episode import RewardFn, task_reward
from ..neuromas.optimiser import ENGINE_DIR, NeuroMASArtifact, student_spec
from .config import RLConfig
from .trainer import RLResult, build_policy, train_rl

SAMPLERS = ("auto", "engine", "transformers")
# A group's samples decode as concurrent streams with the slots' prompt reuse off: reuse forces llama.cpp's
# flash attention off and makes a group's samples wait for the one slot holding their prompt, and batched
# decoding is worth more than the prefill saved (SmolLM2-135M, 8 streams with a rank-8 adapter: 80.6 tok/s
# without reuse, 56.1 with it; 119.5 without an adapter).
PROMPT_REUSE = False


def sampler_kind(cfg: RLConfig, sampler: str) -> str:
    if sampler not in SAMPLERS:
        raise ConfigError(f"--sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
    gguf = is_gguf(cfg.backbone_file)
    if sampler == "auto":
        return "engine" if gguf else "transformers"
    if sampler == "engine" and not gguf:
        raise ConfigError(f"--sampler engine serves a .gguf backbone; {cfg.backbone} is not one "
                          "(give a pool model name or a .gguf file, or use --sampler transformers)")
    return sampler


@register_optimiser("rl")
@dataclass
class RLOptimiser(Optimiser):
    config: RLConfig
    sampler: str = "auto"
    progress: bool = True
    loaded: Any = None  # tests: (tokenizer, model) already loaded from the backbone
    result: RLResult | None = None

    artifact = NeuroMASArtifact

    def __post_init__(self) -> None:
        self.sampler_kind = sampler_kind(self.config, self.sampler)

    async def compile(self, student: SystemSpec, pool: PoolLike, trainset: Sequence[Any], validset: Sequence[Any],
                      out: str | Path, reward: RewardFn = task_reward) -> Path:
        if student.kind != "neuromas" or student.checkpoint:
            raise ConfigError(f"the RL optimiser trains an untrained `neuromas` student (one node = one model), "
                              f"not {student.kind!r}" + (f" from {student.checkpoint}" if student.checkpoint else ""))
        cfg, out = self.config, Path(out)
        policy = build_policy(cfg, self.loaded)
        sampler = None
        if self.sampler_kind == "engine":
            slots = max(cfg.n_parallel, cfg.n_parallel * max(cfg.layers or (1,)))
            sampler = EngineSampler(cfg.backbone_file, out / ENGINE_DIR, n_parallel=min(slots, 16),
                                    report_tokens=True, prompt_reuse=PROMPT_REUSE)
            await sampler.sync(policy)
        try:
            self.result = await train_rl(cfg, trainset, validset, out, policy=policy, sampler=sampler,
                                         reward=reward, progress=self.progress)
        finally:
            if sampler is not None:
                await sampler.aclose()
        return out


__all__ = ["RLOptimiser", "NeuroMASArtifact", "sampler_kind", "student_spec"]
