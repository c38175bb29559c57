import asyncio
import time

import pytest

from mastune.errors import LLMError
from mastune.graph import Node, NodeError, Topology, edges_to_ids, execute, layered, random_dag
from mastune.llm import FakeLM, track_usage


def topo(n, edges):
    ids = [f"n{i}" for i in range(n)]
    return Topology([Node(i, role=i, models=["m"]) for i in ids], edges_to_ids(edges, ids))


def echo_runner(lm):
    """Each node asks the LM; the prompt lists exactly the predecessor outputs it was given."""

    async def run(node, inputs):
        prompt = f"I am {node.id}. " + " ".join(f"[{p.id}]" for p, _ in inputs)
        c = await lm.chat([{"role": "user", "content": prompt}])
        return c.text

    return run


async def test_each_node_sees_exactly_its_predecessors():
    edges = random_dag(7, (0.3, 0.7), 5)
    t = topo(7, edges)
    lm = FakeLM(fn=lambda m, r: m[0]["content"])
    runs = await execute(t, echo_runner(lm))
    preds = t.predecessors()
    for node_id, run in runs.items():
        seen = sorted(x.strip("[]") for x in run.output.split()[3:])
        assert seen == sorted(preds[node_id])
    assert len(lm.requests) == 7


async def test_runs_in_dependency_order():
    t = topo(4, [(0, 1), (1, 2), (0, 3)])
    runs = await execute(t, echo_runner(FakeLM(fn=lambda m, r: "x", latency_s=0.01)))
    for s, d in t.edges:
        assert runs[s].finished <= runs[d].started + 1e-6


async def test_concurrency_tracks_the_critical_path():
    latency = 0.05
    sizes = [3, 4, 3, 2]  # 12 calls, depth 4
    t = topo(sum(sizes), layered(sizes))
    start = time.perf_counter()
    await execute(t, echo_runner(FakeLM(fn=lambda m, r: "x", latency_s=latency)))
    wall = time.perf_counter() - start
    assert wall < 1.8 * len(sizes) * latency


async def test_no_level_barrier():
    # a -> b (slow) and c -> d: d must not wait for the slow b.
    t = Topology([Node(i) for i in "abcd"], [("a", "b"), ("c", "d")], output="b")
    delays = {"a": 0.0, "b": 0.2, "c": 0.0, "d": 0.01}

    async def run(node, inputs):
        await asyncio.sleep(delays[node.id])
        return node.id

    runs = await execute(t, run)
    assert runs["d"].finished < runs["b"].finished - 0.1


async def test_failing_node_raises_typed_error_and_stops_siblings():
    def fn(messages, request):
        if "n1" in messages[0]["content"]:
            raise LLMError("engine exploded")
        return "ok"

    lm = FakeLM(fn=fn, latency_s=0.01)
    t = topo(4, [(0, 1), (1, 2), (0, 3)])
    with pytest.raises(NodeError) as e:
        await execute(t, echo_runner(lm))
    assert e.value.node_id == "n1" and "n1" in str(e.value) and "engine exploded" in str(e.value)
    assert isinstance(e.value.cause, LLMError)
    assert not any("n2" in r["messages"][0]["content"] for r in lm.requests)  # successor never ran


async def test_per_node_usage_sums_to_total():
    t = topo(6, random_dag(6, (0.2, 0.9), 1))
    lm = FakeLM(fn=lambda m, r: "a b c " * (len(m[0]["content"]) % 5 + 1), latency_s=0.01)
    with track_usage() as tracker:
        runs = await execute(t, echo_runner(lm))
    total = tracker.total
    parts = [r.usage for r in runs.values()]
    assert all(p.calls == 1 for p in parts)
    assert sum(p.total_tokens for p in parts) == total.total_tokens
    assert sum(p.calls for p in parts) == total.calls == 6
