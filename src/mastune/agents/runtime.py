"""What the nodes of one run share: the task, the model pool, the trace.

`Runtime.call` is the only place the agents layer talks to an LM, so every
call lands in the trace with its node, slot, model and own usage.
"""
from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any, Awaitable, Iterable, Mapping, Protocol, TypeVar, runtime_checkable

from ..errors import ConfigError
from ..llm.lm import LM
from ..llm.types import Message
from .trace import CallRecord, Trace
from .transcript import Transcript

T = TypeVar("T")


@runtime_checkable
class PoolLike(Protocol):
    """Anything that maps a model name to an LM (mastune.llm.pool.Pool, a dict)."""

    def __getitem__(self, name: str) -> LM: ...


def pool_names(pool: PoolLike) -> list[str]:
    names = getattr(pool, "names", None)
    if callable(names):
        return list(names())
    if isinstance(pool, Mapping) or hasattr(pool, "keys"):
        return list(pool.keys())  # type: ignore[attr-defined]
    return []


def default_model(pool: PoolLike) -> str:
    name = getattr(pool, "default_model", None)
    if name:
        return name
    names = pool_names(pool)
    if not names:
        raise ConfigError("the pool is empty (or lists no names): give the system a `model`")
    return names[0]


def get_lm(pool: PoolLike, name: str) -> LM:
    try:
        return pool[name]
    except KeyError:
        raise ConfigError(f"model {name!r} is not in the pool; available: {', '.join(pool_names(pool))}") from None


def bind_models(config: Any, pool: PoolLike) -> str:
    """A system config's default model, after checking every model it names is in
    the pool (so a typo fails before any call). `config` has `.model` and
    `.model_names(default)`."""
    default = config.model or default_model(pool)
    check_models(pool, config.model_names(default))
    return default


def check_models(pool: PoolLike, names: Iterable[str]) -> None:
    """Fail before any call if a configured model is not in the pool."""
    known = set(pool_names(pool))
    for name in set(names):
        if name not in known:
            get_lm(pool, name)  # pools may accept aliases they do not list


@dataclass
class Runtime:
    question: str
    family: str
    pool: PoolLike
    trace: Trace
    rollout: str | int | None = None  # prefix of rollout ids (a repeat index, an eval seed)

    async def call(
        self,
        node_id: str,
        slot: str,
        model: str,
        messages: list[Message],
        *,
        max_tokens: int,
        temperature: float,
        **extra: Any,
    ) -> str:
        # Sampled calls get a rollout id unique to (run, node, slot): parallel samples
        # of the same prompt stay distinct in the cache, and a seed derived from it
        # makes them reproducible on backends that honour seeds. Greedy calls share entries.
        rollout = seed = None
        if temperature > 0:
            rollout = f"{node_id}/{slot}" if self.rollout is None else f"{self.rollout}/{node_id}/{slot}"
            seed = int(hashlib.sha256(rollout.encode()).hexdigest()[:8], 16)
        completion = await get_lm(self.pool, model).chat(
            messages, max_tokens=max_tokens, temperature=temperature, rollout=rollout, seed=seed, **extra
        )
        self.trace.calls.append(
            CallRecord(node_id, slot, model, messages, completion.text, completion.usage, max_tokens, temperature, rollout)
        )
        return completion.text


@dataclass
class NodeOutput:
    """What a node hands to its successors (text) and to voting (answer)."""

    text: str
    answer: str | None = None  # extracted answer; None for roles that do not answer
    note: str = ""
    transcript: Transcript | None = None  # the conversation a successor continues (transcript layout)


def gen_params(params: dict[str, Any], prefix: str = "") -> tuple[int, float]:
    """(max_tokens, temperature) of a node, optionally of one slot ('proposer_')."""
    max_tokens = int(params.get(prefix + "max_tokens", params.get("max_tokens", 512)))
    temperature = float(params.get(prefix + "temperature", params.get("temperature", 0.0)))
    return max_tokens, temperature


async def gather_all(coros: Iterable[Awaitable[T]]) -> list[T]:
    """asyncio.gather that cancels the siblings when one fails (no orphan calls)."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for t in tasks:
            if not t.done():
                t.cancel()
