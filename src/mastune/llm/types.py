"""Plain data returned by every LLM call."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError, LLMError

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": str}

# More tokens than any context window holds: a count past it is an endpoint's fault (or a lie).
MAX_TOKENS_PER_CALL = 100_000_000


def token_count(value: Any, name: str, where: str = "the endpoint") -> int:
    """A token count an endpoint reported, validated: an int (or a whole float) from 0 to
    MAX_TOKENS_PER_CALL; absent is 0. Anything else is an LLMError: a negative or absurd count
    would make a cost, and so any cost-aware reward, whatever the endpoint wants."""
    if value is None:
        return 0
    if type(value) is float and math.isfinite(value) and value.is_integer():
        value = int(value)
    if type(value) is not int or not 0 <= value <= MAX_TOKENS_PER_CALL:
        shown = repr(value)[:40]
        raise LLMError(f"{where} reported usage {name}={shown}: not a token count (0 to {MAX_TOKENS_PER_CALL:,})")
    return value


_LONE_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(text: str) -> str:
    """`text` with lone UTF-16 surrogates (a JSON body may carry "\\ud800") replaced by U+FFFD:
    such a string cannot be encoded, so it would break every file and cache it reaches."""
    return _LONE_SURROGATE_RE.sub("\ufffd", text) if _LONE_SURROGATE_RE.search(text) else text


@dataclass(frozen=True)
class Price:
    """US dollars (or cost units) per one million tokens."""

    input_per_m: float = 0.0
    output_per_m: float = 0.0

    def __post_init__(self) -> None:
        for name in ("input_per_m", "output_per_m"):
            v = getattr(self, name)
            if type(v) not in (int, float) or not math.isfinite(v) or v < 0:
                raise ConfigError(f"price {name} must be a number >= 0, got {v!r}")

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Never negative: counts below 0 are refused (they would turn a cost into a reward)."""
        if prompt_tokens < 0 or completion_tokens < 0:
            raise LLMError(f"negative token counts ({prompt_tokens}, {completion_tokens}) have no cost")
        return (prompt_tokens * self.input_per_m + completion_tokens * self.output_per_m) / 1e6


@dataclass(frozen=True)
class Usage:
    """What one call (or, when summed, many calls) consumed.

    A cache hit keeps the original token counts and cost (what the call is
    worth, so cached re-runs report the same cost) and is flagged `cache_hits`.
    `prompt_evaluated` / `prompt_cached` are the prompt tokens the engine
    actually evaluated / reused from its KV cache (llama.cpp `timings.prompt_n`
    / `cache_n`); a call-cache hit evaluated nothing, so both are 0 there.
    `draft_tokens` / `draft_accepted`: speculative decoding's drafted tokens and
    how many the model accepted (0 when speculation is off).
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost: float = 0.0
    calls: int = 0
    cache_hits: int = 0
    model: str = ""  # "" when the sum spans several models
    prompt_evaluated: int = 0
    prompt_cached: int = 0
    draft_tokens: int = 0
    draft_accepted: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: "Usage") -> "Usage":
        if not isinstance(other, Usage):
            return NotImplemented
        model = self.model if self.model == other.model or not other.calls else (other.model if not self.calls else "")
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            latency_s=self.latency_s + other.latency_s,
            cost=self.cost + other.cost,
            calls=self.calls + other.calls,
            cache_hits=self.cache_hits + other.cache_hits,
            model=model,
            prompt_evaluated=self.prompt_evaluated + other.prompt_evaluated,
            prompt_cached=self.prompt_cached + other.prompt_cached,
            draft_tokens=self.draft_tokens + other.draft_tokens,
            draft_accepted=self.draft_accepted + other.draft_accepted,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "latency_s": round(self.latency_s, 4),
            "cost": self.cost,
            "cache_hits": self.cache_hits,
            "prompt_evaluated": self.prompt_evaluated,
            "prompt_cached": self.prompt_cached,
            "draft_tokens": self.draft_tokens,
            "draft_accepted": self.draft_accepted,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Usage":
        return cls(**{k: d[k] for k in ("model", "calls", "prompt_tokens", "completion_tokens", "latency_s", "cost", "cache_hits",
                                     "prompt_evaluated", "prompt_cached", "draft_tokens", "draft_accepted") if k in d})


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage
    finish_reason: str = "stop"
    extra: dict[str, Any] = field(default_factory=dict)  # backend-specific (e.g. token logprobs)
