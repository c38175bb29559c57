"""Plain data returned by every LLM call."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": str}


@dataclass(frozen=True)
class Price:
    """US dollars (or cost units) per one million tokens."""

    input_per_m: float = 0.0
    output_per_m: float = 0.0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
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
