"""Node kind -> the coroutine that runs it (the executor's `run_node`)."""
from __future__ import annotations

from typing import Awaitable, Callable

from ..graph.topology import Node
from .decision import run_decision, run_vote
from .runtime import NodeOutput, Runtime
from .supernode import run_agent

NodeRunner = Callable[[Runtime, Node, list[tuple[Node, NodeOutput]]], Awaitable[NodeOutput]]

RUNNERS: dict[str, NodeRunner] = {"agent": run_agent, "decision": run_decision, "vote": run_vote}


def node_runner(rt: Runtime) -> Callable[[Node, list[tuple[Node, NodeOutput]]], Awaitable[NodeOutput]]:
    """Bind a run's Runtime: the executor then only passes (node, inputs)."""

    async def run(node: Node, inputs: list[tuple[Node, NodeOutput]]) -> NodeOutput:
        return await RUNNERS[node.kind](rt, node, inputs)

    return run
