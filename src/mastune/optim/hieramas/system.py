"""The inference-time `hieramas` system.

For a question: the selector's argmax fills every slot (roles whose
synthesiser picks skip are left out), ~100 random DAGs over the remaining
roles are scored by the graph classifier, and the top-1 runs on the shared
runtime (the same SystemConfig -> System path as `hieramas-fixed`).

Ablations: graph_classifier=False runs a random DAG (seeded by the question);
llm_selection=False puts every slot on one model (and keeps every role).

A kind of the system contract (`hieramas`), registered here because it is the
HieraMAS optimiser's artifact: its spec names the trained run folder.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ...agents.prompts import canonical_family
from ...agents.runtime import PoolLike, Runtime, default_model
from ...agents.trace import Trace
from ...errors import ConfigError
from ...graph.generators import random_dag_pool
from ...systems.base import BaseSystem
from ...systems.graph import System, run_topology, topology_trace
from ...systems.registry import register_kind
from ...systems.spec import SystemSpec
from ..seeds import stable_int
from .checkpoint import CLASSIFIER_FILE, SELECTOR_FILE, weights_digest
from .classifier import GraphBatch, GraphSample, collate
from .config import TrainConfig
from .embed import Embedder
from .episode import Plan, system_config
from .features import query_text
from .policy import Policy
from .setup import Setup

# kind options (`mastune eval --system hieramas ...`) -> build_hieramas_system arguments
OPTIONS = ("graph_classifier", "llm_selection", "single_model", "n_candidates", "seed", "max_tokens")


@register_kind("hieramas")
class HieraMASSystem(BaseSystem):
    name = "hieramas"

    def __init__(
        self,
        setup: Setup,
        pool: PoolLike,
        policy: Policy | None,
        classifier: Any | None,
        *,
        graph_classifier: bool = True,
        llm_selection: bool = True,
        single_model: str | None = None,
        n_candidates: int = 100,
        seed: int = 0,
    ) -> None:
        if llm_selection and policy is None:
            raise ConfigError("hieramas: LLM selection needs a trained selector (or pass llm_selection=False)")
        if graph_classifier and classifier is None:
            raise ConfigError("hieramas: graph scoring needs a trained classifier (run stage 2, "
                              "or pass graph_classifier=False)")
        self.setup = setup
        self.pool = pool
        self.policy = policy
        self.classifier = classifier
        self.graph_classifier = graph_classifier
        self.llm_selection = llm_selection
        self.single_model = single_model or default_model(pool)
        if not llm_selection and self.single_model not in setup.pool_info.names:
            raise ConfigError(f"single model {self.single_model!r} is not in the pool {list(setup.pool_info.names)}")
        self.n_candidates = n_candidates
        self.seed = seed
        self._query_cache: dict[str, torch.Tensor] = {}

    @property
    def family(self) -> str:
        return self.setup.cfg.family

    def _check_family(self, family: str) -> str:
        fam = canonical_family(family)
        if fam != self.family:
            raise ConfigError(f"this HieraMAS checkpoint was trained for the {self.family!r} family (roles "
                              f"{self.setup.role_names}); it cannot answer {fam!r} questions")
        return fam

    def plan(self, question: str, family: str) -> Plan:
        """Slot assignments and the DAG this system would run for `question` (no LLM calls)."""
        fam = self._check_family(family)
        roles = self.setup.roles
        if self.llm_selection:
            choice = self.policy.greedy(question)
            active = self.policy.active(choice)
            every = self.policy.assignments(choice)
        else:
            active = list(range(len(roles)))
            p = self.setup.cfg.proposers
            every = {r.name: {"proposers": [self.single_model] * p, "synthesiser": self.single_model} for r in roles}
        act_roles = [roles[i] for i in active]
        candidates = random_dag_pool(len(active), self.n_candidates, self.setup.cfg.density,
                                     seed=stable_int(self.seed, question))
        edges, score = candidates[0], None
        if self.graph_classifier and len(candidates) > 1:
            scores = self._score(question, active, candidates)
            best = int(torch.argmax(scores))
            edges, score = candidates[best], float(scores[best])
        return Plan(fam, act_roles, edges, {r.name: every[r.name] for r in act_roles}, score)

    @torch.no_grad()
    def _score(self, question: str, active: list[int], candidates: list[list[tuple[int, int]]]) -> torch.Tensor:
        q = self._query_cache.get(question)
        if q is None:
            q = self._query_cache[question] = self.setup.embedder.embed([query_text(question)])[0]
        samples = [GraphSample("q", list(active), list(edges)) for edges in candidates]
        batch: GraphBatch = collate(samples, {"q": q})
        return self.classifier(batch)

    def fingerprint(self) -> dict[str, str]:
        """The trained weights this system answers with (recorded by `mastune eval`, checked on resume)."""
        fp = {}
        if self.llm_selection:
            fp["selector"] = weights_digest(self.policy.selector)
        if self.graph_classifier:
            fp["classifier"] = weights_digest(self.classifier)
        return fp

    def _trace(self, question: str, family: str) -> Trace:
        """This question's plan, laid out as the graph kind lays out any supernode config."""
        plan = self.plan(question, family)
        opts = self.setup.cfg.runtime
        if not self.llm_selection:
            opts = type(opts)(**{**opts.to_dict(), "decision_model": opts.decision_model or self.single_model})
        graph = System(system_config(plan, opts, self.setup.cfg.proposers), self.pool)
        return topology_trace(graph.name, question, plan.family, graph.topology(plan.family, question))

    async def _solve(self, rt: Runtime) -> tuple[str, str | None]:
        return await run_topology(rt)

    # ---- the kind ------------------------------------------------------------
    @classmethod
    def spec(cls, name: str, *, model: str | None = None, config: str | None = None,
             options: dict[str, Any] | None = None, checkpoint: str | None = None) -> dict[str, Any]:
        if not checkpoint:
            raise ConfigError("--system hieramas needs --checkpoint DIR (train one with `mastune train hieramas`)")
        opts = {k: v for k, v in (options or {}).items() if v is not None}
        if model:
            opts["single_model"] = model
        unknown = set(opts) - set(OPTIONS)
        if unknown:
            raise ConfigError(f"unknown hieramas option(s) {sorted(unknown)}; options: {list(OPTIONS)}")
        return opts

    @classmethod
    def from_spec(cls, spec: SystemSpec, pool: PoolLike) -> "HieraMASSystem":
        if not spec.checkpoint:
            raise ConfigError("a hieramas spec needs its checkpoint folder")
        return build_hieramas_system(spec.checkpoint, pool, **spec.config)

    def __repr__(self) -> str:
        return (f"HieraMASSystem(family={self.family!r}, graph_classifier={self.graph_classifier}, "
                f"llm_selection={self.llm_selection})")


def build_hieramas_system(
    checkpoint_dir: str | Path,
    pool: PoolLike,
    *,
    graph_classifier: bool = True,
    llm_selection: bool = True,
    single_model: str | None = None,
    n_candidates: int = 100,
    seed: int = 0,
    max_tokens: int | None = None,
    embedder: Embedder | None = None,
) -> HieraMASSystem:
    """A trained run directory (`mastune train hieramas --out DIR`) bound to `pool`.

    Checkpoints are checked against the pool's model names, the family's roles
    and the embedder; a mismatch raises CheckpointError naming it.
    `max_tokens` overrides the per-call limit the run was trained with.
    """
    out = Path(checkpoint_dir)
    cfg = TrainConfig.load(out)
    if max_tokens is not None:
        cfg.runtime.max_tokens = max_tokens
    setup = Setup.make(cfg, pool, embedder)
    policy = classifier = None
    if llm_selection:
        policy = Policy(setup.load_selector(out / SELECTOR_FILE), setup.embedder, setup.pool_info, setup.roles)
    if graph_classifier:
        classifier = setup.load_classifier(out / CLASSIFIER_FILE)
    return HieraMASSystem(setup, pool, policy, classifier, graph_classifier=graph_classifier,
                          llm_selection=llm_selection, single_model=single_model, n_candidates=n_candidates, seed=seed)
