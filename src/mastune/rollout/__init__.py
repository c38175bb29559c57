"""Rollouts: one primitive (`rollout`) and the runners that run many of them (local, Ray)."""
from .choose import RUNNERS, make_runner, open_runner
from .ray_runner import RayRunner, StaleVersion, WorkerLost
from .rollout import Rollout, rollout
from .runner import Job, LocalRunner, Runner

__all__ = ["Job", "LocalRunner", "RUNNERS", "RayRunner", "Rollout", "Runner", "StaleVersion", "WorkerLost",
           "make_runner", "open_runner", "rollout"]
