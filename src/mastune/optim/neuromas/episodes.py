"""Where a training step's episodes are sampled: in this process (`LocalEpisodes`) or on Ray workers
(`ray_episodes.RayEpisodes`). The learner never moves: it hands out requests, gets Episodes back
(every node's prompt, sampled text, finish flag and token counts), grades them itself and updates.

    source = LocalEpisodes(sampler, concurrency=8)
    await source.sync(policy, step)                       # serve the policy's adapters from now on
    eps = await source.run(network, [EpisodeRequest(ex, 0.7, 200, seed) for ...])   # in request order
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, Sequence

from ...graph.topology import Topology
from ...tasks.base import Example
from .episode import Episode, bounded, forward
from .sampler import Sampler

if TYPE_CHECKING:
    from .policy import AdapterPolicy


@dataclass(frozen=True)
class EpisodeRequest:
    """One forward pass to sample: plain data, so it can travel to a worker."""

    example: Example
    temperature: float
    max_tokens: int
    seed: int


class Episodes(Protocol):
    async def run(self, network: Topology, requests: Sequence[EpisodeRequest]) -> list[Episode]:
        """Every request's Episode (ungraded), in request order."""
        ...

    async def sync(self, policy: "AdapterPolicy", step: int) -> None:
        """Sample with the policy's current adapters from now on; `step` = updates made so far."""
        ...

    def describe(self) -> dict[str, Any]:
        """For config.json: where the episodes ran (rollout.record)."""
        ...


class LocalEpisodes:
    """Episodes on a Sampler in this process, at most `concurrency` at once (the default path)."""

    def __init__(self, sampler: Sampler, concurrency: int) -> None:
        self.sampler, self.concurrency = sampler, max(1, concurrency)

    async def run(self, network: Topology, requests: Sequence[EpisodeRequest]) -> list[Episode]:
        return await bounded([forward(network, self.sampler, r.example, temperature=r.temperature,
                                      max_tokens=r.max_tokens, seed=r.seed) for r in requests], self.concurrency)

    async def sync(self, policy: "AdapterPolicy", step: int) -> None:
        await self.sampler.sync(policy)

    def describe(self) -> dict[str, Any]:
        return {"kind": "local", "workers": 1, "concurrency": self.concurrency}


def as_episodes(source: "Sampler | Episodes", concurrency: int) -> "Episodes":
    """A Sampler wrapped to run episodes here; an Episodes source as it is."""
    return source if hasattr(source, "run") else LocalEpisodes(source, concurrency)  # type: ignore[return-value]
