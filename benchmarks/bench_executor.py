"""Executor overhead: wall time of a run vs its critical path, on FakeLMs of fixed latency.

    PYTHONPATH=src python3 benchmarks/bench_executor.py [--latency 0.05] [--repeats 3]

The critical path is the longest chain of *sequential* calls through the DAG
that actually ran: a plain agent costs one call latency, a supernode the
slowest proposer plus its synthesiser, a decision node one call unless the
consensus shortcut fired, a vote nothing. An executor that starts every node
as soon as its inputs are ready gets wall / critical path close to 1.
Target: <= 1.10 for every case.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time

from mastune.agents import Trace
from mastune.graph import Node, Topology, edges_to_ids, execute, random_dag
from mastune.llm import FakeLM
from mastune.systems import System, load_config, load_system


def critical_path(trace: Trace, latency: dict[str, float]) -> float:
    cost: dict[str, float] = {}
    for nid, rec in trace.nodes.items():
        calls = trace.calls_of(nid)
        proposers = [latency[c.model] for c in calls if c.slot.startswith("proposer")]
        rest = [latency[c.model] for c in calls if not c.slot.startswith("proposer")]
        cost[nid] = max(proposers, default=0.0) + sum(rest)
    preds = trace.topology.predecessors()
    done = {i for i, r in trace.nodes.items() if r.status == "done"}
    finish: dict[str, float] = {}
    for nid in trace.topology.topo_order():
        if nid in done:
            finish[nid] = cost[nid] + max((finish[p] for p in preds[nid] if p in done), default=0.0)
    return max(finish.values())


def answer(messages, request) -> str:
    # Agents disagree in a stable way so decision nodes make their call.
    return f"I think \\boxed{{{len(messages[-1]['content']) % 3}}}"


def system_cases(lat: float) -> list[tuple[str, System, str, dict[str, float]]]:
    fast, slow = FakeLM("fast", fn=answer, latency_s=lat), FakeLM("slow", fn=answer, latency_s=2 * lat)
    pool = {"fast": fast, "slow": slow}
    latency = {"fast": lat, "slow": 2 * lat}
    hiera = dataclasses.replace(
        load_config("hieramas-fixed"), model="fast", decision_model="fast",
        assignments={"Knowledgeable Expert": {"proposers": ["fast", "slow"], "synthesiser": "fast"},
                     "Historian": {"proposers": ["slow", "slow"], "synthesiser": "slow"},
                     "Critic": {"proposers": ["fast", "skip"], "synthesiser": "fast"}},
    )
    return [
        ("chain (math)", load_system("chain", pool, model="fast"), "math", latency),
        ("layered (mcq, 4x2)", load_system("layered", pool, model="fast"), "mcq", latency),
        ("full (mcq, 8 roles)", load_system("full", pool, model="fast"), "mcq", latency),
        ("random (mcq)", load_system("random", pool, model="fast"), "mcq", latency),
        ("self-consistency x8", load_system("self-consistency", pool, model="fast", samples=8), "math", latency),
        ("debate 4x3", load_system("debate", pool, agents=4, rounds=3,
                                   agent_models=["fast", "slow"]), "math", latency),
        ("moa 3 layers, mixed", load_system("moa", pool, layers=[["fast", "slow", "fast"]] * 3, aggregator="fast"),
         "math", latency),
        ("hieramas-fixed (mcq, mixed)", System(hiera, pool), "mcq", latency),
    ]


async def raw_random(n: int, lat: float, seed: int) -> tuple[float, float]:
    """The bare executor on a large random DAG with per-node latencies 1x or 2x."""
    ids = [f"n{i}" for i in range(n)]
    t = Topology([Node(i) for i in ids], edges_to_ids(random_dag(n, (0.05, 0.2), seed), ids), output=None)
    delay = {i: lat * (1 + k % 2) for k, i in enumerate(ids)}

    async def run(node, inputs):
        await asyncio.sleep(delay[node.id])

    start = time.perf_counter()
    await execute(t, run)
    wall = time.perf_counter() - start
    preds, finish = t.predecessors(), {}
    for i in t.topo_order():
        finish[i] = delay[i] + max((finish[p] for p in preds[i]), default=0.0)
    return wall, max(finish.values())


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"{'case':30s} {'calls':>5s} {'crit s':>7s} {'wall s':>7s} {'ratio':>6s}")
    worst = 0.0
    for name, system, family, latency in system_cases(args.latency):
        ratios = []
        for r in range(args.repeats):
            start = time.perf_counter()
            res = await system.run(f"Question {r} for {name}?", family)
            wall = time.perf_counter() - start
            crit = critical_path(res.trace, latency)
            ratios.append(wall / crit)
        worst = max(worst, min(ratios))
        print(f"{name:30s} {res.calls:5d} {crit:7.3f} {wall:7.3f} {min(ratios):6.3f}")
    for n in (40, 100):
        walls = [await raw_random(n, args.latency, s) for s in range(args.repeats)]
        wall, crit = min(walls, key=lambda wc: wc[0] / wc[1])
        worst = max(worst, wall / crit)
        print(f"{f'raw executor, random DAG n={n}':30s} {n:5d} {crit:7.3f} {wall:7.3f} {wall / crit:6.3f}")
    print(f"worst best-of-{args.repeats} ratio: {worst:.3f} (target <= 1.10)")


if __name__ == "__main__":
    asyncio.run(main())
