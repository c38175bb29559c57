"""TensorBoard scalars of a run (OUT/tb): train/* per step, eval/* at evaluations, node/* per adapter.

Uses tensorboardX (a small package: numpy + protobuf) when it is installed; without it the run
goes on and says once how to get the event files. A resumed run purges events past its state, so
the curves never show a step twice."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TRAIN_KEYS = ("reward", "accuracy", "truncated", "informative_share", "informative_groups", "reply_tokens_mean",
              "sampler_entropy", "learner_entropy", "logprob_gap", "logprob_gap_abs", "kl_start", "lr",
              "sample_tok_s", "learn_tok_s", "episodes_per_hour", "informative_tokens_per_hour",
              "retokenise_mismatch")
NODE_KEYS = ("grad_norm", "clipped", "tis_weight", "b_max", "tokens")


class ScalarLog:
    def __init__(self, folder: str | Path, purge_step: int = 0) -> None:
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            log.warning("tensorboardX is not installed: no TensorBoard event files (pip install tensorboardX)")
            self.writer = None
            return
        self.writer = SummaryWriter(str(folder), purge_step=purge_step if purge_step else None)

    def step(self, step: int, record: dict[str, Any]) -> None:
        if self.writer is None:
            return
        for k in TRAIN_KEYS:
            v = record.get(k)
            if isinstance(v, (int, float)) and v == v:
                self.writer.add_scalar(f"train/{k}", float(v), step)
        for k, v in (record.get("eval") or {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                self.writer.add_scalar(f"eval/{k}", float(v), step)
        for node, fig in (record.get("nodes") or {}).items():
            for k in NODE_KEYS:
                v = fig.get(k)
                if isinstance(v, list):
                    v = v[-1] if v else None
                if isinstance(v, (int, float)):
                    self.writer.add_scalar(f"node/{node}/{k}", float(v), step)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
