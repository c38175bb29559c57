"""Rollouts: one primitive (`rollout`) and the runners that run many of them."""
from .rollout import Rollout, rollout
from .runner import Job, LocalRunner, Runner

__all__ = ["Job", "LocalRunner", "Rollout", "Runner", "rollout"]
