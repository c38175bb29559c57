"""Run untrusted Python (LLM-written solutions, generated test harnesses) in a sandbox.

Every execution gets its own short-lived process tree, never the library's own
process.  The layers, strongest first; each one that the host allows is applied
and named in :attr:`SandboxResult.isolation`:

``netns``        new, empty network namespace (no interfaces, not even ``lo`` up):
                 every connect/bind to an IP address fails.
``socket_guard`` fallback when no network namespace can be made: ``socket.socket``
                 refuses non-AF_UNIX families.  A speed bump, not a boundary.
``mntns``        private mount namespace: fresh size-capped tmpfs on ``/tmp``,
                 ``/var/tmp``, ``/dev/shm``, ``/run/lock``; the working directory is
                 a tmpfs too (disk cannot be filled); ``/root``, ``/home`` and every
                 top-level directory that is not part of the OS (``/work``, ``/srv``,
                 ``/mnt``, ``/opt``, ... where checkouts, data and keys live) are
                 masked except for the directories the Python install needs.
``pidns``        private PID namespace whose init is our supervisor: when the main
                 program exits (or the supervisor is killed) the kernel kills every
                 process left in it -- background sleepers, fork bombs, daemons.
``uid``          (running as root) privileges dropped to a random, otherwise unused
                 uid/gid, so RLIMIT_NPROC really bounds the process count (root is
                 exempt from it) and the code cannot write root-owned files.
``userns``       (not root) an unprivileged user namespace that makes netns/mntns/
                 pidns possible without privileges.
``rlimits``      RLIMIT_AS, RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NPROC, RLIMIT_NOFILE,
                 RLIMIT_CORE.
``no_new_privs`` setuid binaries cannot raise privileges again.
``session``      own session / process group, SIGKILLed as a whole at the end.

The environment is rebuilt from scratch (no inherited variables, so API keys
never leak).  The interpreter runs with ``-s`` (no user site) but keeps the
system site-packages so numpy & co. import; ``-I``/``-E`` are not used because
they would drop the script directory from ``sys.path`` (harnesses import staged
modules) and ignore ``PYTHONHASHSEED``; the environment is ours anyway.

Process layout: library -> bootstrap (this file run as a script, as root if we
are root; sets up namespaces) -> [pid-namespace init, reaps] -> user program.
The library kills the whole tree (process group, then any process of the
sandbox uid, found through /proc and signalled through pidfds) before returning.

Not contained: reading world-readable files in the OS directories (``/usr``,
``/etc``, ``/var``, ...);
CPU share (a run may use a full core until its limits hit); tmpfs pages (at
most the mount sizes, ~180 MB per run with the defaults) are host memory that
RLIMIT_AS does not see.  Without root or user namespaces only the session kill,
rlimits and the socket guard remain -- check ``SandboxResult.isolation``.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import PurePosixPath

__all__ = [
    "SandboxError",
    "SandboxLimits",
    "SandboxResult",
    "arun_python",
    "run_python",
]

STATUSES = ("ok", "error", "timeout", "memory", "output_limit", "killed")

_BOOT_FLAG = "--mastune-sandbox-bootstrap"
_THIS_FILE = os.path.abspath(__file__)
_SCRIPT_NAME = "main.py"
# After the program exits, how long we keep reading pipes still held open by
# leftovers before killing them (only matters without a PID namespace).
_DRAIN_GRACE_S = 0.5
# Fallback hooks for tests: names of mechanisms the bootstrap must not use.
_DISABLED_MECHANISMS: frozenset[str] = frozenset()


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the code under test)."""


@dataclass(frozen=True)
class SandboxLimits:
    timeout_s: float = 10.0  # wall clock
    cpu_s: float | None = None  # RLIMIT_CPU; default ceil(timeout_s) + 1
    memory_mb: int = 512  # RLIMIT_AS
    max_output_bytes: int = 1_000_000  # per stream; beyond it the run is killed
    max_processes: int = 64  # RLIMIT_NPROC (enforced only after dropping root)
    max_file_mb: int = 16  # RLIMIT_FSIZE; also sizes the private tmpfs mounts

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise ValueError("timeout_s must be > 0")
        if self.cpu_s is not None and not self.cpu_s > 0:
            raise ValueError("cpu_s must be > 0")
        for name in ("memory_mb", "max_output_bytes", "max_processes", "max_file_mb"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")

    @property
    def effective_cpu_s(self) -> int:
        if self.cpu_s is None:
            return math.ceil(self.timeout_s) + 1
        return max(1, math.ceil(self.cpu_s))


@dataclass(frozen=True)
class SandboxResult:
    status: str  # one of STATUSES
    returncode: int | None  # None when we had to kill it; -N for signal N
    stdout: str
    stderr: str
    duration_s: float
    isolation: tuple[str, ...] = ()  # mechanisms actually applied (see module doc)
    sandbox_uid: int | None = None  # uid the code ran as, when privileges were dropped

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# --------------------------------------------------------------------------- parent side

_uid_lock = threading.Lock()
_active_uids: set[int] = set()


def _mapped_ranges(path: str) -> list[tuple[int, int]]:
    try:
        with open(path) as f:
            rows = [line.split() for line in f if line.strip()]
    except OSError:
        return [(0, 2**32 - 1)]
    return [(int(inside), int(inside) + int(count)) for inside, _outside, count in rows]


def _allocate_uid() -> int | None:
    """A random uid/gid nobody uses, so NPROC and kill scans count only this sandbox."""
    preferred = (2_000_000_000, 2_100_000_000)  # far above any real account
    fallback = (200_000, 1_000_000)
    maps = _mapped_ranges("/proc/self/uid_map")
    gmaps = _mapped_ranges("/proc/self/gid_map")

    def fits(lo: int, hi: int) -> bool:
        return any(a <= lo and hi <= b for a, b in maps) and any(a <= lo and hi <= b for a, b in gmaps)

    for lo, hi in (preferred, fallback):
        if fits(lo, hi):
            with _uid_lock:
                while True:
                    uid = lo + secrets.randbelow(hi - lo)
                    if uid not in _active_uids:
                        _active_uids.add(uid)
                        return uid
    return None  # e.g. a small user-namespace map: no safe unused id


def _release_uid(uid: int | None) -> None:
    if uid is not None:
        with _uid_lock:
            _active_uids.discard(uid)


def _safe_relpath(name: str) -> str:
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ValueError(f"invalid sandbox file name: {name!r}")
    p = PurePosixPath(name)
    parts = [x for x in p.parts if x != "."]
    if p.is_absolute() or not parts or ".." in parts:
        raise ValueError(f"sandbox file names must be relative, without '..': {name!r}")
    rel = "/".join(parts)
    if rel == _SCRIPT_NAME:
        raise ValueError(f"{_SCRIPT_NAME!r} is reserved for the code itself")
    return rel


def _stage(workdir: str, code: str, files: dict[str, str | bytes] | None) -> int:
    """Write the files (we are possibly root: no symlink following). Returns bytes."""
    entries: list[tuple[str, bytes]] = [(_SCRIPT_NAME, code.encode("utf-8"))]
    for name, data in (files or {}).items():
        rel = _safe_relpath(name)
        entries.append((rel, data.encode("utf-8") if isinstance(data, str) else bytes(data)))
    total = 0
    for rel, data in entries:
        path = os.path.join(workdir, rel)
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        total += len(data)
    return total


def _python_paths() -> list[str]:
    """Directories the sandboxed interpreter must be able to reach."""
    cands = {
        os.path.realpath(p)
        for p in (sys.base_prefix, sys.prefix, sys.exec_prefix, sys.base_exec_prefix)
    }
    cands.add(os.path.dirname(os.path.realpath(sys.executable)))
    cands.add(os.path.dirname(os.path.abspath(sys.executable)))
    keep = sorted(cands, key=len)
    out: list[str] = []
    for p in keep:
        if not any(p == q or p.startswith(q.rstrip("/") + "/") for q in out):
            out.append(p)
    return out


def _clean_env(home: str) -> dict[str, str]:
    bindir = os.path.dirname(os.path.abspath(sys.executable))
    return {
        "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "USER": "sandbox",  # getpass.getuser() would fail for an unnamed uid
        "LOGNAME": "sandbox",
        "PYTHONHASHSEED": "0",
        "PYTHONUNBUFFERED": "1",  # keep partial output when a run is killed
        "PYTHONDONTWRITEBYTECODE": "1",
        # one BLAS/OpenMP thread: fits RLIMIT_AS/NPROC and concurrent sandboxes
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


@dataclass(frozen=True)
class _Proc:
    pid: int
    ppid: int
    pgid: int
    uids: frozenset[int]  # real, effective, saved, fs


def _proc_info(pid: int) -> _Proc | None:
    """Live process info from /proc; None for zombies and vanished pids."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat_line = f.read()
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
    except OSError:
        return None
    fields = stat_line[stat_line.rindex(b")") + 2 :].split()  # comm may hold spaces
    if fields[0] in (b"Z", b"X"):
        return None
    uids = next((line.split()[1:] for line in status.splitlines() if line.startswith("Uid:")), [])
    return _Proc(pid, int(fields[1]), int(fields[2]), frozenset(int(u) for u in uids))


def _scan(pred) -> list[_Proc]:
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    out = []
    for name in names:
        if name.isdigit():
            info = _proc_info(int(name))
            if info is not None and pred(info):
                out.append(info)
    return out


def pids_of_uid(uid: int) -> list[int]:
    """Live (non-zombie) processes having ``uid`` among their uids."""
    return [p.pid for p in _scan(lambda p: uid in p.uids)]


def _kill_matching(pred) -> int:
    """SIGKILL every live process matching ``pred``; returns how many matched.

    The pidfd pins the identity and ``pred`` is re-checked through it, so a
    recycled pid is never hit."""
    victims = _scan(pred)
    for v in victims:
        try:
            pfd = os.pidfd_open(v.pid)
        except OSError:
            continue
        try:
            again = _proc_info(v.pid)
            if again is not None and pred(again):
                signal.pidfd_send_signal(pfd, signal.SIGKILL)
        except OSError:
            pass
        finally:
            os.close(pfd)
    return len(victims)


def _sweep_uid(uid: int, budget_s: float = 3.0) -> None:
    """Kill every process of the sandbox uid until none is left (setsid() escapees)."""
    end = time.monotonic() + budget_s
    while _kill_matching(lambda p: uid in p.uids) and time.monotonic() < end:
        time.sleep(0.01)


def _stop_tree(proc: subprocess.Popen, uid: int | None) -> None:
    """Kill everything below the bootstrap, let it reap, then kill the group.

    Killing the bootstrap last keeps it alive as the reaper of the dying
    processes (no zombies left to a non-reaping init)."""
    boot = proc.pid

    def below(p: _Proc) -> bool:
        return p.pid != boot and (p.pgid == boot or (uid is not None and uid in p.uids))

    end = time.monotonic() + 1.0
    while not _exited(boot) and time.monotonic() < end:
        _kill_matching(below)
        time.sleep(0.01)


_warned: set[str] = set()


def _warn_once(msg: str) -> None:
    if msg not in _warned:
        _warned.add(msg)
        import logging

        logging.getLogger(__name__).warning(msg)


def _exited(pid: int) -> bool:
    """True once the child has exited, without reaping it (its pid stays ours)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


_MEMORY_RE = re.compile(r"MemoryError|Cannot allocate memory|out of memory|std::bad_alloc", re.I)


def _ran_out_of_memory(stderr: bytes) -> bool:
    # Only the end of stderr: where the fatal traceback / runtime message is,
    # so a harness merely printing "MemoryError" earlier is not misread.
    tail = stderr[-4096:].decode("utf-8", "replace").strip().splitlines()[-3:]
    return any(_MEMORY_RE.search(line) for line in tail)


def _classify(ws: int, stderr: bytes) -> tuple[str, int]:
    if os.WIFEXITED(ws):
        rc = os.WEXITSTATUS(ws)
        if rc == 0:
            return "ok", 0
        return ("memory" if _ran_out_of_memory(stderr) else "error"), rc
    sig = os.WTERMSIG(ws)
    if sig == signal.SIGXCPU:  # RLIMIT_CPU
        return "timeout", -sig
    if sig in (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS) and _ran_out_of_memory(stderr):
        return "memory", -sig
    return "killed", -sig


def _read_status(fd: int) -> list[dict]:
    chunks = []
    os.set_blocking(fd, False)
    while True:
        try:
            b = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not b:
            break
        chunks.append(b)
    msgs = []
    for line in b"".join(chunks).splitlines():
        try:
            msgs.append(json.loads(line))
        except ValueError:
            pass
    return msgs


def _run(
    code: str,
    stdin: str | None,
    files: dict[str, str | bytes] | None,
    limits: SandboxLimits,
    cancel: threading.Event | None = None,
) -> SandboxResult:
    if not isinstance(code, str):
        raise TypeError("code must be str")
    is_root = os.geteuid() == 0
    staging = tempfile.mkdtemp(prefix="mastune-sbx-")
    uid: int | None = None
    proc: subprocess.Popen | None = None
    status_r = status_w = -1
    stdin_f = None
    sel = selectors.DefaultSelector()
    pidfd = -1
    try:
        os.chmod(staging, 0o700)
        staged_bytes = _stage(staging, code, files)
        if stdin is not None:
            # a file, not a pipe: no writer thread, no deadlock on big inputs
            stdin_f = tempfile.TemporaryFile()
            stdin_f.write(stdin.encode("utf-8"))
            stdin_f.seek(0)
        uid = _allocate_uid() if is_root else None
        status_r, status_w = os.pipe()
        scratch_mb = max(64, 4 * limits.max_file_mb)
        cfg = {
            "workdir": staging,
            "script": _SCRIPT_NAME,
            "uid": uid,
            "ppid": os.getpid(),
            "status_fd": status_w,
            "python": sys.executable,
            "expose": _python_paths(),
            "scratch_kb": scratch_mb * 1024,
            "work_kb": scratch_mb * 1024 + staged_bytes // 1024 + 1024,
            "memory_mb": limits.memory_mb,
            "cpu_s": limits.effective_cpu_s,
            "file_mb": limits.max_file_mb,
            "nproc": limits.max_processes,
            "disabled": sorted(_DISABLED_MECHANISMS),
        }
        start = time.monotonic()
        deadline = start + limits.timeout_s
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", _THIS_FILE, _BOOT_FLAG, json.dumps(cfg)],
            stdin=stdin_f if stdin_f is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_clean_env(staging),
            cwd=staging,
            start_new_session=True,
            pass_fds=(status_w,),
        )
        os.close(status_w)
        status_w = -1

        bufs = {"out": bytearray(), "err": bytearray()}
        for f, name in ((proc.stdout, "out"), (proc.stderr, "err")):
            os.set_blocking(f.fileno(), False)
            sel.register(f.fileno(), selectors.EVENT_READ, name)
        try:
            pidfd = os.pidfd_open(proc.pid)
            sel.register(pidfd, selectors.EVENT_READ, "exit")
        except (AttributeError, OSError):
            pidfd = -1  # no pidfd: poll for exit below
        cap = limits.max_output_bytes
        reason: str | None = None
        exited_at: float | None = None
        while reason is None:
            now = time.monotonic()
            if exited_at is None and pidfd < 0 and _exited(proc.pid):
                exited_at = now
            streams_open = any(k.data in ("out", "err") for k in sel.get_map().values())
            if exited_at is not None and (not streams_open or now - exited_at > _DRAIN_GRACE_S):
                break
            if cancel is not None and cancel.is_set():
                reason = "cancelled"
                break
            if now >= deadline:
                reason = "timeout"
                break
            wait = min(deadline - now, 0.1)
            if exited_at is not None:
                wait = min(wait, exited_at + _DRAIN_GRACE_S - now)
            if sel.get_map():
                events = sel.select(max(wait, 0.0))
            else:  # only without pidfd, after both streams closed
                time.sleep(max(wait, 0.0))
                events = []
            for key, _ in events:
                if key.data == "exit":
                    sel.unregister(key.fd)
                    exited_at = time.monotonic()
                    continue
                try:
                    chunk = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    sel.unregister(key.fd)
                    continue
                buf = bufs[key.data]
                room = cap - len(buf)
                if len(chunk) > room:
                    buf += chunk[:room]
                    reason = "output_limit"
                    break
                buf += chunk
        duration = time.monotonic() - start

        # Whatever happened, nothing of this run may outlive the call.
        if reason is not None:
            _stop_tree(proc, uid)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # pgid == bootstrap pid (not reaped yet)
        except ProcessLookupError:
            pass
        proc.wait()
        msgs = _read_status(status_r)
        info = next((m for m in msgs if "iso" in m), {})
        iso = tuple(info.get("iso", ()))
        dropped_uid = info.get("uid")
        if is_root and iso and "uid" not in iso:
            _warn_once("running sandboxed code as root: the interpreter is not reachable for an unprivileged uid here")
        if uid is not None:
            # Cheap when the PID namespace already took everything down;
            # essential without one (setsid() escapees, orphans).
            _sweep_uid(uid)
        fatal = next((m["fatal"] for m in msgs if "fatal" in m), None)
        if fatal and reason is None:
            raise SandboxError(f"sandbox setup failed: {fatal}\n{bytes(bufs['err']).decode('utf-8', 'replace')}")
        if reason is not None:
            status, rc = ("killed" if reason == "cancelled" else reason), None
        else:
            ws = next((m["wait"] for m in msgs if "wait" in m), None)
            if ws is None:
                raise SandboxError(
                    f"sandbox supervisor died (exit {proc.returncode}): "
                    + bytes(bufs["err"][-2000:]).decode("utf-8", "replace")
                )
            status, rc = _classify(ws, bytes(bufs["err"]))
        return SandboxResult(
            status=status,
            returncode=rc,
            stdout=bytes(bufs["out"]).decode("utf-8", "replace"),
            stderr=bytes(bufs["err"]).decode("utf-8", "replace"),
            duration_s=duration,
            isolation=iso,
            sandbox_uid=dropped_uid,
        )
    finally:
        if proc is not None and proc.returncode is None:  # exception path
            _stop_tree(proc, uid)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            if uid is not None:
                _sweep_uid(uid)
        sel.close()
        for fd in (pidfd, status_r, status_w):
            if fd >= 0:
                os.close(fd)
        if proc is not None:
            proc.stdout.close()
            proc.stderr.close()
        if stdin_f is not None:
            stdin_f.close()
        _release_uid(uid)
        shutil.rmtree(staging, ignore_errors=True)


def run_python(
    code: str,
    *,
    stdin: str | None = None,
    files: dict[str, str | bytes] | None = None,
    limits: SandboxLimits = SandboxLimits(),
) -> SandboxResult:
    """Run ``code`` as ``main.py`` in a fresh sandbox; ``files`` are staged next to it.

    Blocks until the program ends or a limit is hit; never raises for anything
    the code does (only :class:`SandboxError` if the sandbox itself breaks)."""
    return _run(code, stdin, files, limits)


_executor = None
_executor_lock = threading.Lock()


def _get_executor():
    global _executor
    with _executor_lock:
        if _executor is None:
            from concurrent.futures import ThreadPoolExecutor

            # each worker only waits on pipes; callers bound concurrency themselves
            _executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="mastune-sandbox")
        return _executor


async def arun_python(
    code: str,
    *,
    stdin: str | None = None,
    files: dict[str, str | bytes] | None = None,
    limits: SandboxLimits = SandboxLimits(),
) -> SandboxResult:
    """Non-blocking :func:`run_python`; cancelling the task kills the sandbox."""
    import asyncio

    cancel = threading.Event()
    loop = asyncio.get_running_loop()
    fut = loop.run_in_executor(_get_executor(), _run, code, stdin, files, limits, cancel)
    try:
        return await asyncio.shield(fut)
    except asyncio.CancelledError:
        cancel.set()
        try:
            await fut  # wait for the kill + cleanup (<~0.2 s)
        except Exception:
            pass
        raise


# --------------------------------------------------------------------------- bootstrap
# Everything below runs in the bootstrap process (this file executed as a
# script), never in the library process.

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNET = 0x40000000
_MS_NOSUID, _MS_NODEV = 2, 4
_MS_BIND, _MS_REC, _MS_PRIVATE = 4096, 16384, 1 << 18
_MS_NOEXEC = 8
_PR_SET_PDEATHSIG, _PR_SET_CHILD_SUBREAPER, _PR_SET_NO_NEW_PRIVS = 1, 36, 38

_GUARD_SRC = r"""
import socket as _s, sys as _sys, runpy as _runpy
_Base = _s.socket
def _deny():
    raise PermissionError(1, "network access is disabled in the mastune sandbox")
class _GuardedSocket(_Base):
    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        fam = _s.AF_INET if family == -1 else family
        if fileno is None and fam != _s.AF_UNIX:  # AF_UNIX: asyncio self-pipes
            _deny()
        super().__init__(family, type, proto, fileno)
_s.socket = _s.SocketType = _GuardedSocket
_sys.argv = _sys.argv[1:]
_runpy.run_path(_sys.argv[0], run_name="__main__")
"""


class _Libc:
    def __init__(self) -> None:
        import ctypes

        self.ctypes = ctypes
        self.lib = ctypes.CDLL(None, use_errno=True)
        self.lib.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
        self.lib.unshare.argtypes = [ctypes.c_int]
        self.lib.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4

    def _check(self, rc: int, what: str) -> None:
        if rc != 0:
            err = self.ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}")

    def unshare(self, flags: int) -> bool:
        return self.lib.unshare(flags) == 0

    def mount(self, src: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
        enc = lambda s: None if s is None else s.encode()  # noqa: E731
        self._check(self.lib.mount(enc(src), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")

    def prctl(self, option: int, arg: int = 0) -> bool:
        return self.lib.prctl(option, arg, 0, 0, 0) == 0


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _blocking_ancestor(path: str) -> str | None:
    """First directory on the way to ``path`` that 'others' cannot traverse."""
    cur = "/"
    for part in PurePosixPath(path).parts[1:]:
        if not os.stat(cur).st_mode & stat.S_IXOTH:
            return cur
        cur = os.path.join(cur, part)
    return None if os.stat(cur).st_mode & stat.S_IXOTH else cur


# Top-level directories the OS (and so any interpreter) needs; everything else under
# "/" is masked. nix/gnu: store-based distros keep every shared library there.
_OS_TOPS = frozenset({"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "dev", "proc", "sys", "run",
                      "var", "tmp", "nix", "gnu"})


def _masked_tops() -> list[str]:
    out = []
    for name in sorted(os.listdir("/")):
        d = "/" + name
        if name not in _OS_TOPS and os.path.isdir(d) and not os.path.islink(d):
            out.append(d)
    return out


def _setup_mounts(libc: _Libc, cfg: dict, owner: int, staging_fd: int) -> str:
    """Private view of the filesystem; returns the working directory to use."""
    libc.mount(None, "/", None, _MS_REC | _MS_PRIVATE, None)  # never leak mounts to the host
    expose = cfg["expose"]
    # masked dirs: homes, non-OS top-level dirs, anything blocking access to the interpreter
    hides: dict[str, str] = {}
    for d in _masked_tops():
        hides[d] = "size=1024k,mode=0755"
    for p in expose:
        a = _blocking_ancestor(p)
        if a and a != p and a != "/":
            hides[a] = "size=1024k,mode=0755"
    for d in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock"):
        if os.path.isdir(d) and not os.path.islink(d):
            kb = cfg["scratch_kb"] if d == "/tmp" else cfg["file_mb"] * 1024
            hides[d] = f"size={kb}k,mode=1777"
    tops = [h for h in sorted(hides, key=len) if not any(h != o and _under(h, o) for o in hides)]
    fds = {p: os.open(p, os.O_RDONLY | os.O_DIRECTORY) for p in expose}
    try:
        for h in tops:
            libc.mount("tmpfs", h, "tmpfs", _MS_NOSUID | _MS_NODEV, hides[h])
            for p in expose:
                if _under(p, h):
                    os.makedirs(p, mode=0o755, exist_ok=True)
                    os.fchdir(fds[p])  # "." still names the real directory
                    libc.mount(".", p, None, _MS_BIND | _MS_REC, None)
    finally:
        for fd in fds.values():
            os.close(fd)
    work = cfg["workdir"]
    os.makedirs(work, mode=0o755, exist_ok=True)  # may now live inside the new /tmp
    libc.mount(
        "tmpfs", work, "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={cfg['work_kb']}k,mode=0700,uid={owner},gid={owner}"
    )
    os.fchdir(staging_fd)
    shutil.copytree(".", work, symlinks=True, dirs_exist_ok=True)
    _chown_tree(work, owner)
    return work


def _chown_tree(top: str, owner: int) -> None:
    for dirpath, dirnames, filenames in os.walk(top):
        os.chown(dirpath, owner, owner, follow_symlinks=False)
        for n in dirnames + filenames:
            os.chown(os.path.join(dirpath, n), owner, owner, follow_symlinks=False)


def _report(fd: int, msg: dict) -> None:
    os.write(fd, (json.dumps(msg) + "\n").encode())


def _count_tasks_of(uid: int) -> int:
    n = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    n += len(os.listdir(f"/proc/{name}/task"))
            except OSError:
                pass
    return n


def _exec_user(libc: _Libc, cfg: dict, st: dict) -> None:
    """Child: apply limits, drop privileges, exec the interpreter. Never returns."""
    fd = cfg["status_fd"]
    try:
        import resource

        iso = list(st["iso"])
        mib = 1024 * 1024
        nproc = cfg["nproc"]
        if not st["drop"] and os.geteuid() != 0:
            # Same uid as the caller: NPROC counts all of its tasks unless a
            # user namespace scopes the count (kernel >= 5.14).
            rel = tuple(int(x) for x in re.findall(r"\d+", os.uname().release)[:2])
            if not ("userns" in iso and rel >= (5, 14)):
                nproc += _count_tasks_of(os.getuid())
        for res, val in (
            (resource.RLIMIT_AS, cfg["memory_mb"] * mib),
            (resource.RLIMIT_CPU, (cfg["cpu_s"], cfg["cpu_s"] + 1)),
            (resource.RLIMIT_FSIZE, cfg["file_mb"] * mib),
            (resource.RLIMIT_NPROC, nproc),
            (resource.RLIMIT_CORE, 0),
            (resource.RLIMIT_NOFILE, 1024),
        ):
            soft, hard = val if isinstance(val, tuple) else (val, val)
            cur_hard = resource.getrlimit(res)[1]
            if cur_hard != resource.RLIM_INFINITY:
                soft, hard = min(soft, cur_hard), min(hard, cur_hard)
            resource.setrlimit(res, (soft, hard))
        iso.append("rlimits")
        if st["drop"]:
            uid = cfg["uid"]
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            if os.getresuid() != (uid, uid, uid) or os.getresgid() != (uid, uid, uid):
                raise OSError("privilege drop did not take")
            iso.append("uid")
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1):
            iso.append("no_new_privs")
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # after setuid, which clears it
        python = cfg["python"]
        script = os.path.join(st["workdir"], cfg["script"])
        if "netns" in iso:
            argv = [python, "-s", script]
        else:
            argv = [python, "-s", "-c", _GUARD_SRC, script]
            iso.append("socket_guard")
        os.chdir(st["workdir"])
        _report(fd, {"iso": iso, "uid": cfg["uid"] if st["drop"] else None})
        os.close(fd)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # normal exec-time dispositions
        os.execve(python, argv, dict(os.environ))
    except BaseException as e:  # noqa: BLE001 - must never fall back into the caller
        try:
            _report(fd, {"fatal": f"{type(e).__name__}: {e}"})
        finally:
            os._exit(126)


def _supervise(libc: _Libc, cfg: dict, st: dict) -> None:
    """Fork the user program, reap everything until it exits, report its status."""
    child = os.fork()
    if child == 0:
        _exec_user(libc, cfg, st)
    while True:
        try:
            pid, ws = os.wait()
        except ChildProcessError:
            _report(cfg["status_fd"], {"fatal": "user process vanished"})
            return
        if pid == child:
            _report(cfg["status_fd"], {"wait": ws})
            return


def _reap_leftovers(uid: int | None, budget_s: float = 2.0) -> None:
    """Without a PID namespace: kill what the program left behind and reap it.

    As child subreaper we inherit every orphan of the tree, so leftovers are
    our children, our process group, or (after a privilege drop) the uid."""
    me = os.getpid()

    def leftover(p: _Proc) -> bool:
        return p.pid != me and (p.ppid == me or p.pgid == me or (uid is not None and uid in p.uids))

    end = time.monotonic() + budget_s
    while True:
        found = _kill_matching(leftover)
        children = True
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                children = False
                break
            if pid == 0:
                break
        if (not found and not children) or time.monotonic() > end:
            return
        time.sleep(0.01)


def _bootstrap_main(cfg: dict) -> None:
    fd = cfg["status_fd"]
    try:
        os.umask(0o022)
        libc = _Libc()
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # library dies -> sandbox dies
        if os.getppid() != cfg["ppid"]:
            os._exit(125)
        disabled = set(cfg["disabled"])
        staging = cfg["workdir"]
        staging_fd = os.open(staging, os.O_RDONLY | os.O_DIRECTORY)
        iso = ["session"]
        is_root = os.geteuid() == 0
        net = mnt = pid = False
        if is_root:
            net = "netns" not in disabled and libc.unshare(_CLONE_NEWNET)
            mnt = "mntns" not in disabled and libc.unshare(_CLONE_NEWNS)
            pid = "pidns" not in disabled and libc.unshare(_CLONE_NEWPID)
        elif "userns" not in disabled:
            uid, gid = os.getuid(), os.getgid()
            flags = _CLONE_NEWUSER
            for name, flag in (("netns", _CLONE_NEWNET), ("mntns", _CLONE_NEWNS), ("pidns", _CLONE_NEWPID)):
                if name not in disabled:
                    flags |= flag
            if libc.unshare(flags):
                for path, text in (
                    ("/proc/self/setgroups", "deny"),
                    ("/proc/self/uid_map", f"{uid} {uid} 1"),
                    ("/proc/self/gid_map", f"{gid} {gid} 1"),
                ):
                    with open(path, "w") as f:
                        f.write(text)
                iso.append("userns")
                net, mnt, pid = bool(flags & _CLONE_NEWNET), bool(flags & _CLONE_NEWNS), bool(flags & _CLONE_NEWPID)
        if net:
            iso.append("netns")
        want_drop = is_root and cfg["uid"] is not None
        owner = cfg["uid"] if want_drop else os.getuid()
        workdir = staging
        if mnt:
            workdir = _setup_mounts(libc, cfg, owner, staging_fd)
            iso.append("mntns")
        # Drop root only if the interpreter stays reachable for the new uid;
        # otherwise keep running as root (reported: no "uid" in isolation).
        drop = want_drop and all(_blocking_ancestor(p) is None for p in cfg["expose"])
        if drop and not mnt:
            _chown_tree(staging, owner)
        os.close(staging_fd)
        os.chdir(workdir)
        st = {"iso": iso, "drop": drop, "workdir": workdir}
        if pid:
            init = os.fork()
            if init == 0:
                # PID 1 of the new namespace: its exit kills everything in it.
                try:
                    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
                    st["iso"] = iso + ["pidns"]
                    if mnt:
                        try:  # hide host processes; harmless if refused
                            libc.mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, None)
                        except OSError:
                            pass
                    _supervise(libc, cfg, st)
                except BaseException as e:  # noqa: BLE001
                    _report(fd, {"fatal": f"init: {type(e).__name__}: {e}"})
                os._exit(0)
            os.waitpid(init, 0)
        else:
            libc.prctl(_PR_SET_CHILD_SUBREAPER, 1)  # orphans come to us and get reaped
            _supervise(libc, cfg, st)
            _reap_leftovers(cfg["uid"] if drop else None)
    except BaseException as e:  # noqa: BLE001
        import traceback

        try:
            _report(fd, {"fatal": f"{type(e).__name__}: {e}\n{traceback.format_exc()}"})
        finally:
            os._exit(125)
    os._exit(0)


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == _BOOT_FLAG:
    _bootstrap_main(json.loads(sys.argv[2]))
