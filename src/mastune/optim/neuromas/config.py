"""Everything a NeuroMAS training run is configured by, saved as OUT/config.json."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from ...graph.layernet import calls, parse_layers
from .lora import DEFAULT_TARGETS, LoraSpec
from .reinforce import BASELINES

CONFIG_FILE = "config.json"
# May change when a killed run is resumed or extended: they do not change what was already computed.
_RESUMABLE = {"steps", "val_every", "concurrency", "logprob_batch", "device"}


@dataclass
class NeuroMASConfig:
    backbone: str = ""  # HF model folder or .gguf file (the engine serves the same weights)
    task: str = "navigate"  # a registered task (mastune.tasks); train/valid come from its seeded split
    split_seed: int = 0  # the seeded train/valid/test split (mastune.tasks.splits)
    train_size: int | None = None  # first N of the train split (None: all)
    val_size: int | None = 50  # first N of the valid split, for best-on-validation
    layers: tuple[int, ...] = (1, 1)  # hidden widths; () = one node (the single-LLM baseline)
    rank: int = 8
    alpha: float | None = None  # None: 2 * rank
    target_modules: tuple[str, ...] = DEFAULT_TARGETS
    grow_from: str | None = None  # a smaller network's checkpoint (best.pt) to start from
    seed: int = 0
    steps: int = 10
    questions_per_step: int = 4
    group_size: int = 4  # samples per question (the leave-one-out baseline needs >= 2)
    baseline: str = "loo"  # loo | ema
    ema_decay: float = 0.9
    lr: float = 1e-4
    grad_clip: float = 1.0
    length_norm: bool = False  # divide each sequence log-prob by its length
    # training samples (scored under the same temperature); evaluation is greedy. SmolLM2-135M at
    # T = 1 writes word salad (seen here), so the default is a little lower.
    temperature: float = 0.7
    max_tokens: int = 200
    eval_max_tokens: int = 200  # the paper: greedy, 200 new tokens
    val_every: int = 5
    concurrency: int = 8  # episodes run at once
    logprob_batch: int = 4  # sequences per scoring forward pass
    device: str = "auto"  # where the learner runs: auto (cuda when available) | cpu | cuda[:N]

    def __post_init__(self) -> None:
        self.layers = parse_layers(self.layers)
        self.target_modules = tuple(self.target_modules)
        if self.baseline not in BASELINES:
            raise ConfigError(f"unknown baseline {self.baseline!r}; use one of {BASELINES}")
        if self.baseline == "loo" and self.group_size < 2:
            raise ConfigError("the leave-one-out baseline needs group_size >= 2 (samples per question)")
        if min(self.steps, self.questions_per_step, self.group_size) < 1:
            raise ConfigError("steps, questions_per_step and group_size must be >= 1")
        if self.temperature <= 0:
            raise ConfigError("training samples need temperature > 0 (evaluation is greedy anyway)")
        self.lora  # validates rank and targets

    @property
    def lora(self) -> LoraSpec:
        return LoraSpec(self.rank, self.target_modules, self.alpha)

    @property
    def backbone_file(self) -> str:
        """The backbone's folder or .gguf file on this machine (a pool name is pulled if needed)."""
        from .engine import resolve_backbone

        cached = self.__dict__.get("_backbone_file")
        if cached is None or cached[0] != self.backbone:  # resolved once per name, not per use
            cached = (self.backbone, resolve_backbone(self.backbone))
            object.__setattr__(self, "_backbone_file", cached)
        return cached[1]

    @property
    def episodes_per_step(self) -> int:
        return self.questions_per_step * self.group_size

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["layers"], d["target_modules"] = list(self.layers), list(self.target_modules)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "NeuroMASConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown NeuroMAS training options {sorted(unknown)}; allowed: {sorted(known)}")
        return cls(**d)

    def save(self, out_dir: str | Path, **extra: Any) -> None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        payload = {"config": self.to_dict(), **extra}
        (Path(out_dir) / CONFIG_FILE).write_text(json.dumps(payload, indent=2, default=str))

    @classmethod
    def load(cls, out_dir: str | Path) -> "NeuroMASConfig":
        path = Path(out_dir) / CONFIG_FILE
        if not path.is_file():
            raise ConfigError(f"{out_dir} holds no NeuroMAS training run ({CONFIG_FILE} missing)")
        return cls.from_dict(json.loads(path.read_text())["config"])

    def differences(self, other: "NeuroMASConfig") -> list[str]:
        """Fields whose change makes resuming `other`'s run with this config wrong."""
        from .engine import portable_backbone

        a, b = self.to_dict(), other.to_dict()
        a["backbone"], b["backbone"] = portable_backbone(a["backbone"]), portable_backbone(b["backbone"])
        return [f"{k}: run has {b[k]!r}, now {a[k]!r}" for k in a if k not in _RESUMABLE and a[k] != b[k]]


def single_llm_config(cfg: NeuroMASConfig) -> NeuroMASConfig:
    """The single-LLM-RL baseline of `cfg`: one node (layers ()) whose one adapter has as many
    trainable parameters as the whole network (rank x calls: a LoRA's size is linear in its rank;
    lora.matched_rank checks it on a model). Alpha scales with it, so LoRA's scale alpha/rank,
    and every other setting, stay the same."""
    n = calls(cfg.layers)
    return dataclasses.replace(cfg, layers=(), rank=cfg.rank * n, grow_from=None,
                               alpha=None if cfg.alpha is None else cfg.alpha * n)
