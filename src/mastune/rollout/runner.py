"""Runners: where rollouts run. A runner takes jobs and yields each `Rollout` as it finishes.

    runner = LocalRunner(pool, concurrency=4)
    async for out in runner.run([Job(spec, ex) for ex in examples]):
        ...   # written to results.jsonl as it lands

The protocol only needs what can travel: a job is a picklable `SystemSpec`,
an `Example` and a rollout id, and a `Rollout` is plain data. `LocalRunner`
runs jobs in this process with bounded concurrency (building each spec's
system once, on the pool it was given); it also accepts an already built
system in place of a spec (tests, a system with state). A cluster runner
(Ray) implements the same `run` by building systems from specs in its
workers (`systems.build_system`).
"""
from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, AsyncIterator, Iterable, Protocol, Sequence

from ..systems.registry import build_system
from ..systems.spec import SystemSpec
from ..tasks.base import Example
from .rollout import Rollout, rollout


@dataclass(frozen=True)
class Job:
    system: Any  # a SystemSpec (every runner), or a built system (LocalRunner only)
    example: Example
    rollout_id: str | int | None = None
    version: int | None = None  # training: the policy/adapter version it was made with (a Ray worker refuses older)


class Runner(Protocol):
    def run(self, jobs: Iterable[Job]) -> AsyncIterator[Rollout]:
        """Yield one Rollout per job, in completion order."""
        ...

    def system(self, spec: Any) -> Any:
        """The system a spec builds, here (callers read its fingerprint before running)."""
        ...


async def completed(tasks: list[asyncio.Future]) -> AsyncIterator[Any]:
    """Each task's result as it lands; if the consumer stops early (or fails), the rest are cancelled."""
    try:
        for done in asyncio.as_completed(tasks):
            yield await done
    finally:  # no orphan runs
        for t in tasks:
            if not t.done():
                t.cancel()


class RunnerBase:
    """What every runner derives from its own `_run` (yielding (job index, Rollout) as each lands)."""

    def _run(self, jobs: list[Job]) -> AsyncIterator[tuple[int, Rollout]]:
        raise NotImplementedError

    async def run(self, jobs: Iterable[Job]) -> AsyncIterator[Rollout]:
        async for _, out in self._run(list(jobs)):
            yield out

    async def map(self, jobs: Sequence[Job]) -> list[Rollout]:
        """Every job's Rollout, in job order (for callers that need them all, e.g. a training batch)."""
        jobs = list(jobs)
        out: list[Rollout | None] = [None] * len(jobs)
        async for i, r in self._run(jobs):
            out[i] = r
        return out  # type: ignore[return-value]


class LocalRunner(RunnerBase):
    """Jobs in this process, at most `concurrency` at once (one semaphore for every `run` call)."""

    KEEP = 256  # built systems kept for reuse

    def __init__(self, pool: Any = None, concurrency: int = 4) -> None:
        self.pool = pool  # None: each spec's own pool config, built once here
        self.concurrency = max(1, concurrency)
        self._sem: asyncio.Semaphore | None = None
        self._systems: OrderedDict[str, Any] = OrderedDict()  # spec key -> system, the most recent kept
        self._pools: dict[str, Any] = {}

    def system(self, spec_or_system: Any) -> Any:
        """The system of a job, built once per spec."""
        if not isinstance(spec_or_system, SystemSpec):
            return spec_or_system
        key = spec_or_system.key()
        if key in self._systems:
            self._systems.move_to_end(key)
        else:
            self._systems[key] = build_system(spec_or_system, self._pool(spec_or_system))
            while len(self._systems) > self.KEEP:  # training builds a system per plan: keep memory bounded
                self._systems.popitem(last=False)
        return self._systems[key]

    def describe(self) -> dict[str, Any]:
        """For a run's meta.json: this process, `concurrency` jobs at once."""
        return {"kind": "local", "workers": 1, "concurrency": self.concurrency}

    def _pool(self, spec: SystemSpec) -> Any:
        if self.pool is not None:
            return self.pool
        from ..systems.registry import pool_of

        key = repr(sorted((spec.pool or {}).items()))
        if key not in self._pools:
            self._pools[key] = pool_of(spec)
        return self._pools[key]

    async def _run(self, jobs: list[Job]) -> AsyncIterator[tuple[int, Rollout]]:
        if self._sem is None:  # made on first use: a semaphore belongs to the running event loop
            self._sem = asyncio.Semaphore(self.concurrency)
        sem = self._sem

        async def one(i: int, job: Job) -> tuple[int, Rollout]:
            async with sem:
                return i, await rollout(self.system(job.system), job.example, job.rollout_id)

        async for out in completed([asyncio.ensure_future(one(i, j)) for i, j in enumerate(jobs)]):
            yield out
