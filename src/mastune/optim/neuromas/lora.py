"""LoRA settings of the per-node adapters, and LoRA parameter counts."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from ...errors import ConfigError

# q/k/v/o at rank 8: what the paper's parameter counts for Qwen3-0.6B imply.
DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")


@dataclass(frozen=True)
class LoraSpec:
    rank: int = 8
    target_modules: tuple[str, ...] = DEFAULT_TARGETS
    alpha: float | None = None  # None: 2 * rank, so the scale alpha/rank stays 2 whatever the rank
    dropout: float = 0.0  # 0: the log-prob of a sample does not depend on a dropout draw

    def __post_init__(self) -> None:
        object.__setattr__(self, "target_modules", tuple(self.target_modules))
        if self.rank < 1:
            raise ConfigError(f"LoRA rank must be >= 1, got {self.rank}")
        if not self.target_modules:
            raise ConfigError("LoRA needs at least one target module (e.g. q_proj,k_proj,v_proj,o_proj)")

    @property
    def lora_alpha(self) -> float:
        return float(self.alpha) if self.alpha is not None else 2.0 * self.rank

    def peft_config(self) -> Any:
        from peft import LoraConfig

        return LoraConfig(r=self.rank, lora_alpha=self.lora_alpha, lora_dropout=self.dropout,
                          target_modules=list(self.target_modules), bias="none", task_type="CAUSAL_LM")

    def to_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "target_modules": list(self.target_modules), "alpha": self.lora_alpha,
                "dropout": self.dropout}


def lora_b_max(named: Iterable[tuple[str, Any]]) -> float:
    """Largest |entry| of the LoRA B tensors among (name, tensor) pairs (a live adapter's parameters or
    a checkpoint's state). B starts at 0 and Adam moves an entry by about lr per update, so this shows
    directly whether training can have moved the adapter at all."""
    return max((float(t.detach().abs().max()) for k, t in named if "lora_B" in k), default=0.0)


def _targets(model: Any, target_modules: Sequence[str]) -> list[tuple[int, int]]:
    """(in, out) features of every linear layer LoRA would wrap (peft's rule: the module name
    equals a target or ends with '.' + target)."""
    import torch

    found = []
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and any(name == t or name.endswith("." + t) for t in target_modules):
            found.append((module.in_features, module.out_features))
    if not found:
        raise ConfigError(f"no linear layer of the backbone matches target modules {list(target_modules)}")
    return found


def lora_param_count(model: Any, rank: int, target_modules: Sequence[str] = DEFAULT_TARGETS) -> int:
    """Trainable parameters of one adapter: rank * (in + out) summed over the wrapped layers."""
    return rank * sum(i + o for i, o in _targets(model, target_modules))


def matched_rank(model: Any, layers: Sequence[int], rank: int = 8,
                 target_modules: Sequence[str] = DEFAULT_TARGETS) -> int:
    """Rank of the single-LLM-RL baseline's one adapter whose parameter count equals the network's
    (one adapter of `rank` per node, sum(layers) + 1 nodes, same target modules).

    A LoRA's count is linear in its rank, so the match is exact: rank * nodes."""
    nodes = sum(layers) + 1
    want = nodes * lora_param_count(model, rank, target_modules)
    per_rank = lora_param_count(model, 1, target_modules)
    r, rest = divmod(want, per_rank)
    assert rest == 0 and r == nodes * rank  # linear in rank: cannot fail, kept as a guard
    return r
