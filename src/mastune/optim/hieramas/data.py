"""Stage-2 data: which random DAGs work for a query, with the stage-1 selector frozen.

For each training query: the selector's argmax picks the slots (roles whose
synthesiser picks skip are left out), K random DAGs over the remaining roles
are run, and a DAG is labelled positive when it is among the top 2 by the
system-level reward r_F and r_F > 0. One JSONL line per query, written as
soon as it is done: a killed run redoes only the unfinished queries.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any, Sequence

from ...graph.generators import random_dag_pool
from ...jsonl import JsonlFile
from ...rollout import LocalRunner
from ...tasks.base import Example
from ..seeds import stable_int
from .checkpoint import CheckpointError
from .classifier import GraphSample
from .episode import Plan, run_episodes
from .policy import Policy
from .rewards import shaped_reward
from .setup import Setup


def label_graphs(rewards: Sequence[float], top: int) -> list[float]:
    """1.0 for the `top` best rewards that are > 0 (ties broken by position), else 0.0."""
    order = sorted(range(len(rewards)), key=lambda i: (-rewards[i], i))
    best = {i for i in order[:top] if rewards[i] > 0}
    return [1.0 if i in best else 0.0 for i in range(len(rewards))]


async def label_query(setup: Setup, policy: Policy, runner: LocalRunner, ex: Example) -> dict:
    cfg = setup.cfg
    choice = policy.greedy(ex.question)
    active = policy.active(choice)
    record: dict[str, Any] = {"query": ex.id, "roles": active, "assignments": policy.assignments(choice), "graphs": []}
    if len(active) < 2:
        record["note"] = "fewer than 2 active roles: only one DAG, nothing to rank"
        return record
    roles = [setup.roles[i] for i in active]
    assignments = {r.name: policy.assignments(choice)[r.name] for r in roles}
    dags = random_dag_pool(len(roles), cfg.k_dags, cfg.density, seed=stable_int(cfg.seed, "stage2", ex.id))

    # one runner for every query: its concurrency bounds all DAG runs of the stage together
    eps = await run_episodes(runner, [(Plan(cfg.family, roles, e, assignments), ex) for e in dags], cfg.runtime,
                             cfg.proposers)
    rewards = [shaped_reward(ep.correct, ep.cost, cfg.reward, setup.cost_ref) for ep in eps]
    labels = label_graphs(rewards, cfg.top_positive)
    record["graphs"] = [
        {"edges": [list(e) for e in edges], "reward": r, "correct": ep.correct, "cost": ep.cost, "calls": ep.calls,
         "label": y}
        for edges, ep, r, y in zip(dags, eps, rewards, labels)
    ]
    return record


def check_labels_source(path: Path, selector_file: Path) -> None:
    """Labels are only valid for the selector that made them: record its hash, refuse a mix."""
    digest = hashlib.sha256(selector_file.read_bytes()).hexdigest()
    meta = path.with_name("labels.meta.json")
    if meta.is_file() and path.is_file():
        made_with = json.loads(meta.read_text()).get("selector_sha256")
        if made_with != digest:
            raise CheckpointError(
                f"{path} was labelled with another selector.pt (sha256 {str(made_with)[:12]}..., now {digest[:12]}...), "
                f"e.g. stage 1 ran again; delete {path.parent} to relabel with the current selector")
    path.parent.mkdir(parents=True, exist_ok=True)
    meta.write_text(json.dumps({"selector_sha256": digest}))


async def generate_labels(setup: Setup, policy: Policy, runner: LocalRunner, train: Sequence[Example], path: Path,
                          bar: Any) -> None:
    labels = JsonlFile(path)
    done = {r["query"] for r in labels.records()}
    todo = [ex for ex in train if ex.id not in done]
    task = bar.add_task("stage 2: labelling DAGs", total=len(train), completed=len(train) - len(todo), status="")

    async def one(ex: Example) -> None:
        record = await label_query(setup, policy, runner, ex)
        labels.append(record)  # written as it lands (single-threaded event loop: lines never interleave)
        n_pos = sum(g["label"] for g in record["graphs"])
        bar.update(task, advance=1, status=f"{ex.id}: {len(record['graphs'])} DAGs, {n_pos:.0f} positive")

    await asyncio.gather(*(one(ex) for ex in todo))


def load_samples(path: Path) -> list[GraphSample]:
    out = []
    for r in JsonlFile(path).records():
        for g in r["graphs"]:
            out.append(GraphSample(r["query"], list(r["roles"]), [tuple(e) for e in g["edges"]], float(g["label"])))
    return out
