"""Finding and killing processes through /proc (stdlib only).

Used by the host side (final sweep of a sandbox uid) and by the bootstrap
(reaping leftovers when there is no PID namespace), so it must not import
anything of mastune: the bootstrap loads it by file path.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgid: int
    uids: frozenset[int]  # real, effective, saved, fs


def proc_info(pid: int) -> Proc | None:
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
    return Proc(pid, int(fields[1]), int(fields[2]), frozenset(int(u) for u in uids))


def scan(pred) -> list[Proc]:
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    out = []
    for name in names:
        if name.isdigit():
            info = proc_info(int(name))
            if info is not None and pred(info):
                out.append(info)
    return out


def pids_of_uid(uid: int) -> list[int]:
    """Live (non-zombie) processes having ``uid`` among their uids."""
    return [p.pid for p in scan(lambda p: uid in p.uids)]


def kill_matching(pred) -> int:
    """SIGKILL every live process matching ``pred``; returns how many matched.

    The pidfd pins the identity and ``pred`` is re-checked through it, so a
    recycled pid is never hit."""
    victims = scan(pred)
    for v in victims:
        try:
            pfd = os.pidfd_open(v.pid)
        except OSError:
            continue
        try:
            again = proc_info(v.pid)
            if again is not None and pred(again):
                signal.pidfd_send_signal(pfd, signal.SIGKILL)
        except OSError:
            pass
        finally:
            os.close(pfd)
    return len(victims)


def sweep_uid(uid: int, budget_s: float = 3.0) -> None:
    """Kill every process of the sandbox uid until none is left (setsid() escapees)."""
    end = time.monotonic() + budget_s
    while kill_matching(lambda p: uid in p.uids) and time.monotonic() < end:
        time.sleep(0.01)



def exited(pid: int) -> bool:
    """True once the child has exited, without reaping it (its pid stays ours)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True

