"""NeuroMAS: role-free layered agent networks, one LoRA adapter per node on one shared
backbone, trained jointly by REINFORCE on the terminal reward and grown from smaller
trained networks. Needs torch, transformers and peft (the `sft` extra).

Pieces: lora (settings, parameter counts, the single-LLM baseline's matched rank),
policy (backbone + adapters, teacher-forced log-probs), sampler (the Sampler protocol,
transformers sampling, LM/pool sampling), engine (the embedded-engine sampler: per-node GGUF
LoRA per request, re-exported after every update), episode (one forward pass), reinforce
(baselines, the update), growth (small -> big adapters), checkpoint (versioned network files),
train (the loop), system (the `neuromas` system kind), optimiser (the `neuromas` optimiser).
"""
from .checkpoint import FORMAT_VERSION, NetworkMeta, backbone_sha256, export_peft, load_network, save_network
from .config import NeuroMASConfig, single_llm_config
from .engine import EngineSampler
from .episode import Episode, NodeCall, RewardFn, answer_format, forward, task_reward
from .growth import grow, growth_mapping, new_nodes
from .lora import DEFAULT_TARGETS, LoraSpec, lora_param_count, matched_rank
from .policy import AdapterPolicy, load_backbone, prompt_ids
from .reinforce import EmaBaseline, advantages, loo_advantages, make_optimizers, update
from .sampler import LMSampler, Sampled, Sampler, TransformersSampler, llama_server_lora
from .train import TrainResult, build_policy, evaluate, load_splits, load_trained, train_network, train_neuromas

__all__ = [
    "DEFAULT_TARGETS", "FORMAT_VERSION", "AdapterPolicy", "EmaBaseline", "EngineSampler", "Episode", "LMSampler", "LoraSpec", "NetworkMeta",
    "NeuroMASConfig", "NodeCall", "RewardFn", "Sampled", "Sampler", "TrainResult", "TransformersSampler",
    "advantages", "answer_format", "backbone_sha256", "build_policy", "evaluate", "export_peft", "forward",
    "grow", "growth_mapping", "llama_server_lora", "load_backbone", "load_network", "load_splits", "load_trained", "lora_param_count",
    "loo_advantages", "make_optimizers", "matched_rank", "new_nodes", "prompt_ids", "save_network",
    "single_llm_config", "task_reward", "train_network", "train_neuromas", "update",
]
