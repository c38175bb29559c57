"""What both training stages and the inference system derive from (config, pool)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from ...agents.prompts import Role, family
from ...agents.runtime import PoolLike
from .checkpoint import CheckpointError, CheckpointMeta, load_checkpoint
from .config import TrainConfig
from .embed import Embedder, get_embedder
from .features import PoolInfo
from .selector import LLMSelector, SelectorConfig


@dataclass
class Setup:
    """Roles of the task family, the pool as the selector sees it, the embedder, the cost unit."""

    cfg: TrainConfig
    roles: list[Role]
    pool_info: PoolInfo
    embedder: Embedder
    cost_ref: float

    @classmethod
    def make(cls, cfg: TrainConfig, pool: PoolLike, embedder: Embedder | None = None) -> "Setup":
        info = PoolInfo.of(pool)
        emb = embedder or get_embedder(cfg.embedder)
        roles = [r for r in family(cfg.family).roles if cfg.roles is None or r.name in cfg.roles]
        return cls(cfg, roles, info, emb, cfg.reward.reference_cost(info.max_price_per_m()))

    @property
    def role_names(self) -> list[str]:
        return [r.name for r in self.roles]

    def meta(self, kind: str, config: dict, info: dict) -> CheckpointMeta:
        return CheckpointMeta(kind, list(self.pool_info.names), self.cfg.family, self.role_names, self.embedder.name,
                              int(self.embedder.dim), config, info)

    def expect(self) -> dict:
        """What a checkpoint must have been made for, to be used here."""
        return {"pool_models": self.pool_info.names, "family": self.cfg.family, "roles": self.role_names,
                "embedding_model": self.embedder.name}

    def new_selector(self) -> LLMSelector:
        torch.manual_seed(self.cfg.seed)
        return LLMSelector(int(self.embedder.dim), self.cfg.selector)

    def load_selector(self, path: Path) -> LLMSelector:
        state, meta = load_checkpoint(path, kind="selector", **self.expect())
        sel = LLMSelector(meta.embedding_dim, SelectorConfig(**meta.config["selector"]))
        sel.load_state_dict(state)
        sel.eval()
        return sel

    def load_classifier(self, path: Path):
        from .classifier import GraphClassifier

        state, meta = load_checkpoint(path, kind="classifier", **self.expect())
        c = meta.config["classifier"]
        model = GraphClassifier(torch.zeros(len(self.roles), meta.config["role_dim"]), meta.embedding_dim,
                                c["hidden"], c["dropout"])
        model.load_state_dict(state)
        model.eval()
        return model

    def check_same_run(self, out: Path) -> None:
        """Refuse to resume or extend a run directory made with other settings."""
        if not (out / "config.json").is_file():
            return
        saved = TrainConfig.load(out)
        diffs = self.cfg.differences(saved)
        saved_pool = json.loads((out / "config.json").read_text()).get("pool_models")
        if saved_pool is not None and list(saved_pool) != list(self.pool_info.names):
            diffs.append(f"pool models: run has {saved_pool}, now {list(self.pool_info.names)}")
        if diffs:
            raise CheckpointError(f"{out} holds a run with other settings ({'; '.join(diffs)}); "
                                  "use a new --out directory or the same options")
