"""A Ray runner: the same jobs as `LocalRunner`, fanned out to N actor workers.

    with RayRunner(pool, workers=2, concurrency=4) as runner:      # a local Ray instance, or address=...
        async for out in runner.run([Job(spec, ex) for ex in examples]):
            ...                                                      # the driver alone writes results

Each worker is a Ray actor that builds systems from their picklable specs
(`systems.build_system`), with its own pool: its own embedded engines (on
`threads` cores: MASTUNE_THREADS is set per worker) or clients of remote
endpoints. A finished rollout travels back as pickled plain data. A worker
that dies mid-item (killed, OOM, node lost) fails its in-flight calls with a
`RayActorError`; the driver re-dispatches those items to another worker
(Ray restarts the dead one, which gets work again once it answers), so every
job yields exactly one Rollout: its result, its own error, or after
`max_attempts` lost workers a `WorkerLost` error (recorded, retried on resume).

Concurrency limits are per endpoint, not per process: a remote model's
`max_concurrency` in the pool config is divided among the workers (each gets
limit // workers, at least 1), so N workers together keep within what one
vLLM/SGLang server was given. Embedded and hf models are per process (each
worker has its own engine) and keep their limit.

Versions (training): a job may carry `version`, a number that grows whenever
the learner's policy or adapters change. A worker drops the systems it built
when it sees a newer version (a checkpoint rewritten in place is reloaded)
and refuses a job older than the version it has loaded (`StaleVersion`).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
from dataclasses import dataclass, replace
from typing import Any, AsyncIterator

from .. import settings
from ..errors import ConfigError, MastuneError
from ..llm.types import Usage
from ..systems.spec import SystemSpec
from ..tasks.base import Example
from .rollout import Rollout, rollout
from .runner import Job, RunnerBase, completed

RAY_HINT = "the Ray runner needs Ray: pip install 'mastune[ray]' (or: pip install 'ray>=2.40')"
REMOTE_BACKENDS = ("openai",)  # backends whose limit is one server's, shared by every worker
DEFAULT_LIMIT = 4  # LM's default max_concurrency, when a pool config leaves it unset


class WorkerLost(MastuneError):
    """A job's worker died on every attempt (killed, out of memory, node lost)."""


class StaleVersion(MastuneError):
    """A job was made with an older policy/adapter version than its worker has loaded."""


def require_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_HINT) from None
    return ray


def share_limits(pool: dict[str, Any] | None, workers: int) -> dict[str, Any] | None:
    """The pool config each of `workers` workers gets: remote models' concurrency divided among them."""
    if pool is None or workers <= 1:
        return pool
    models = []
    for m in pool.get("models", []):
        if m.get("backend") in REMOTE_BACKENDS:
            m = {**m, "max_concurrency": max(1, (m.get("max_concurrency") or DEFAULT_LIMIT) // workers)}
        models.append(m)
    return {**pool, "models": models}


def pool_config(pool: Any) -> dict[str, Any] | None:
    """What of a pool can travel to a worker: its config as plain data."""
    if pool is None:
        return None
    config = getattr(pool, "config", None)
    if config is not None and hasattr(config, "model_dump"):
        return config.model_dump()
    if isinstance(pool, dict) and "models" in pool:
        from ..llm.pool import Pool

        return Pool.from_dict(pool, source="the Ray runner's pool").config.model_dump()
    raise ConfigError("the Ray runner sends a pool's config to its workers: give a Pool (e.g. Pool.load(FILE)) or "
                      "a pool config dict, not live models; scripted tests can use `backend: fake` models")


@dataclass(frozen=True)
class RunEnv:
    """The driver's settings that a worker applies around each rollout."""

    cache: str | None = None  # call-cache file (workers on one machine share it; SQLite WAL)
    verbose: bool = False

    @classmethod
    def current(cls) -> "RunEnv":
        s = settings.get()
        path = getattr(s.cache, "path", None)
        return cls(str(path) if path is not None else None, s.verbose)


def portable(out: Rollout) -> bytes:
    """The rollout pickled for the trip back; what cannot be pickled is replaced by words, never lost silently."""
    try:
        blob = pickle.dumps(out)
        pickle.loads(blob)  # an exception with its own __init__ pickles but may not unpickle
        return blob
    except Exception as e:  # an unpicklable trace/error: keep the error's type and message
        why = f"{type(e).__name__}: {e}"
    error = out.error
    if error is not None:
        error = MastuneError(f"{type(error).__name__}: {error}")
    try:
        return pickle.dumps(replace(out, result=None, error=error))
    except Exception:
        return pickle.dumps(Rollout(out.example, out.rollout_id, error=MastuneError(
            f"the worker's result could not be sent back ({why})"), usage=out.usage, wall_s=out.wall_s))


def failed(example: Example, rollout_id: Any, error: MastuneError) -> Rollout:
    return Rollout(example, rollout_id, error=error, usage=Usage())


class Worker:
    """One worker's state (a plain class: Ray wraps it as an actor; tests drive it directly)."""

    def __init__(self, pool: dict[str, Any] | None, workers: int = 1, threads: int = 1) -> None:
        # Before any engine exists: llama.cpp threads spin-wait, so a worker uses only its own cores.
        os.environ["MASTUNE_THREADS"] = str(threads)
        self.pool, self.workers = pool, workers
        self.version: int | None = None
        self._systems: dict[str, Any] = {}
        self._pools: dict[str, Any] = {}
        self._caches: dict[str, Any] = {}

    def pid(self) -> int:
        return os.getpid()

    def system(self, spec: SystemSpec) -> Any:
        from ..systems.registry import build_system

        key = spec.key()
        if key not in self._systems:
            self._systems[key] = build_system(spec, self._pool(spec))
        return self._systems[key]

    def _pool(self, spec: SystemSpec) -> Any:
        from ..llm.pool import Pool

        cfg = share_limits(self.pool if self.pool is not None else spec.pool, self.workers)
        key = repr(cfg)
        if key not in self._pools:
            self._pools[key] = Pool.default() if cfg is None else Pool.from_dict(cfg, source="the worker's pool")
        return self._pools[key]

    def check_version(self, version: int | None) -> None:
        """Newer: forget what was built (it may have loaded old weights). Older: refuse."""
        if version is None:
            return
        if self.version is not None and version < self.version:
            raise StaleVersion(f"job of version {version} reached a worker that has loaded version {self.version}; "
                               "the learner moved on: make the job again from the current policy")
        if version != self.version:
            self._systems.clear()
            self.version = version

    def describe(self, spec: SystemSpec) -> bytes:
        """What the driver needs of a system without building it there: name and fingerprint (or the build error)."""
        try:
            system = self.system(spec)
            fp = getattr(system, "fingerprint", None)
            name = getattr(system, "name", spec.kind)
            return pickle.dumps({"name": name, "fingerprint": fp() if callable(fp) else None})
        except MastuneError as e:
            try:
                return pickle.dumps({"error": pickle.loads(pickle.dumps(e))})
            except Exception:
                return pickle.dumps({"error": MastuneError(f"{type(e).__name__}: {e}")})

    async def run(self, job: Job, env: RunEnv) -> bytes:
        try:
            self.check_version(job.version)
            system = self.system(job.system)
        except MastuneError as e:  # e.g. a stale job or a checkpoint that does not load: the job's own error
            return portable(failed(job.example, job.rollout_id, e))
        with settings.context(cache=self._cache(env.cache), verbose=env.verbose):
            return portable(await rollout(system, job.example, job.rollout_id))

    def _cache(self, path: str | None) -> Any:
        if path is None:
            return None
        if path not in self._caches:
            from ..llm.cache import CallCache

            self._caches[path] = CallCache(path)
        return self._caches[path]


class RemoteSystem:
    """The driver's view of a system that lives in the workers: its name and what weights it loaded."""

    def __init__(self, spec: SystemSpec, name: str, fingerprint: dict[str, Any] | None) -> None:
        self.spec, self.name, self._fingerprint = spec, name, fingerprint

    def fingerprint(self) -> dict[str, Any] | None:
        return self._fingerprint


def connect(address: str | None = None) -> bool:
    """Join the cluster at `address`, or start a local Ray instance on this machine's cores.
    True when this call started Ray (the runner then shuts it down on close)."""
    ray = require_ray()
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage reports (and no network) unless asked
    if address:
        ray.init(address=address, logging_level=logging.WARNING)
    else:
        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, logging_level=logging.WARNING)
    return True


class RayRunner(RunnerBase):
    """Jobs on `workers` Ray actors, `concurrency` items in flight on each (Runner protocol)."""

    def __init__(self, pool: Any = None, *, workers: int | None = None, address: str | None = None,
                 concurrency: int = 4, threads: int = 1, max_attempts: int = 3, revive_timeout_s: float = 120.0,
                 cpus_per_worker: float | None = None) -> None:
        self._ray = require_ray()
        self.pool = pool_config(pool)  # None: each spec's own pool config (None there: the built-in pool)
        self.address, self.concurrency, self.threads = address, max(1, concurrency), max(1, threads)
        self.cpus = threads if cpus_per_worker is None else cpus_per_worker
        self.workers = workers
        self.max_attempts, self.revive_timeout_s = max(1, max_attempts), revive_timeout_s
        self._actors: list[Any] = []
        self._started_ray = False
        self._slots: asyncio.Queue | None = None  # one token per free (worker, slot); made in the running loop
        self._live = 0  # slots not given up on
        self._all_dead: asyncio.Event | None = None
        self._described: dict[str, RemoteSystem] = {}
        self._reviving: set[asyncio.Future] = set()
        self.lost = 0  # in-flight items whose worker died (each was re-dispatched or, at last, failed)

    # ---- lifecycle -------------------------------------------------------------------
    def start(self) -> "RayRunner":
        if self._actors:
            return self
        ray = self._ray
        self._started_ray = connect(self.address)
        if self.workers is None:  # one worker per `cpus` of the cluster
            total = ray.cluster_resources().get("CPU", 1)
            self.workers = max(1, int(total // max(self.cpus, 1e-9)))
        actor = ray.remote(Worker).options(
            num_cpus=self.cpus, max_restarts=-1, max_task_retries=0,  # re-dispatch is ours: no item runs twice
            max_concurrency=self.concurrency + 4)  # + room for pid/describe beside the items
        self._actors = [actor.remote(self.pool, self.workers, self.threads) for _ in range(self.workers)]
        return self

    def close(self) -> None:
        for a in self._actors:
            self._ray.kill(a)
        self._actors = []
        self._slots = self._all_dead = None
        if self._started_ray:
            self._ray.shutdown()
            self._started_ray = False

    def __enter__(self) -> "RayRunner":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def describe(self) -> dict[str, Any]:
        """For a run's meta.json (the address redacted there by rollout.record.runner_info)."""
        self.start()  # the worker count is known once started (default: one per cluster CPU)
        return {"kind": "ray", "workers": self.workers, "address": self.address, "concurrency": self.concurrency,
                "threads": self.threads}

    def worker_pids(self) -> list[int]:
        self.start()
        return self._ray.get([a.pid.remote() for a in self._actors])

    # ---- the Runner protocol ---------------------------------------------------------
    def system(self, spec: Any) -> RemoteSystem:
        """Built by a worker (a bad config or checkpoint fails here, as in the local runner)."""
        if not isinstance(spec, SystemSpec):
            raise ConfigError("the Ray runner runs systems from their specs (systems.resolve_spec / SystemSpec); "
                              f"got a built {type(spec).__name__}: use LocalRunner for live systems")
        key = spec.key()
        if key not in self._described:
            self.start()
            info = pickle.loads(self._ray.get(self._actors[0].describe.remote(spec)))
            if "error" in info:
                raise info["error"]
            self._described[key] = RemoteSystem(spec, info["name"], info["fingerprint"])
        return self._described[key]

    async def _run(self, jobs: list[Job]) -> AsyncIterator[tuple[int, Rollout]]:
        for job in jobs:
            if not isinstance(job.system, SystemSpec):
                self.system(job.system)  # raises the clear error
        self._ensure_slots()
        env = RunEnv.current()
        async for out in completed([asyncio.ensure_future(self._one(i, job, env)) for i, job in enumerate(jobs)]):
            yield out

    # ---- dispatch ----------------------------------------------------------------------
    def _ensure_slots(self) -> None:
        self.start()
        if self._slots is None:  # shared by every concurrent run/map call of this runner
            self._slots = asyncio.Queue()
            for _ in range(self.concurrency):
                for w in range(len(self._actors)):
                    self._slots.put_nowait(w)
            self._live = self._slots.qsize()
            self._all_dead = asyncio.Event()

    async def _take(self) -> int | None:
        """A free slot's worker, or None when every worker has been given up on."""
        assert self._slots is not None and self._all_dead is not None
        if self._live == 0:
            return None
        get = asyncio.ensure_future(self._slots.get())
        dead = asyncio.ensure_future(self._all_dead.wait())
        try:
            await asyncio.wait({get, dead}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            dead.cancel()
            if not get.done():
                get.cancel()
        if get.done() and not get.cancelled():
            return get.result()
        return None

    async def _one(self, i: int, job: Job, env: RunEnv) -> tuple[int, Rollout]:
        ray, slots = self._ray, self._slots  # this run's slots (close() may drop them while it unwinds)
        assert slots is not None
        lost: list[str] = []
        while len(lost) < self.max_attempts:
            w = await self._take()
            if w is None:
                break
            ref = self._actors[w].run.remote(job, env)
            try:
                blob = await ref
            except asyncio.CancelledError:  # the consumer stopped: stop the item on its worker too
                with contextlib.suppress(Exception):
                    ray.cancel(ref)
                slots.put_nowait(w)
                raise
            except ray.exceptions.RayActorError as e:
                # The worker died with this item in flight: it runs again elsewhere; the slot comes back
                # once the restarted worker answers.
                lost.append(f"worker {w}: {type(e).__name__}")
                self.lost += 1
                revive = asyncio.ensure_future(self._revive(w))
                self._reviving.add(revive)  # held until done (a bare task may be collected mid-way)
                revive.add_done_callback(self._reviving.discard)
                continue
            except BaseException:
                slots.put_nowait(w)
                raise
            slots.put_nowait(w)
            return i, pickle.loads(blob)
        why = "; ".join(lost) or "no worker left"
        return i, failed(job.example, job.rollout_id, WorkerLost(
            f"item {job.example.id}: its worker was lost {len(lost)} time(s) ({why}); re-run the same command "
            "to retry it, and check the cluster (memory, node health)"))

    async def _revive(self, w: int) -> None:
        """Give worker `w`'s slot back once it answers again (Ray restarts it); give up after revive_timeout_s."""
        loop = asyncio.get_running_loop()
        actor, slots, all_dead = self._actors[w], self._slots, self._all_dead
        deadline = loop.time() + self.revive_timeout_s
        while loop.time() < deadline:
            try:
                await actor.pid.remote()
                if slots is self._slots:  # not closed meanwhile
                    slots.put_nowait(w)
                return
            except self._ray.exceptions.RayActorError:
                await asyncio.sleep(0.5)
        self._live -= 1
        if self._live == 0:
            all_dead.set()
