"""The one async chat interface every backend implements.

`LM.chat` owns the shared behaviour (cache, concurrency limit, timeout,
retries with backoff, usage records); a backend only implements `_generate`.
"""
from __future__ import annotations

import abc
import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from .. import settings
from ..errors import ContextOverflow, LLMError, LLMTimeout, ModelUnavailable
from .cache import cache_key, is_cacheable
from .types import Completion, Message, Price, Usage
from .usage import record_usage


@dataclass
class RawCompletion:
    """What a backend returns: the engine's own token counts, not estimates."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str = "stop"
    extra: dict[str, Any] = field(default_factory=dict)
    # prompt tokens the engine evaluated now / reused from its KV cache
    # (None: the backend does not say; then all of the prompt counts as evaluated)
    prompt_evaluated: int | None = None
    prompt_cached: int = 0


# Failures worth another try; everything else surfaces at once.
RETRYABLE = (LLMTimeout, ModelUnavailable, ConnectionError)


class LM(abc.ABC):
    def __init__(
        self,
        name: str,
        *,
        price: Price = Price(),
        profile: str = "",
        max_concurrency: int = 4,
        timeout_s: float = 600.0,
        max_retries: int = 2,
        backoff_s: float = 1.0,
    ) -> None:
        self.name = name
        self.price = price
        self.profile = profile
        self.max_concurrency = max_concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self._semaphores: dict[int, asyncio.Semaphore] = {}  # one per event loop

    # ---- hooks -----------------------------------------------------------
    @abc.abstractmethod
    async def _generate(self, request: dict[str, Any]) -> RawCompletion:
        """Run one chat request (OpenAI-style dict without `model`)."""

    def identity(self) -> dict[str, Any]:
        """What makes this model's outputs what they are (goes into cache keys)."""
        return {"name": self.name}

    # ---- public API ------------------------------------------------------
    async def chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        top_p: float | None = None,
        seed: int | None = None,
        stop: Sequence[str] | None = None,
        rollout: str | int | None = None,
        use_cache: bool = True,
        **extra: Any,
    ) -> Completion:
        request: dict[str, Any] = {
            "messages": [dict(m) for m in messages],
            "max_tokens": int(max_tokens),
            "temperature": float(temperature),
        }
        if top_p is not None:
            request["top_p"] = top_p
        if seed is not None:
            request["seed"] = int(seed)
        if stop:
            request["stop"] = list(stop)
        request.update(extra)

        cache = settings.get().cache if use_cache else None
        key = None
        if cache is not None and is_cacheable(request, rollout):
            key = cache_key({"model": self.identity(), **request}, rollout)
            hit = cache.get(key)
            if hit is not None:
                usage = Usage(
                    prompt_tokens=hit["prompt_tokens"],
                    completion_tokens=hit["completion_tokens"],
                    cost=self.price.cost(hit["prompt_tokens"], hit["completion_tokens"]),
                    latency_s=0.0,
                    calls=1,
                    cache_hits=1,
                    model=self.name,
                )
                record_usage(usage)
                return Completion(hit["text"], usage, hit.get("finish_reason", "stop"))

        start = time.perf_counter()
        raw = await self._generate_with_retries(request)
        latency = time.perf_counter() - start
        usage = Usage(
            prompt_tokens=raw.prompt_tokens,
            completion_tokens=raw.completion_tokens,
            latency_s=latency,
            cost=self.price.cost(raw.prompt_tokens, raw.completion_tokens),
            calls=1,
            model=self.name,
            prompt_evaluated=raw.prompt_tokens if raw.prompt_evaluated is None else raw.prompt_evaluated,
            prompt_cached=raw.prompt_cached,
            draft_tokens=int(raw.extra.get("draft", {}).get("n", 0)),
            draft_accepted=int(raw.extra.get("draft", {}).get("accepted", 0)),
        )
        record_usage(usage)
        if key is not None:
            cache.put(
                key,
                {
                    "text": raw.text,
                    "prompt_tokens": raw.prompt_tokens,
                    "completion_tokens": raw.completion_tokens,
                    "finish_reason": raw.finish_reason,
                },
            )
        return Completion(raw.text, usage, raw.finish_reason, raw.extra)

    async def _generate_with_retries(self, request: dict[str, Any]) -> RawCompletion:
        loop = asyncio.get_running_loop()
        sem = self._semaphores.setdefault(id(loop), asyncio.Semaphore(self.max_concurrency))
        attempt = 0
        while True:
            try:
                async with sem:
                    try:
                        return await asyncio.wait_for(self._generate(request), self.timeout_s)
                    except asyncio.TimeoutError as e:
                        raise LLMTimeout(
                            f"model {self.name!r} did not answer within {self.timeout_s:.0f}s; "
                            "raise timeout_s in the pool config or lower max_tokens"
                        ) from e
            except ContextOverflow:
                raise
            except RETRYABLE:
                attempt += 1
                if attempt > self.max_retries:
                    raise
                await asyncio.sleep(self.backoff_s * (2 ** (attempt - 1)) * (0.5 + random.random()))
            except (LLMError, ModelUnavailable):
                raise

    async def close(self) -> None:
        """Release backend resources (engines are shared; see backends)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
