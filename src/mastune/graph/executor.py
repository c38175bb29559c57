"""Run a DAG: every node starts as soon as its last predecessor finishes.

No level-by-level barriers: a slow node delays only its own descendants, so
wall time tracks the critical path. Each node runs inside its own
`track_usage()`, so its usage is exactly its own calls even while siblings run
concurrently (trackers live in the task's context, not in a global counter).
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from ..errors import MastuneError
from ..llm.types import Usage
from ..llm.usage import track_usage
from .topology import Node, Topology

# run_node(node, inputs) -> output; inputs = [(predecessor node, its output)] in edge order
NodeFn = Callable[[Node, list[tuple[Node, Any]]], Awaitable[Any]]


class NodeError(MastuneError):
    """A node failed; the run stops (never scored as a silent 'no answer')."""

    def __init__(self, node: Node, cause: BaseException) -> None:
        self.node_id = node.id
        self.cause = cause
        self.trace: Any = None  # filled in by the caller that owns a trace
        role = f" (role {node.role})" if node.role else ""
        super().__init__(f"node {node.id!r}{role} failed: {type(cause).__name__}: {cause}")

    def __reduce__(self) -> tuple:
        # A failed rollout travels back from a runner's worker: rebuild from the message, keep the fields.
        return (_node_error, (str(self),), dict(self.__dict__))


def _node_error(message: str) -> NodeError:
    e = NodeError.__new__(NodeError)
    MastuneError.__init__(e, message)
    return e


@dataclass
class NodeRun:
    output: Any
    usage: Usage
    started: float  # seconds since the run started
    finished: float


async def execute(topology: Topology, run_node: NodeFn) -> dict[str, NodeRun]:
    """Run every node once, in dependency order, as concurrently as the DAG allows."""
    preds = topology.predecessors()
    succs = topology.successors()
    nodes = {n.id: n for n in topology.nodes}
    waiting = {i: len(preds[i]) for i in nodes}
    results: dict[str, NodeRun] = {}
    t0 = time.perf_counter()

    async def run_one(node: Node) -> NodeRun:
        inputs = [(nodes[p], results[p].output) for p in preds[node.id]]
        with track_usage() as tracker:
            start = time.perf_counter() - t0
            try:
                out = await run_node(node, inputs)
            except NodeError:
                raise
            except Exception as e:  # CancelledError is a BaseException: it passes through
                raise NodeError(node, e) from e
        return NodeRun(out, tracker.total, start, time.perf_counter() - t0)

    pending: dict[asyncio.Task, str] = {}

    def schedule(node_id: str) -> None:
        pending[asyncio.ensure_future(run_one(nodes[node_id]))] = node_id

    try:
        for i in topology.ids:
            if waiting[i] == 0:
                schedule(i)
        while pending:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            failed = [t.exception() for t in done if t.exception() is not None]  # also marks them retrieved
            if failed:
                for t in done:
                    pending.pop(t)
                raise failed[0]
            for task in done:
                node_id = pending.pop(task)
                results[node_id] = task.result()
                for s in succs[node_id]:
                    waiting[s] -= 1
                    if waiting[s] == 0:
                        schedule(s)
    finally:
        # On failure (or outer cancellation) stop the siblings: no orphan calls.
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
    return results
