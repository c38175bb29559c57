"""How many threads each embedded engine gets: the cores are shared, not taken by each.

llama.cpp threads compute in lock-step and spin at barriers, so engines that
together run more threads than there are cores collapse (measured here: two
0.5B engines with 2 threads each on 2 cores, 8.3 tok/s each; with 1 thread
each, 27 tok/s each). The budget:

- machine: the cores this process may run on are split evenly over the live
  mastune processes that run engines. Processes find each other through a
  registry folder under the mastune home: each holds an exclusive `flock` on
  its own file for its lifetime, so a crashed process's file is unlocked and
  ignored (and removed) by the next scan; pid reuse cannot fool it.
- process: that share is split evenly over the engines loaded in the process.
  An engine of a process with several also holds a *solo* instance (a second
  load of the same file with the process's whole share: the weights are one
  mmap, only the KV cache is doubled) and a request that starts while no other
  engine of the process computes runs there. So engines computing at once get
  their split share, and one computing alone (a synthesiser, a decision node
  after its proposers) gets every core. llama.cpp fixes threads at load, so
  this is what "threads per active engine" costs without a reload. A solo
  request still running when another engine starts overlaps its split-share
  request: in one process that oversubscription costs little (3 engines x 2
  threads on 2 cores, 55.8 vs 58.6 tok/s), not the collapse seen across
  processes (6.1 vs 40.4; benchmarks/results/engine/bench_threads.txt).
  `MASTUNE_SOLO_ENGINE=0` turns solo instances off.
- `MASTUNE_THREADS=N` (or a pool entry's `n_threads`) overrides: N threads per engine.

llama.cpp fixes an engine's thread count at load, so an engine whose share
changes is reloaded with the new count (see `embedded.Engine`): at once when
it must shrink (oversubscription costs far more than the reload); when idle,
and once the larger share has lasted GROW_AFTER_S, when it may grow.
"""
from __future__ import annotations

import fcntl
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..settings import home_dir

RECHECK_S = 1.0  # how often an engine re-reads the machine-wide count (a folder scan)
GROW_AFTER_S = 5.0  # a larger share must last this long before an engine reloads to take it
SOLO_GRACE_S = 0.02  # a request that may go solo first waits this long for calls dispatched with it


def machine_cores() -> int:
    """Cores this process may run on (affinity / cgroup cpuset), not the host's total."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def env_threads() -> int:
    """MASTUNE_THREADS as a positive int, 0 when unset; a bad value is an error, not a silent default."""
    raw = os.environ.get("MASTUNE_THREADS", "").strip()
    if not raw:
        return 0
    try:
        n = int(raw)
    except ValueError:
        n = -1
    if n < 1:
        from ..errors import ConfigError

        raise ConfigError(f"MASTUNE_THREADS={raw!r}: set a positive number of threads per engine, or unset it")
    return n


def solo_enabled() -> bool:
    raw = os.environ.get("MASTUNE_SOLO_ENGINE", "").strip().lower()
    if raw in ("", "1", "on"):
        return True
    if raw in ("0", "off"):
        return False
    from ..errors import ConfigError

    raise ConfigError(f"MASTUNE_SOLO_ENGINE={raw!r}: use 1 (solo instances, the default) or 0")


def split(cores: int, processes: int, engines: int) -> int:
    """Threads per engine: the cores shared evenly by processes, then by engines; at least 1.

    With more engines than cores each gets 1 thread: a single-threaded engine has
    no barrier to spin at, so the OS time-slices them without the collapse."""
    per_process = max(1, cores // max(1, processes))
    return max(1, per_process // max(1, engines))


class ProcessRegistry:
    """Live mastune engine processes on this machine, one locked file each."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else home_dir() / "engine-procs"
        self._own: tuple[Path, int] | None = None
        self._lock = threading.Lock()
        # A forked child shares the parent's locked file description: it drops its copy of the
        # fd (the parent keeps the lock) and registers as itself if it loads an engine.
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        if self._own is not None:
            os.close(self._own[1])
            self._own = None

    @property
    def registered(self) -> bool:
        return self._own is not None

    def register(self) -> None:
        with self._lock:
            if self._own is not None:
                return
            self.folder.mkdir(parents=True, exist_ok=True)
            final = self.folder / f"{os.getpid()}.lock"
            # Lock a temporary file first and rename it into place: a scanner never
            # sees an unlocked live entry (it would take it for stale and remove it).
            tmp = self.folder / f".{os.getpid()}.{threading.get_ident()}.tmp"
            fd = os.open(tmp, os.O_CREAT | os.O_RDWR, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.replace(tmp, final)
            self._own = (final, fd)

    def unregister(self) -> None:
        with self._lock:
            if self._own is None:
                return
            path, fd = self._own
            self._own = None
            path.unlink(missing_ok=True)
            os.close(fd)

    def live(self) -> int:
        """Processes holding their entry's lock (this one included if registered); stale entries are removed."""
        own = self._own[0].name if self._own else None
        count = 1 if own else 0
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return count
        for name in names:
            if not name.endswith(".lock") or name == own:
                continue
            path = self.folder / name
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue  # its process just unregistered
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                count += 1  # locked: its process is alive
            else:
                path.unlink(missing_ok=True)  # nobody holds it: the process died
            finally:
                os.close(fd)
        return count


@dataclass(frozen=True)
class Allocation:
    threads: int
    source: str  # "MASTUNE_THREADS", "n_threads" or "budget"
    cores: int = 0
    processes: int = 0
    engines: int = 0
    solo: int = 0  # threads of the engine's solo instance (the process's share); 0: no solo instance


class ThreadBudget:
    """The per-process view: which engines are loaded, and what each one's share is."""

    def __init__(self, registry: ProcessRegistry | None = None, cores: int | None = None) -> None:
        self.registry = registry or ProcessRegistry()
        self.cores = cores or machine_cores()
        self._engines: set[int] = set()
        self._lock = threading.Lock()
        self._live = (0.0, 1)  # (time of the last scan, processes seen)
        self._computing: dict[int, int] = {}  # engine -> requests it is computing now

    def add(self, engine_id: int) -> None:
        with self._lock:
            self._engines.add(engine_id)
        self.registry.register()
        self._live = (0.0, 1)  # rescan now: a new engine changes everyone's share

    def remove(self, engine_id: int) -> None:
        with self._lock:
            self._engines.discard(engine_id)
            empty = not self._engines
        if empty:
            self.registry.unregister()  # a process with no engine uses no engine threads

    def processes(self) -> int:
        at, n = self._live
        now = time.monotonic()
        if now - at >= RECHECK_S:
            n = max(1, self.registry.live())
            self._live = (now, n)
        return n

    def allocate(self, fixed: int = 0) -> Allocation:
        """The thread count an engine should run with now (`fixed`: the pool entry's n_threads)."""
        env = env_threads()
        if env:
            return Allocation(env, "MASTUNE_THREADS")
        if fixed > 0:
            return Allocation(fixed, "n_threads")
        procs, engines = self.processes(), max(1, len(self._engines))
        threads, share = split(self.cores, procs, engines), split(self.cores, procs, 1)
        solo = share if share > threads and solo_enabled() else 0
        return Allocation(threads, "budget", self.cores, procs, engines, solo)

    def _alone(self, engine_id: int) -> bool:
        with self._lock:
            return not any(n for e, n in self._computing.items() if e != engine_id)

    @contextmanager
    def computing(self, engine_id: int, grace_s: float = 0.0) -> Iterator[bool]:
        """Hold while an engine computes a request; yields whether no other engine of this process
        computes as it starts (then the request may take the engine's solo instance). `grace_s`:
        look again after that long, so that calls dispatched together (a layer's agents) all see
        each other and none takes every core beside the others."""
        with self._lock:
            self._computing[engine_id] = self._computing.get(engine_id, 0) + 1
        try:
            alone = self._alone(engine_id)
            if alone and grace_s > 0:
                time.sleep(grace_s)
                alone = self._alone(engine_id)
            yield alone
        finally:
            with self._lock:
                self._computing[engine_id] -= 1
                if not self._computing[engine_id]:
                    del self._computing[engine_id]


    def learner_threads(self) -> int:
        """Threads for a torch learner in this process (NeuroMAS, SFT). It runs between sampling
        rounds, while the engines idle, so it takes the process's whole share of the cores; torch's
        own default (every core) collapses like an engine does when other processes compute."""
        env = env_threads()
        return env if env else split(self.cores, self.processes(), 1)


_budget: ThreadBudget | None = None
_budget_lock = threading.Lock()


def budget() -> ThreadBudget:
    """This process's budget (created on first engine load, not at import)."""
    global _budget
    with _budget_lock:
        if _budget is None:
            _budget = ThreadBudget()
            import atexit

            atexit.register(_budget.registry.unregister)
        return _budget
