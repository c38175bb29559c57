"""Everything a HieraMAS training run is configured by, saved next to its checkpoints."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...agents.prompts import canonical_family
from ...agents.transcript import PROMPT_LAYOUTS
from ...agents.prompts import family as family_spec
from ...errors import ConfigError
from ..runfolder import CONFIG_FILE, RunFolder
from .classifier import ClassifierConfig
from .episode import RuntimeOptions
from .reinforce import BASELINES
from .rewards import RewardConfig
from .selector import SelectorConfig

_NESTED = {"runtime": RuntimeOptions, "reward": RewardConfig, "selector": SelectorConfig, "classifier": ClassifierConfig}
# May change when a killed run is resumed or extended: they do not change what was already computed.
# Values of options added later, for run folders saved before them (what those runs did).
_LEGACY = {"steps_per_batch": 1, "baseline": "none", "roles": None, "sample": False}
_RESUMABLE = {"iterations", "concurrency", "val_every", "k_dags", "top_positive", "classifier"}


@dataclass
class TrainConfig:
    task: str = "gsm8k"
    seed: int = 0  # training randomness: selector init, batches, DAGs, sampling
    split_seed: int = 0  # the dataset's seeded train/valid/test split (mastune.tasks.splits)
    train_size: int | None = None  # first N of the train split (None: all)
    val_size: int | None = 20  # first N of the valid split, for stage-1 model selection
    # train_size/val_size take a seeded random N of the split (kept in dataset order) instead of the
    # first N: the first N of MMLU-Redux are 2-3 subjects (the file is sorted by subject)
    sample: bool = False
    embedder: str = "minilm"  # "minilm" (all-MiniLM-L6-v2) or "hash-DIM" (tests)
    roles: list[str] | None = None  # the family's roles to use as supernodes (None: all, in family order)
    proposers: int = 2
    runtime: RuntimeOptions = field(default_factory=RuntimeOptions)
    concurrency: int = 4  # queries (episodes) run at once
    # ---- stage 1: the LLM selector (REINFORCE) ----
    iterations: int = 12
    batch_size: int = 4
    # The release: lr 2e-3, one Adam step per batch, no baseline, T 10 -> 0.8. An Adam step moves
    # each weight by about lr whatever the reward's scale, so 12 such steps leave the policy where
    # it started (benchmarks/RESULTS.md). Several clipped steps per batch, a larger lr and a
    # baseline make it move within a few hundred episodes; a cooler start lets it exploit them.
    lr: float = 1e-2
    steps_per_batch: int = 4  # optimiser steps on each batch of episodes (clipped surrogate after the first)
    clip: float = 0.2  # PPO-style ratio clip for steps after the first
    baseline: str = "mean"  # none (release) | mean (leave-one-out batch mean per role) | ema
    baseline_decay: float = 0.9  # ema only
    grad_clip: float = 1.0
    # The release used β = 1.0; with the temperature schedule doing the exploring,
    # a smaller bonus lets the policy commit within a short run.
    entropy_beta: float = 0.1
    temp_start: float = 2.0
    temp_end: float = 0.8
    val_every: int = 2
    n_dags: int = 100  # stage-1 pool of random DAGs; each query draws one
    density: tuple[float, float] = (0.0, 1.0)
    reward: RewardConfig = field(default_factory=RewardConfig)
    selector: SelectorConfig = field(default_factory=SelectorConfig)
    # ---- stage 2: the graph classifier ----
    k_dags: int = 5  # random DAGs run per training query to label
    top_positive: int = 2  # the best this-many DAGs by r_F (and r_F > 0) are positives
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)

    def __post_init__(self) -> None:
        for name, cls in _NESTED.items():
            v = getattr(self, name)
            if isinstance(v, dict):
                setattr(self, name, cls(**v))
        self.density = tuple(self.density)  # JSON gives a list
        self.selector.proposers = self.proposers
        if self.iterations < 1 or self.batch_size < 1:
            raise ConfigError("iterations and batch_size must be >= 1")
        if not 0.0 <= self.reward.alpha <= 1.0:
            raise ConfigError(f"node reward weight (alpha) must be in [0, 1], got {self.reward.alpha}")
        if self.temp_start <= 0 or self.temp_end <= 0:
            raise ConfigError("sampling temperatures must be > 0")
        if self.steps_per_batch < 1:
            raise ConfigError("steps_per_batch must be >= 1")
        if self.baseline not in BASELINES:
            raise ConfigError(f"baseline must be one of {BASELINES}, got {self.baseline!r}")
        if self.runtime.prompt_layout not in PROMPT_LAYOUTS:
            raise ConfigError(f"prompt_layout must be one of {PROMPT_LAYOUTS}, got {self.runtime.prompt_layout!r}")
        if self.lr <= 0:
            raise ConfigError(f"the learning rate must be > 0, got {self.lr}")
        if self.roles is not None:
            self.roles = list(self.roles)
            known = [r.name for r in family_spec(self.family).roles]
            bad = [r for r in self.roles if r not in known]
            if bad or len(set(self.roles)) != len(self.roles) or not self.roles:
                raise ConfigError(f"roles {self.roles} must be distinct roles of the {self.family!r} family: "
                                  f"{known}" + (f" (unknown: {bad})" if bad else ""))
            self.roles = [r for r in known if r in self.roles]  # family order: checkpoints compare lists

    @property
    def family(self) -> str:
        return canonical_family(self.task)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown HieraMAS training options {sorted(unknown)}")
        # a run saved before these options existed trained with the release's update rule
        return cls(**{**_LEGACY, **d})

    def save(self, out_dir: str | Path, **extra: Any) -> None:
        RunFolder(out_dir).save_config(self.to_dict(), **extra)

    @classmethod
    def load(cls, out_dir: str | Path) -> "TrainConfig":
        path = Path(out_dir) / CONFIG_FILE
        if not path.is_file():
            raise ConfigError(f"{out_dir} holds no HieraMAS training run ({CONFIG_FILE} missing)")
        return cls.from_dict(json.loads(path.read_text())["config"])

    def differences(self, other: "TrainConfig") -> list[str]:
        """Fields that differ in a way that makes resuming `other`'s run with this config wrong."""
        a, b = self.to_dict(), other.to_dict()
        return [f"{k}: run has {b[k]!r}, now {a[k]!r}" for k in a if k not in _RESUMABLE and a[k] != b[k]]
