"""A scripted LM for offline tests: pins down logic without an engine."""
from __future__ import annotations

import asyncio
from typing import Any, Callable, Iterable

from ..errors import LLMError
from .lm import LM, RawCompletion
from .types import Message, Price

Responder = Callable[[list[Message], dict[str, Any]], str]


def count_tokens(text: str) -> int:
    """Whitespace token count: enough for deterministic accounting in tests."""
    return len(text.split())


class FakeLM(LM):
    """Answers from a list (in order) or a function of (messages, request).

    Every request is kept in `.requests` so tests can assert what a node saw.
    A responder may raise to simulate a failing call.
    """

    def __init__(
        self,
        name: str = "fake",
        responses: Iterable[str] | None = None,
        fn: Responder | None = None,
        *,
        latency_s: float = 0.0,
        price: Price = Price(1.0, 2.0),
        profile: str = "A scripted test model.",
        max_concurrency: int = 64,
        **kw: Any,
    ) -> None:
        super().__init__(name, price=price, profile=profile, max_concurrency=max_concurrency, **kw)
        if (responses is None) == (fn is None):
            raise ValueError("give exactly one of `responses` or `fn`")
        self._responses = list(responses) if responses is not None else None
        self._fn = fn
        self.latency_s = latency_s
        self.requests: list[dict[str, Any]] = []

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "fake": id(self)}

    async def _generate(self, request: dict[str, Any]) -> RawCompletion:
        self.requests.append(request)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        messages = request["messages"]
        if self._fn is not None:
            text = self._fn(messages, request)
        else:
            if not self._responses:
                raise LLMError(f"FakeLM {self.name!r} ran out of scripted responses")
            text = self._responses.pop(0)
        prompt = " ".join(m["content"] for m in messages)
        return RawCompletion(text=text, prompt_tokens=count_tokens(prompt), completion_tokens=count_tokens(text))
