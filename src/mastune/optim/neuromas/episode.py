"""One forward pass of a layered network on one question: layer by layer, the nodes of a
layer concurrently, each sampled under its own adapter."""
from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from ...agents.layered import layered_messages
from ...agents.prompts import family
from ...graph.layernet import layer_groups
from ...graph.topology import Topology
from ...llm.types import Message
from ...tasks.base import Example
from ...tasks.grade import agrade
from ..seeds import stable_int
from .sampler import Sampled, Sampler


async def bounded(coros: list[Awaitable[Any]], limit: int) -> list[Any]:
    """gather with at most `limit` running at once, results in input order."""
    sem = asyncio.Semaphore(max(1, limit))

    async def one(c: Awaitable[Any]) -> Any:
        async with sem:
            return await c

    return list(await asyncio.gather(*(one(c) for c in coros)))

# reward(example, final reply) -> float (1 correct, 0 not, for the task graders); sync or async
RewardFn = Callable[[Example, str], "float | Awaitable[float]"]


@dataclass
class NodeCall:
    node: str
    layer: int
    index: int
    messages: list[Message]
    sample: Sampled


@dataclass
class Episode:
    example_id: str
    calls: list[NodeCall]
    reward: float | None = None
    group: int = 0  # questions sampled together share a group (leave-one-out baseline)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def answer(self) -> str:
        return self.calls[-1].sample.text  # the output node is the last call

    @property
    def tokens(self) -> int:
        return sum(c.sample.prompt_tokens + c.sample.completion_tokens for c in self.calls)

    def call(self, node: str) -> NodeCall:
        for c in self.calls:
            if c.node == node:
                return c
        raise KeyError(node)


def answer_format(example: Example) -> str:
    """How the output node must write its answer: the task family's format (prompts.yaml)."""
    return family(example.family).format


def node_messages(node: Any, question: str, previous: list[str], fmt: str) -> list[Message]:
    """A node's prompt: its layer and index, the task, the previous layer's messages (training and
    the `neuromas` system kind both build prompts here, so a checkpoint sees the prompts it was trained on)."""
    return layered_messages(question, layer=int(node.params["layer"]), index=int(node.params["index"]),
                            output=bool(node.params.get("output")), previous=previous, answer_format=fmt)


async def forward(network: Topology, sampler: Sampler, example: Example, *, temperature: float,
                  max_tokens: int, seed: int = 0) -> Episode:
    """Run every layer in order; node i of layer l sees the task and layer l-1's outputs in index order.
    Each call gets its own seed (seed, node), so a rerun of the same episode draws the same samples."""
    fmt = answer_format(example)
    previous: list[str] = []
    calls: list[NodeCall] = []
    for group in layer_groups(network):
        nodes = [network.node(n) for n in group]
        msgs = [node_messages(n, example.question, previous, fmt) for n in nodes]
        samples = await asyncio.gather(*(
            sampler.sample(n.id, m, temperature, max_tokens, seed=stable_int(seed, n.id)) for n, m in zip(nodes, msgs)))
        calls += [NodeCall(n.id, int(n.params["layer"]), int(n.params["index"]), m, s)
                  for n, m, s in zip(nodes, msgs, samples)]
        previous = [s.text for s in samples]
    return Episode(example.id, calls)


async def task_reward(example: Example, reply: str) -> float:
    """1.0 when the task's grader marks the reply correct, else 0.0 (unparsed counts as wrong)."""
    return 1.0 if (await agrade(example, reply)).correct else 0.0


async def score(reward: RewardFn, example: Example, reply: str) -> float:
    r = reward(example, reply)
    return float(await r) if inspect.isawaitable(r) else float(r)
