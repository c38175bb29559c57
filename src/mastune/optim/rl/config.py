"""`RLConfig`: everything an RL run is configured by; `mastune train rl` / `train neuromas` flags come from
its fields (name -> --name, the `help` metadata -> the flag's help), and OUT/config.json saves it."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...errors import ConfigError
from ...graph.layernet import parse_layers
from .estimators import ADVANTAGES
from .losses import LOSSES

if TYPE_CHECKING:
    from ..neuromas.lora import LoraSpec

# "LoRA without regret": all linear layers (attention-only underperforms); the names of Qwen2 / Llama.
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
TRUNCATED = ("mask", "wrong")
PROMPTS = ("layered", "plain")
# May change when a run is resumed or extended: they do not change what was already computed.
RESUMABLE = {"steps", "eval_every", "n_parallel", "logprob_batch", "device", "probe_every"}


def opt(default: Any, help: str, **kw: Any) -> Any:
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class RLConfig:
    # ---- what is trained ----
    task: str = opt("gsm8k", "task to train on (its seeded train split; evaluation on the valid split)")
    backbone: str = opt("qwen2.5-coder-0.5b", "pool model name, .gguf file or HF folder")
    layers: tuple[int, ...] = opt((), "hidden widths: empty = one model; 1,1 = NeuroMAS-3, 2,2 = NeuroMAS-5",
                                  flag_type=str)
    rank: int = opt(16, "LoRA rank of every adapter")
    alpha: float | None = opt(None, "LoRA alpha (default 2 x rank)")
    target_modules: tuple[str, ...] = opt(ALL_LINEAR, "LoRA target modules (comma-separated)", flag="targets",
                                          flag_type=str)
    grow_from: str | None = opt(None, "a smaller trained network (best.pt) whose adapters seed matching nodes")
    prompt: str = opt("layered", "layered: the NeuroMAS node prompts (one node = Direct's CoT prompt); "
                                 "plain: the question as the only user message")
    # ---- data ----
    split_seed: int = opt(0, "seed of the dataset's train/valid/test split")
    train_size: int | None = opt(None, "first N items of the train split (default all)")
    eval_size: int = opt(100, "valid items evaluated greedily (>= 100 to select a checkpoint on them)")
    # ---- the recipe ----
    steps: int = opt(100, "update steps (a step = questions_per_step x group_size episodes)")
    questions_per_step: int = opt(8, "questions per step")
    group_size: int = opt(8, "samples per question (TRL's default 8)")
    advantage: str = opt("loo", f"advantage estimator: {' | '.join(ADVANTAGES)}")
    loss: str = opt("clip", f"policy loss: {' | '.join(LOSSES)}")
    epochs: int = opt(2, "optimiser steps per batch (clip keeps later ones near the sampling policy)")
    clip: float = opt(0.2, "clip range of the probability ratio")
    kl: float = opt(0.0, "weight of a KL penalty to the backbone without adapters (0: none, TRL's default)")
    tis_cap: float = opt(2.0, "cap of the truncated importance weight learner/sampler per token (0: off)")
    lr: float = opt(5e-5, "peak learning rate (LoRA wants ~10x full fine-tuning's)")
    warmup_steps: int = opt(5, "linear learning-rate warm-up (steps)")
    grad_clip: float = opt(1.0, "gradient norm clip per adapter")
    temperature: float = opt(1.0, "sampling temperature of training episodes (evaluation is greedy)")
    max_tokens: int = opt(512, "new tokens per call while training")
    eval_max_tokens: int = opt(512, "new tokens per call when evaluating")
    truncated: str = opt("mask", "replies cut at max_tokens: mask (no reward, no gradient) | wrong (reward 0)")
    dynamic: bool = opt(True, "draw more questions while fewer than half a step's groups can teach anything")
    max_redraws: int = opt(2, "extra draws per step at most (dynamic sampling)")
    eval_every: int = opt(10, "evaluate every N steps (and after the last; 0: only after the last)")
    probes: int = opt(2, "fixed probe replies for the KL-to-start figure")
    probe_every: int = opt(5, "measure KL to the start every N steps")
    ema_decay: float = opt(0.9, "decay of the ema estimator's moving average")
    seed: int = opt(0, "seed of question draws, samples and adapter initialisation")
    # ---- machinery ----
    n_parallel: int = opt(8, "engine slots: a group's samples decode as concurrent streams")
    logprob_batch: int = opt(4, "replies per learner forward pass")
    device: str = opt("auto", "learner device: auto | cpu | cuda[:N]")

    def __post_init__(self) -> None:
        self.layers = parse_layers(self.layers)
        if isinstance(self.target_modules, str):
            self.target_modules = tuple(t.strip() for t in self.target_modules.split(",") if t.strip())
        self.target_modules = tuple(self.target_modules)
        if self.advantage not in ADVANTAGES:
            raise ConfigError(f"unknown advantage estimator {self.advantage!r}; use one of {', '.join(ADVANTAGES)}")
        if self.loss not in LOSSES:
            raise ConfigError(f"unknown policy loss {self.loss!r}; use one of {', '.join(LOSSES)}")
        if self.truncated not in TRUNCATED:
            raise ConfigError(f"truncated must be one of {TRUNCATED}, got {self.truncated!r}")
        if self.prompt not in PROMPTS:
            raise ConfigError(f"prompt must be one of {PROMPTS}, got {self.prompt!r}")
        if min(self.steps, self.questions_per_step, self.group_size, self.epochs, self.max_tokens,
               self.eval_max_tokens, self.n_parallel, self.logprob_batch) < 1:
            raise ConfigError("steps, questions_per_step, group_size, epochs, max_tokens, eval_max_tokens, "
                              "n_parallel and logprob_batch must be >= 1")
        if self.advantage in ("loo", "group_mean", "group_norm") and self.group_size < 2:
            raise ConfigError(f"the {self.advantage} estimator compares samples of one question: group_size >= 2")
        if self.loss == "reinforce" and self.epochs > 1:
            raise ConfigError("the reinforce loss is on-policy: one epoch per batch (use --loss clip for more)")
        if self.temperature <= 0:
            raise ConfigError("training samples need temperature > 0 (evaluation is greedy anyway)")
        if self.lr <= 0 or self.clip <= 0 or self.kl < 0 or self.tis_cap < 0 or self.warmup_steps < 0:
            raise ConfigError("lr and clip must be > 0; kl, tis_cap and warmup_steps >= 0")
        if self.eval_size < 0 or self.probes < 0 or self.max_redraws < 0:
            raise ConfigError("eval_size, probes and max_redraws must be >= 0")
        self.lora  # validates rank and targets

    @property
    def lora(self) -> "LoraSpec":
        from ..neuromas.lora import LoraSpec  # the neuromas package imports torch; the CLI's flags must not

        return LoraSpec(self.rank, self.target_modules, self.alpha)

    @property
    def episodes_per_step(self) -> int:
        return self.questions_per_step * self.group_size

    @property
    def backbone_file(self) -> str:
        from ..neuromas.engine import resolve_backbone

        cached = self.__dict__.get("_backbone_file")
        if cached is None or cached[0] != self.backbone:
            cached = (self.backbone, resolve_backbone(self.backbone))
            object.__setattr__(self, "_backbone_file", cached)
        return cached[1]

    def lr_at(self, step: int) -> float:
        """Linear warm-up to lr over warmup_steps, then constant: Adam's first steps are ~lr * sign(g)
        on every parameter, which a few noisy episodes must not get at full size."""
        return self.lr * min(1.0, (step + 1) / (self.warmup_steps + 1)) if self.warmup_steps else self.lr

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["layers"], d["target_modules"] = list(self.layers), list(self.target_modules)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RLConfig":
        from ...io import dataclass_from_dict

        return dataclass_from_dict(cls, d, "RL training options")

    def differences(self, other: "RLConfig") -> list[str]:
        """Fields whose change makes resuming `other`'s run with this config wrong."""
        from ..neuromas.engine import portable_backbone

        a, b = self.to_dict(), other.to_dict()
        a["backbone"], b["backbone"] = portable_backbone(a["backbone"]), portable_backbone(b["backbone"])
        return [f"{k}: run has {b[k]!r}, now {a[k]!r}" for k in a if k not in RESUMABLE and a[k] != b[k]]
