"""One RL trainer for LoRA policies on a frozen backbone: a single model (one adapter) or a NeuroMAS
network (one adapter per node), sampled on the embedded engine and updated by a torch learner.

Pieces: config (RLConfig; the CLI's flags come from it), estimators (advantage registry), losses
(policy-loss registry), plain (one-call episodes on the bare question), scalars (TensorBoard),
trainer (the loop and its run folder), optimiser (the `rl` optimiser). The adapter policy, the
samplers, the engine's per-request adapters and the network checkpoints are shared with NeuroMAS
(optim/neuromas), whose trained networks this trainer produces in the same checkpoint format.
"""
from typing import Any

from .config import ALL_LINEAR, RLConfig
from .estimators import ADVANTAGES, get_estimator
from .losses import LOSSES, TokenBatch, get_loss

_TRAINER = ("RLResult", "build_policy", "summary", "train_rl")


def __getattr__(name: str) -> Any:
    """The trainer's names on first use: importing the config (the CLI's flags) imports no torch."""
    if name in _TRAINER:
        from . import trainer

        return getattr(trainer, name)
    raise AttributeError(name)

__all__ = ["ADVANTAGES", "ALL_LINEAR", "LOSSES", "RLConfig", "RLResult", "TokenBatch", "build_policy",
           "get_estimator", "get_loss", "summary", "train_rl"]
