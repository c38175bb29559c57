"""The sandbox bootstrap: runs as a script (``python -I -S bootstrap.py FLAG CFG``).

Never imported by the library process. It builds the namespaces, the private
filesystem view and the limits described in :mod:`mastune.sandbox`, then forks
the user program and reports how it ended on the status fd.

Process layout: library -> bootstrap (as root if we are root) -> [pid-namespace
init, reaps] -> user program. The bootstrap and the init make themselves
non-dumpable and drop their copies of stdin/stdout/stderr once the user program
runs, so code in the sandbox can neither reach those pipes through
``/proc/PID/fd`` nor ptrace a process that holds them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import stat
import sys
import time
from pathlib import PurePosixPath

BOOT_FLAG = "--mastune-sandbox-bootstrap"


def _load_procs():
    # By file path: with -I -S the package is not importable, and must not be.
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "procs.py")
    spec = importlib.util.spec_from_file_location("mastune_sandbox_procs", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up here
    spec.loader.exec_module(mod)
    return mod



_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNET = 0x40000000
_MS_NOSUID, _MS_NODEV = 2, 4
_MS_BIND, _MS_REC, _MS_PRIVATE = 4096, 16384, 1 << 18
_MS_NOEXEC = 8
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_SET_CHILD_SUBREAPER, _PR_SET_NO_NEW_PRIVS = 1, 4, 36, 38
_MS_RDONLY, _MS_REMOUNT = 1, 32

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
# "/" is masked, and so is /run (host daemons' sockets and state live there).
# nix/gnu: store-based distros keep every shared library there.
_OS_TOPS = frozenset({"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "dev", "proc", "sys",
                      "var", "tmp", "nix", "gnu"})
_MASK_OPTS = "size=1024k,nr_inodes=256,mode=0755"


def _masked_tops() -> list[str]:
    out = []
    for name in sorted(os.listdir("/")):
        d = "/" + name
        if name not in _OS_TOPS and os.path.isdir(d) and not os.path.islink(d):
            out.append(d)
    return out


def _top_files() -> list[str]:
    """Plain files (and sockets, fifos, ...) right under "/": each is covered by an empty one."""
    out = []
    for name in sorted(os.listdir("/")):
        d = "/" + name
        if not os.path.islink(d) and not os.path.isdir(d):
            out.append(d)
    return out


def _read_only(libc: _Libc, path: str) -> None:
    try:  # refused for some bind mounts in a user namespace: then it stays as it was
        libc.mount(None, path, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV, None)
    except OSError:
        pass


def _setup_mounts(libc: _Libc, cfg: dict, owner: int, staging_fd: int) -> str:
    """Private view of the filesystem; returns the working directory to use."""
    libc.mount(None, "/", None, _MS_REC | _MS_PRIVATE, None)  # never leak mounts to the host
    expose = cfg["expose"]
    inodes = cfg["max_files"]
    # masked dirs: homes, non-OS top-level dirs, /run, paths the host asks to hide,
    # anything blocking access to the interpreter
    hides: dict[str, str] = {}
    for d in _masked_tops() + ["/run"] + list(cfg.get("hide") or ()):
        if os.path.isdir(d) and not os.path.islink(d) and d != "/":
            hides[os.path.realpath(d)] = _MASK_OPTS
    for p in expose:
        a = _blocking_ancestor(p)
        if a and a != p and a != "/":
            hides[a] = _MASK_OPTS
    for d in ("/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(d) and not os.path.islink(d):
            kb = cfg["scratch_kb"] if d == "/tmp" else cfg["file_mb"] * 1024
            hides[d] = f"size={kb}k,nr_inodes={inodes},mode=1777"
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
                    _read_only(libc, p)  # a user-owned interpreter must not be changed from inside
    finally:
        for fd in fds.values():
            os.close(fd)
    for f in _top_files():
        libc.mount("/dev/null", f, None, _MS_BIND, None)
        _read_only(libc, f)
    _mask_still_visible(libc, cfg.get("hide") or (), set(tops))
    work = cfg["workdir"]
    os.makedirs(work, mode=0o755, exist_ok=True)  # may now live inside the new /tmp
    libc.mount("tmpfs", work, "tmpfs", _MS_NOSUID | _MS_NODEV,
               f"size={cfg['work_kb']}k,nr_inodes={inodes + cfg['staged_files'] + 16},mode=0700,uid={owner},gid={owner}")
    os.fchdir(staging_fd)
    shutil.copytree(".", work, symlinks=True, dirs_exist_ok=True)
    _chown_tree(work, owner)
    return work


def _mask_still_visible(libc: _Libc, paths, done: set) -> None:
    """Paths the host asked to hide that the view still shows (inside a directory bound back
    for the interpreter, or under no masked directory): a directory gets an empty tmpfs, a
    file /dev/null. A mount that fails is fatal: grading never runs with them readable."""
    for h in paths:
        if h in done or not os.path.lexists(h):
            continue  # masked already, or gone with a masked parent
        if os.path.islink(h):
            raise OSError(f"cannot mask {h}: it is a symbolic link")
        if os.path.isdir(h):
            libc.mount("tmpfs", h, "tmpfs", _MS_NOSUID | _MS_NODEV, _MASK_OPTS)
        else:
            libc.mount("/dev/null", h, None, _MS_BIND, None)
            _read_only(libc, h)


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


def _hide_self(libc: _Libc) -> None:
    """Before forking the user program: no same-uid process may open our fds or ptrace us."""
    if not libc.prctl(_PR_SET_DUMPABLE, 0):
        raise OSError("prctl(PR_SET_DUMPABLE, 0) failed")


def _drop_stdio() -> None:
    """After forking: only the user program holds the output pipes to the library."""
    null = os.open(os.devnull, os.O_RDWR)
    for n in (0, 1, 2):
        os.dup2(null, n)
    os.close(null)


def _supervise(libc: _Libc, cfg: dict, st: dict) -> None:
    """Fork the user program, reap everything until it exits, report its status."""
    _hide_self(libc)
    child = os.fork()
    if child == 0:
        _exec_user(libc, cfg, st)
    _drop_stdio()
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

    def leftover(p) -> bool:
        return p.pid != me and (p.ppid == me or p.pgid == me or (uid is not None and uid in p.uids))

    end = time.monotonic() + budget_s
    while True:
        found = procs.kill_matching(leftover)
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
            _hide_self(libc)
            init = os.fork()
            if init == 0:
                # PID 1 of the new namespace: its exit kills everything in it.
                try:
                    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
                    st["iso"] = iso + ["pidns"]
                    if mnt:
                        try:  # hide host processes; harmless if refused (then no "procfs")
                            libc.mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, None)
                            st["iso"].append("procfs")
                        except OSError:
                            pass
                    _supervise(libc, cfg, st)
                except BaseException as e:  # noqa: BLE001
                    _report(fd, {"fatal": f"init: {type(e).__name__}: {e}"})
                os._exit(0)
            _drop_stdio()
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


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == BOOT_FLAG:
    procs = _load_procs()
    _bootstrap_main(json.loads(sys.argv[2]))
