"""Host side of the sandbox: stage files, start the bootstrap, collect the outcome.

See :mod:`mastune.sandbox` for the isolation layers. This module runs in the
library process; everything inside the sandbox is done by ``bootstrap.py``
(started as a script, never imported here).
"""

from __future__ import annotations

import json
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
from pathlib import PurePosixPath
from typing import Sequence

from .limits import SandboxError, SandboxLimits, SandboxResult
from .procs import Proc, exited, kill_matching, sweep_uid

_BOOT_FLAG = "--mastune-sandbox-bootstrap"  # == bootstrap.BOOT_FLAG (not imported: it is a script)
_BOOTSTRAP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bootstrap.py")
_STAGING_PREFIX = "mastune-sbx-"
_SCRIPT_NAME = "main.py"
# After the program exits, how long we keep reading pipes still held open by
# leftovers before killing them (only matters without a PID namespace).
_DRAIN_GRACE_S = 0.5
# Fallback hooks for tests: names of mechanisms the bootstrap must not use.
_DISABLED_MECHANISMS: frozenset[str] = frozenset()

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


def _stage(workdir: str, code: str, files: dict[str, str | bytes] | None) -> tuple[int, int]:
    """Write the files (we are possibly root: no symlink following). Returns (bytes, inodes)."""
    # surrogatepass: text with lone surrogates (e.g. from a JSON reply) is staged as
    # bytes the interpreter then refuses, an error of the code, not of the sandbox
    entries: list[tuple[str, bytes]] = [(_SCRIPT_NAME, code.encode("utf-8", "surrogatepass"))]
    for name, data in (files or {}).items():
        rel = _safe_relpath(name)
        entries.append((rel, data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)))
    total = 0
    for rel, data in entries:
        path = os.path.join(workdir, rel)
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        total += len(data)
    inodes = sum(1 for _ in os.walk(workdir)) + len(entries)
    return total, inodes


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

def _stop_tree(proc: subprocess.Popen, uid: int | None) -> None:
    """Kill everything below the bootstrap, let it reap, then kill the group.

    Killing the bootstrap last keeps it alive as the reaper of the dying
    processes (no zombies left to a non-reaping init)."""
    boot = proc.pid

    def below(p: Proc) -> bool:
        return p.pid != boot and (p.pgid == boot or (uid is not None and uid in p.uids))

    end = time.monotonic() + 1.0
    while not exited(boot) and time.monotonic() < end:
        kill_matching(below)
        time.sleep(0.01)


_warned: set[str] = set()


def _warn_once(msg: str) -> None:
    if msg not in _warned:
        _warned.add(msg)
        import logging

        logging.getLogger(__name__).warning(msg)


def exited(pid: int) -> bool:
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


_STALE_RE = re.compile(re.escape(_STAGING_PREFIX) + r"(\d+)-")
_LEGACY_STALE_S = 3600.0  # names without a pid (older versions): removed once this old
_cleaned = False
_cleaned_lock = threading.Lock()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_staging(tmpdir: str | None = None) -> list[str]:
    """Remove staging folders left by killed processes (``kill -9`` during a run).

    A folder is stale when the pid in its name is gone (or, for names without a
    pid, when it is over an hour old) and it belongs to us. Returns what was removed."""
    top = tmpdir or tempfile.gettempdir()
    removed = []
    try:
        names = os.listdir(top)
    except OSError:
        return removed
    me = os.geteuid()
    for name in names:
        if not name.startswith(_STAGING_PREFIX):
            continue
        path = os.path.join(top, name)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != me:
            continue
        m = _STALE_RE.match(name)
        stale = (not _pid_alive(int(m.group(1)))) if m else (time.time() - st.st_mtime > _LEGACY_STALE_S)
        if stale:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _clean_once() -> None:
    global _cleaned
    with _cleaned_lock:
        if _cleaned:
            return
        _cleaned = True
    clean_stale_staging()


def _run(
    code: str,
    stdin: str | None,
    files: dict[str, str | bytes] | None,
    limits: SandboxLimits,
    cancel: threading.Event | None = None,
    hide: Sequence[str] = (),
) -> SandboxResult:
    if not isinstance(code, str):
        raise TypeError("code must be str")
    _clean_once()
    is_root = os.geteuid() == 0
    staging = tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}{os.getpid()}-")
    uid: int | None = None
    proc: subprocess.Popen | None = None
    status_r = status_w = -1
    stdin_f = None
    sel = selectors.DefaultSelector()
    pidfd = -1
    try:
        os.chmod(staging, 0o700)
        staged_bytes, staged_files = _stage(staging, code, files)
        if stdin is not None:
            # a file, not a pipe: no writer thread, no deadlock on big inputs
            stdin_f = tempfile.TemporaryFile()
            stdin_f.write(stdin.encode("utf-8", "surrogatepass"))
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
            "max_files": limits.max_files,
            "staged_files": staged_files,
            # resolved: the file itself is masked, whichever link or path leads to it
            "hide": sorted({os.path.realpath(h) for h in hide}),
            "disabled": sorted(_DISABLED_MECHANISMS),
        }
        start = time.monotonic()
        deadline = start + limits.timeout_s
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", _BOOTSTRAP, _BOOT_FLAG, json.dumps(cfg)],
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
            if exited_at is None and pidfd < 0 and exited(proc.pid):
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
            sweep_uid(uid)
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
                sweep_uid(uid)
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
    hide: Sequence[str] = (),
) -> SandboxResult:
    """Run ``code`` as ``main.py`` in a fresh sandbox; ``files`` are staged next to it.

    ``hide``: host directories or files to mask as well (with a mount namespace),
    wherever they are, e.g. a cache of expected outputs or a benchmark's data file
    under the Python prefix. Blocks until the program ends or a limit is hit;
    never raises for anything the code does (only :class:`SandboxError` if the
    sandbox itself breaks)."""
    return _run(code, stdin, files, limits, None, hide)


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
    hide: Sequence[str] = (),
) -> SandboxResult:
    """Non-blocking :func:`run_python`; cancelling the task kills the sandbox."""
    import asyncio

    cancel = threading.Event()
    loop = asyncio.get_running_loop()
    fut = loop.run_in_executor(_get_executor(), _run, code, stdin, files, limits, cancel, tuple(hide))
    try:
        return await asyncio.shield(fut)
    except asyncio.CancelledError:
        cancel.set()
        try:
            await fut  # wait for the kill + cleanup (<~0.2 s)
        except Exception:
            pass
        raise

