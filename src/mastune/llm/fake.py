"""A scripted LM for offline tests: pins down logic without an engine.

`FakeLM(fn=...)` takes any function (in-process tests); a pool config's
`backend: fake` block (`FakeLM.from_config`) is plain data, so another
process (a Ray worker) builds the same scripted model from it.
"""
from __future__ import annotations

import asyncio
from typing import Any, Callable, Iterable

from ..errors import ConfigError, LLMError
from .lm import LM, RawCompletion
from .types import Message, Price

Responder = Callable[[list[Message], dict[str, Any]], str]


class ScriptedReplies:
    """Replies by rule: the first rule whose `contains` is in the conversation (any message, e.g. a
    role's system prompt or the question) wins, else `reply`.
    A rule with `error` instead of `reply` fails the call with that message (an LLMError).

        fake: {reply: "I do not know", latency_s: 0.1,
               rules: [{contains: "double 2", reply: "so \\boxed{4}"}, {contains: "double 3", error: "boom"}]}
    """

    def __init__(self, reply: str = "", rules: Iterable[dict[str, str]] = ()) -> None:
        self.reply = reply
        self.rules = [dict(r) for r in rules]
        bad = [r for r in self.rules if "contains" not in r or ("reply" in r) == ("error" in r)]
        if bad:
            raise ConfigError(f"fake rules need `contains` and one of `reply` / `error`: {bad}")

    def __call__(self, messages: list[Message], request: dict[str, Any]) -> str:
        text = "\n".join(m["content"] for m in messages)
        rule = next((r for r in self.rules if r["contains"] in text), {"reply": self.reply})
        if "error" in rule:
            raise LLMError(rule["error"])
        return rule["reply"]


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

    @classmethod
    def from_config(cls, name: str, script: dict[str, Any], **kw: Any) -> "FakeLM":
        """From plain data: {reply, rules: [{contains, reply}], latency_s} (see ScriptedReplies)."""
        unknown = set(script) - {"reply", "rules", "latency_s"}
        if unknown:
            raise ConfigError(f"fake model {name!r}: unknown keys {sorted(unknown)}; allowed: latency_s, reply, rules")
        fn = ScriptedReplies(script.get("reply", ""), script.get("rules", ()))
        return cls(name, fn=fn, latency_s=float(script.get("latency_s", 0.0)), **kw)

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
