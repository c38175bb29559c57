"""HieraMAS: learned LLM mixtures inside supernodes and a learned topology.

Stage 1 trains the LLM selector with REINFORCE on cost-aware node- and
system-level rewards; stage 2 trains a GCN graph classifier on DAGs labelled
with the frozen selector; `build_hieramas_system` runs the result.
Needs the `learn` extra (torch, torch-geometric, sentence-transformers).
"""
from .checkpoint import FORMAT_VERSION, CheckpointError, CheckpointMeta, load_checkpoint, save_checkpoint
from .classifier import ClassifierConfig, GraphClassifier, GraphSample, train_classifier
from .config import TrainConfig
from .embed import HashEmbedder, SentenceEmbedder, get_embedder
from .episode import Episode, Plan, RuntimeOptions, run_episode
from ...eval.stats import mean_group_auc, roc_auc
from .reinforce import cosine_temperature, reinforce_loss
from .rewards import RewardConfig, effective_rewards, shaped_reward
from .selector import LLMSelector, SelectorConfig
from .system import HieraMASSystem, build_hieramas_system
from .train import Stage1Result, Stage2Result, train_stage1, train_stage2

__all__ = [
    "FORMAT_VERSION", "CheckpointError", "CheckpointMeta", "ClassifierConfig", "Episode", "GraphClassifier",
    "GraphSample", "HashEmbedder", "HieraMASSystem", "LLMSelector", "Plan", "RewardConfig", "RuntimeOptions",
    "SelectorConfig", "SentenceEmbedder", "Stage1Result", "Stage2Result", "TrainConfig", "build_hieramas_system",
    "cosine_temperature", "effective_rewards", "get_embedder", "load_checkpoint", "mean_group_auc",
    "reinforce_loss", "roc_auc", "run_episode", "save_checkpoint", "shaped_reward", "train_classifier",
    "train_stage1", "train_stage2",
]
