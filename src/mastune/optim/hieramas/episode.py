"""One HieraMAS run on the shared runtime, and the rewards it earns.

A plan (roles, a DAG over them, slot assignments) becomes a `SystemConfig`
of the graph layout with supernodes — the same machinery as the
`hieramas-fixed` system — so training and inference run exactly what the
executor runs for every other system (skips resolved by the runtime). An
episode is one `rollout` of that system (a picklable spec: any runner can
run it), graded once more per supernode.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from ...agents.prompts import Role, canonical_family
from ...agents.runtime import PoolLike
from ...rollout import Job, LocalRunner, Rollout, rollout
from ...systems.base import SystemResult
from ...systems.graph import GraphConfig, System
from ...systems.spec import SystemSpec
from ...tasks.base import Example
from ...tasks.grade import agrade
from .rewards import RewardConfig, shaped_reward


@dataclass
class RuntimeOptions:
    """How a plan is run (shared by training, label generation and inference)."""

    decision_model: str | None = None  # None: the pool's default model
    proposer_temperature: float = 0.7
    max_tokens: int = 384
    consensus: bool = True
    # "text" or "transcript" (agents/transcript.py: a successor continues a predecessor's
    # conversation, so the engine reuses its prompt and reply from the KV cache)
    prompt_layout: str = "text"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Plan:
    family: str
    roles: list[Role]  # the supernodes (family order)
    edges: list[tuple[int, int]]  # DAG over `roles` by index
    assignments: dict[str, dict[str, Any]]  # role name -> {proposers: [...], synthesiser: ...}
    score: float | None = None  # graph-classifier logit, when one chose the DAG

    def describe(self) -> dict[str, Any]:
        return {
            "roles": [r.name for r in self.roles],
            "edges": [[self.roles[s].name, self.roles[d].name] for s, d in self.edges],
            "assignments": self.assignments,
            "score": self.score,
        }


def system_config(plan: Plan, opts: RuntimeOptions, proposers: int, name: str = "hieramas") -> GraphConfig:
    fam = canonical_family(plan.family)
    return GraphConfig(
        name=name,
        layout="graph",
        supernodes=True,
        proposers=proposers,
        proposer_temperature=opts.proposer_temperature,
        max_tokens=opts.max_tokens,
        model=opts.decision_model,
        decision_model=opts.decision_model,
        consensus=opts.consensus,
        prompt_layout=opts.prompt_layout,
        roles={fam: [r.name for r in plan.roles]},
        graph={"edges": {fam: [[plan.roles[s].name, plan.roles[d].name] for s, d in plan.edges]}},
        assignments=plan.assignments,
    )


def plan_spec(plan: Plan, opts: RuntimeOptions, proposers: int) -> SystemSpec:
    """The plan as a graph-kind spec (plain data: a runner may build it in another process)."""
    return SystemSpec("graph", system_config(plan, opts, proposers).to_dict(), provider=System.__module__)


async def run_plan(plan: Plan, pool: PoolLike, question: str, opts: RuntimeOptions, proposers: int,
                   rollout: str | int | None = None) -> SystemResult:
    return await System(system_config(plan, opts, proposers), pool).run(question, plan.family, rollout=rollout)


@dataclass
class Episode:
    """A graded run: the final answer's and every supernode's own correctness and cost."""

    result: SystemResult
    correct: bool
    parsed: bool
    cost: float
    calls: int
    node_correct: dict[str, bool | None] = field(default_factory=dict)  # role name -> None: not gradable / not run
    node_cost: dict[str, float] = field(default_factory=dict)


async def run_episode(plan: Plan, pool: PoolLike, example: Example, opts: RuntimeOptions, proposers: int,
                      rollout_id: str | int | None = None) -> Episode:
    """One episode on `pool` (a failure raises: training stops rather than learn from it)."""
    out = await rollout(System(system_config(plan, opts, proposers), pool), example, rollout_id)
    return await grade_episode(plan, out.raise_error())


async def run_episodes(runner: LocalRunner, work: Sequence[tuple[Plan, Example]], opts: RuntimeOptions,
                       proposers: int, version: int | None = None) -> list[Episode]:
    """Episodes through the runner (local or Ray: any with `map`), in input order; each query's rollout id
    is its own, so repeats of the same (query, prompt, model) across iterations hit the cache. `version`
    is the policy's (its iteration): a Ray worker refuses a job older than one it has run. The first
    failure raises."""
    jobs = [Job(plan_spec(p, opts, proposers), ex, f"hieramas/{ex.id}", version) for p, ex in work]
    outs = await runner.map(jobs)
    return [await grade_episode(p, out.raise_error()) for (p, _), out in zip(work, outs)]


async def grade_episode(plan: Plan, out: Rollout) -> Episode:
    """The rollout's grade, plus each supernode's own correctness and cost (node-level rewards)."""
    result, example = out.result, out.example
    node_correct: dict[str, bool | None] = {}
    node_cost: dict[str, float] = {}
    for role in plan.roles:
        rec = result.trace.nodes.get(role.id)
        ran = rec is not None and rec.status == "done"
        # Costs come from the executor's per-node tracker: the node's own calls only.
        node_cost[role.name] = rec.usage.cost if ran else 0.0
        node_correct[role.name] = (await agrade(example, rec.output)).correct if ran and role.answers else None
    return Episode(result, out.grade.correct, out.grade.parsed, result.usage.cost, result.calls, node_correct,
                   node_cost)


def episode_rewards(ep: Episode, roles: Sequence[Role], cfg: RewardConfig, cost_ref: float) -> tuple[list[float | None], float]:
    """(node-level reward per role, None where there is no gradable output; system-level reward)."""
    r_final = shaped_reward(ep.correct, ep.cost, cfg, cost_ref)
    nodes = [
        None if ep.node_correct.get(r.name) is None else shaped_reward(bool(ep.node_correct[r.name]), ep.node_cost[r.name], cfg, cost_ref)
        for r in roles
    ]
    return nodes, r_final
