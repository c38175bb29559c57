"""Sandbox limits and results: the types both sides of the sandbox agree on."""

from __future__ import annotations

import math
from dataclasses import dataclass

STATUSES = ("ok", "error", "timeout", "memory", "output_limit", "killed")


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
    max_files: int = 10_000  # inodes per private tmpfs (nr_inodes): bounds kernel memory for files

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise ValueError("timeout_s must be > 0")
        if self.cpu_s is not None and not self.cpu_s > 0:
            raise ValueError("cpu_s must be > 0")
        for name in ("memory_mb", "max_output_bytes", "max_processes", "max_file_mb", "max_files"):
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

