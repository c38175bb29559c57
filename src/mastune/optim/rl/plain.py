"""Episodes of one call whose prompt is the question itself (no system prompt, no added format): for
tasks whose items already say how to answer, such as the learnability check's one-word questions."""
from __future__ import annotations

import hashlib
from typing import Any, Sequence

from ...graph.layernet import OUTPUT
from ...graph.topology import Topology
from ...llm.types import Message
from ..neuromas.episode import Episode, NodeCall, bounded
from ..neuromas.episodes import EpisodeRequest
from ..neuromas.sampler import Sampler
from ..seeds import stable_int

PLAIN_VERSION = "plain-1"


def plain_messages(question: str) -> list[Message]:
    return [{"role": "user", "content": question}]


def plain_fingerprint() -> str:
    return hashlib.sha256(PLAIN_VERSION.encode()).hexdigest()[:16]


class PlainEpisodes:
    """One call of the output node per request, at most `concurrency` at once."""

    def __init__(self, sampler: Sampler, concurrency: int) -> None:
        self.sampler, self.concurrency = sampler, max(1, concurrency)

    async def _one(self, r: EpisodeRequest) -> Episode:
        msgs = plain_messages(r.example.question)
        s = await self.sampler.sample(OUTPUT, msgs, r.temperature, r.max_tokens, seed=stable_int(r.seed, OUTPUT))
        return Episode(r.example.id, [NodeCall(OUTPUT, 1, 0, msgs, s)])

    async def run(self, network: Topology, requests: Sequence[EpisodeRequest]) -> list[Episode]:
        return await bounded([self._one(r) for r in requests], self.concurrency)

    async def sync(self, policy: Any, step: int) -> None:
        await self.sampler.sync(policy)

    def describe(self) -> dict[str, Any]:
        return {"kind": "local", "workers": 1, "concurrency": self.concurrency}
