"""Optimisers: one contract (`Optimiser.compile` -> an artifact folder; `Artifact.load`), shared run folders.

    hieramas/   learned LLM mixtures + learned topology (two stages); its artifact is the `hieramas` kind
    sft/        collaboration traces -> LoRA SFT of an agent model
    neuromas/   layered role-free networks, one LoRA adapter per node (REINFORCE); its artifact is the `neuromas` kind
    rl/         one RL trainer for LoRA policies (a single model or a NeuroMAS network); same artifact
Registered lazily: importing this package imports no torch / transformers.
"""
from ..systems.registry import register_lazy
from .base import Artifact, Optimiser, get_optimiser, optimisers, register_lazy_optimiser, register_optimiser

register_lazy_optimiser("hieramas", "mastune.optim.hieramas.optimiser")
register_lazy_optimiser("sft", "mastune.optim.sft.optimiser")
register_lazy_optimiser("neuromas", "mastune.optim.neuromas.optimiser")
register_lazy_optimiser("rl", "mastune.optim.rl.optimiser")
register_lazy("hieramas", "mastune.optim.hieramas.system")  # the HieraMAS artifact's system kind
register_lazy("neuromas", "mastune.optim.neuromas.system")  # the NeuroMAS artifact's system kind

__all__ = ["Artifact", "Optimiser", "get_optimiser", "optimisers", "register_lazy_optimiser", "register_optimiser"]
