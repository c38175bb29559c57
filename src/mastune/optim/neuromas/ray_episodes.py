"""NeuroMAS training episodes on Ray workers; the learner (torch policy, REINFORCE) stays on the driver.

    source = RayEpisodes(EngineOnWorker(backbone, sha), GgufExport(backbone, OUT / "engine"), workers=2)
    await source.sync(policy, step)          # publish the adapters of this policy version
    eps = await source.run(network, requests)  # sampled by the workers, graded and learned from here
    source.close()

The contract:
- A **version** is (step, resync, digest): `step` = updates made so far, `digest` = sha256 of the
  adapter files' bytes, `resync` counts re-publications at one step (a resume or a growth replacing
  the initial weights before any update). Versions are ordered by (step, resync).
- At each `sync` the driver exports every node's adapter (GGUF LoRA files for the engine) and puts
  their **bytes in the Ray object store** (`ray.put`, once per version). Why not a path on a shared
  folder: a Ray cluster promises no shared filesystem, a file rewritten in place by the next sync
  could be read half-old by a slow worker, and the object store keeps the bytes exactly as long as a
  job refers to them. Adapters are small (rank 8 on SmolLM2-135M's attention: 0.9 M parameters, a
  few MB per node).
- Every job carries the version and the reference to its bytes. A worker that has loaded an older
  version (or none) fetches the bytes, checks their digest (a mismatch is an error, never weights it
  did not ask for), writes them to its own folder and points its engine at them
  (`engine.serve_adapter_files`); a load waits until the episodes in flight on the old version are
  done, so no episode mixes two versions. A job **older** than the version the worker has loaded
  (or is loading) is refused with a `StaleVersion` in its reply: the driver remakes it with its
  current version and resubmits it; it never samples from other weights.
- Episodes come back exactly as `episode.forward` makes them here (texts, finish flags, token counts,
  per-node prompts) with `info["policy_version"]`; the grading (`mastune.tasks` graders through the
  reward function) and the update happen on the driver, as in the local path.

A worker that dies mid-episode fails its call with a RayActorError; Ray restarts it and the episode
is sent again (at most `max_attempts` times). Episodes are seeded per request, so which worker runs
one does not change what it samples (the engine's batching aside: llama.cpp results may differ in
the last bits with the batch a request shares).
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, Sequence

from ...errors import ConfigError, MastuneError
from ...graph.topology import Topology
from ...llm.types import Message
from ...rollout.ray_runner import StaleVersion, WorkerLost, connect, require_ray
from .episode import Episode, forward
from .episodes import EpisodeRequest
from .sampler import Sampled

if TYPE_CHECKING:
    from .policy import AdapterPolicy


# ---- versions and what travels -------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    step: int
    resync: int
    digest: str

    @property
    def key(self) -> tuple[int, int]:
        return (self.step, self.resync)

    def __str__(self) -> str:
        return f"step {self.step}" + (f".{self.resync}" if self.resync else "") + f" ({self.digest[:12]})"


def digest_of(blobs: Mapping[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(blobs):
        h.update(name.encode() + b"\x00" + hashlib.sha256(blobs[name]).digest())
    return h.hexdigest()


@dataclass(frozen=True)
class Adapters:
    """A published version: the digest-checked bytes live in the object store (`ref`); a plain
    {node: bytes} dict also works (one process, tests). Wrapped so Ray hands the reference, not the
    bytes, to every call: a worker fetches them only when it loads a new version."""

    version: Version
    ref: Any
    suffix: str = ".gguf"  # file name of node n's adapter on the worker: n + suffix


@dataclass(frozen=True)
class EpisodeJob:
    network: Topology
    request: EpisodeRequest
    adapters: Adapters


@dataclass
class Reply:
    episode: Episode | None
    loaded: Version | None  # what the worker serves now
    rejected: StaleVersion | None = None
    worker_pid: int = 0


# ---- the worker's sampler -------------------------------------------------------------------------


class FileSampler(Protocol):
    """A Sampler a worker points at adapter files it was sent (instead of exporting a policy)."""

    async def sample(self, node: str, messages: Sequence[Message], temperature: float, max_tokens: int,
                     seed: int | None = None) -> Sampled: ...

    def load(self, files: Mapping[str, Path]) -> None: ...


SamplerFactory = Callable[[Path], FileSampler]  # picklable: called once on each worker with its folder
Export = Callable[["AdapterPolicy"], dict[str, bytes]]  # on the driver: the policy's adapters as {node: bytes}


@dataclass(frozen=True)
class GgufExport:
    """The driver's side of the engine path: every node's adapter as GGUF LoRA bytes (written under
    `work_dir`/{peft,gguf} too, the files the local engine path serves and vLLM/SGLang take)."""

    backbone: str
    work_dir: str

    def __call__(self, policy: "AdapterPolicy") -> dict[str, bytes]:
        from .checkpoint import export_peft
        from .engine import write_gguf_adapters

        if Path(policy.backbone).resolve() != Path(self.backbone).resolve():
            raise ConfigError(f"the policy trains on {policy.backbone}, the workers serve {self.backbone}: "
                              "they must be the same GGUF file")
        peft_dir = Path(self.work_dir) / "peft"
        if peft_dir.exists():  # nodes of an older network must not linger
            shutil.rmtree(peft_dir)
        files = write_gguf_adapters(export_peft(policy, peft_dir), self.backbone, Path(self.work_dir) / "gguf")
        return {n: Path(f).read_bytes() for n, f in files.items()}


class EngineFiles:
    """An EngineSampler on a worker, serving the adapter files it was sent."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def load(self, files: Mapping[str, Path]) -> None:
        from .engine import serve_adapter_files

        serve_adapter_files(self.engine, files)

    async def sample(self, node: str, messages: Sequence[Message], temperature: float, max_tokens: int,
                     seed: int | None = None) -> Sampled:
        return await self.engine.sample(node, messages, temperature, max_tokens, seed=seed)


@dataclass(frozen=True)
class EngineOnWorker:
    """Builds each worker's engine sampler on the backbone GGUF (the same file, checked by its sha256:
    on a multi-node cluster every node needs it at that path, e.g. `mastune models pull` on each)."""

    backbone: str
    sha256: str | None = None
    n_parallel: int = 4
    ctx_per_slot: int = 4096

    def __call__(self, work_dir: Path) -> EngineFiles:
        from .checkpoint import backbone_sha256
        from .engine import EngineSampler

        if not Path(self.backbone).is_file():
            raise ConfigError(f"this Ray worker has no backbone file {self.backbone}: every node needs the GGUF "
                              "at the driver's path (pull the model there, or share the model cache)")
        if self.sha256 is not None and backbone_sha256(self.backbone) != self.sha256:
            raise ConfigError(f"the backbone {self.backbone} on this Ray worker differs from the driver's "
                              "(sha256 mismatch): the workers would sample from other weights")
        return EngineFiles(EngineSampler(self.backbone, work_dir, n_parallel=self.n_parallel,
                                         ctx_per_slot=self.ctx_per_slot))


# ---- the worker -----------------------------------------------------------------------------------


async def fetch(ref: Any) -> dict[str, bytes]:
    if isinstance(ref, dict):
        return ref
    return dict(await ref)  # a Ray ObjectRef (awaitable inside an async actor)


class EpisodeWorker:
    """One worker's state (a plain class: Ray wraps it as an async actor; tests drive it directly)."""

    KEEP = 2  # version folders kept on disk (the serving one and the one before)

    def __init__(self, make_sampler: SamplerFactory, threads: int = 1) -> None:
        os.environ["MASTUNE_THREADS"] = str(threads)  # before any engine exists: only its own cores
        self.make_sampler = make_sampler
        self.sampler: FileSampler | None = None
        self.loaded: Version | None = None
        self.loading: Version | None = None
        self.loads = 0
        self.dir = Path(tempfile.mkdtemp(prefix="mastune-neuromas-worker-"))
        self._running = 0  # episodes in flight on `loaded`
        self._cond: asyncio.Condition | None = None

    def pid(self) -> int:
        return os.getpid()

    def state(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "loaded": self.loaded, "loads": self.loads, "running": self._running}

    def stale(self, version: Version) -> StaleVersion | None:
        """A refusal when `version` is older than what this worker serves or is about to serve."""
        newest = max((v for v in (self.loaded, self.loading) if v is not None), key=lambda v: v.key, default=None)
        if newest is None or version.key > newest.key:
            return None
        if version.key < newest.key:
            return StaleVersion(f"job of policy version {version} reached a worker that serves {newest}; "
                                "the learner moved on: the job is remade from the current version")
        if version.digest != newest.digest:
            return StaleVersion(f"job of policy version {version} reached a worker that serves other adapters "
                                f"under the same version ({newest}): two learners share these workers?")
        return None

    async def run(self, job: EpisodeJob) -> Reply:
        if self._cond is None:
            self._cond = asyncio.Condition()
        cond, version = self._cond, job.adapters.version
        async with cond:
            while True:
                bad = self.stale(version)
                if bad is not None:
                    return Reply(None, self.loaded, bad, os.getpid())
                if self.loaded is not None and self.loaded.key == version.key:
                    break
                if self.loading is None or version.key > self.loading.key:
                    self.loading = version  # this job loads it; jobs of older versions are refused from now
                    await cond.wait_for(lambda: self._running == 0)  # old-version episodes finish first
                    if self.loading == version:  # not overtaken by a newer version meanwhile
                        try:
                            await self._load(job.adapters)
                        finally:
                            self.loading = None
                            cond.notify_all()
                else:
                    await cond.wait()  # another job is loading this version (or a newer one)
            self._running += 1
        try:
            r = job.request
            ep = await forward(job.network, self.sampler, r.example, temperature=r.temperature,
                               max_tokens=r.max_tokens, seed=r.seed)
        finally:
            async with cond:
                self._running -= 1
                cond.notify_all()
        ep.info["policy_version"] = {"step": version.step, "resync": version.resync, "digest": version.digest}
        return Reply(ep, self.loaded, None, os.getpid())

    async def _load(self, adapters: Adapters) -> None:
        v = adapters.version
        blobs = await fetch(adapters.ref)
        if digest_of(blobs) != v.digest:
            raise MastuneError(f"the adapters fetched for policy version {v} do not match its digest "
                               f"({digest_of(blobs)[:12]}): refusing to sample from them")
        folder = self.dir / f"v{v.step}.{v.resync}"
        folder.mkdir(parents=True, exist_ok=True)
        files = {}
        for node, data in blobs.items():
            path = folder / f"{node}{adapters.suffix}"
            path.write_bytes(data)
            files[node] = path
        if self.sampler is None:
            self.sampler = self.make_sampler(self.dir)
        self.sampler.load(files)
        self.loaded, self.loads = v, self.loads + 1
        # mmap'd adapter files stay valid when unlinked; keep the last few folders anyway
        for old in sorted((p for p in self.dir.glob("v*") if p.is_dir()), key=lambda p: p.stat().st_mtime)[:-self.KEEP]:
            shutil.rmtree(old, ignore_errors=True)


# ---- the driver -----------------------------------------------------------------------------------


@dataclass
class RayEpisodes:
    """Episodes on `workers` Ray actors, `concurrency` in flight on each (the Episodes protocol)."""

    make_sampler: SamplerFactory
    export: Export
    workers: int | None = None
    address: str | None = None
    concurrency: int = 4
    threads: int = 1
    cpus_per_worker: float | None = None
    max_attempts: int = 3
    suffix: str = ".gguf"
    adapters: Adapters | None = None  # the current version (set by sync)
    rejected: int = 0  # stale replies (each job remade with the current version)
    lost: int = 0  # calls whose worker died
    syncs: int = 0  # versions published
    _actors: list = field(default_factory=list, repr=False)
    _started_ray: bool = False
    _slots: asyncio.Queue | None = field(default=None, repr=False)
    _loop: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._ray = require_ray()
        self.concurrency = max(1, self.concurrency)

    # ---- lifecycle -----------------------------------------------------------------------------
    def start(self) -> "RayEpisodes":
        if self._actors:
            return self
        ray = self._ray
        self._started_ray = connect(self.address)
        cpus = self.threads if self.cpus_per_worker is None else self.cpus_per_worker
        if self.workers is None:
            self.workers = max(1, int(ray.cluster_resources().get("CPU", 1) // max(cpus, 1e-9)))
        actor = ray.remote(EpisodeWorker).options(num_cpus=cpus, max_restarts=-1, max_task_retries=0,
                                                  max_concurrency=self.concurrency + 4)
        self._actors = [actor.remote(self.make_sampler, self.threads) for _ in range(self.workers)]
        return self

    def close(self) -> None:
        for a in self._actors:
            self._ray.kill(a)
        self._actors, self._slots, self._loop = [], None, None
        if self._started_ray:
            self._ray.shutdown()
            self._started_ray = False

    def __enter__(self) -> "RayEpisodes":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def describe(self) -> dict[str, Any]:
        self.start()
        return {"kind": "ray", "workers": self.workers, "address": self.address, "concurrency": self.concurrency,
                "threads": self.threads}

    def worker_states(self) -> list[dict[str, Any]]:
        self.start()
        return self._ray.get([a.state.remote() for a in self._actors])

    # ---- the Episodes protocol -------------------------------------------------------------------
    async def sync(self, policy: "AdapterPolicy", step: int) -> None:
        blobs = await asyncio.to_thread(self.export, policy)
        digest = digest_of(blobs)
        cur = self.adapters.version if self.adapters is not None else None
        if cur is not None and step < cur.step:
            raise ConfigError(f"policy version went back from step {cur.step} to {step}: one learner per "
                              "RayEpisodes, and its step only grows")
        if cur is not None and step == cur.step:
            if digest == cur.digest:
                return  # nothing changed: the workers keep what they loaded
            version = Version(step, cur.resync + 1, digest)
        else:
            version = Version(step, 0, digest)
        self.start()
        self.adapters = Adapters(version, self._ray.put(blobs), self.suffix)
        self.syncs += 1

    async def run(self, network: Topology, requests: Sequence[EpisodeRequest]) -> list[Episode]:
        return list(await asyncio.gather(*(self.submit(network, r) for r in requests)))

    # ---- dispatch --------------------------------------------------------------------------------
    def _slots_here(self) -> asyncio.Queue:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._loop is not loop:  # a queue belongs to its event loop
            self.start()
            self._slots, self._loop = asyncio.Queue(), loop
            for _ in range(self.concurrency):
                for w in range(len(self._actors)):
                    self._slots.put_nowait(w)
        return self._slots

    async def submit(self, network: Topology, request: EpisodeRequest, adapters: Adapters | None = None) -> Episode:
        """One episode, made with `adapters` (default: the current version). A stale reply is remade
        with the current version and sent again; a dead worker's call is sent again."""
        adapters = adapters or self.adapters
        if adapters is None:
            raise ConfigError("no policy version published yet: call sync(policy, step) before sampling")
        slots, lost = self._slots_here(), []
        stale = 0
        while len(lost) < self.max_attempts and stale <= len(self._actors) + 1:
            w = await slots.get()
            try:
                reply: Reply = await self._actors[w].run.remote(EpisodeJob(network, request, adapters))
            except self._ray.exceptions.RayActorError as e:
                lost.append(f"worker {w}: {type(e).__name__}")
                self.lost += 1
                continue  # Ray restarts the actor; the call goes out again (to it or another)
            finally:
                slots.put_nowait(w)
            if reply.rejected is None:
                return reply.episode  # type: ignore[return-value]
            self.rejected += 1
            stale += 1
            current = self.adapters
            if current is None or current.version.key <= adapters.version.key:
                raise reply.rejected  # the worker is ahead of this learner: no retry can fix that
            adapters = current  # the job again, with the current version
        if lost:
            raise WorkerLost(f"episode of {request.example.id}: its worker was lost {len(lost)} time(s) "
                             f"({'; '.join(lost)}); re-run the same command to resume, and check the cluster")
        raise StaleVersion(f"episode of {request.example.id} was refused as stale {stale} times in a row")
