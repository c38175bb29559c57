"""The system contract: one template `run`, one hook per kind.

`BaseSystem.run` owns what every kind shares (the way `LM.chat` wraps each
backend's `_generate`): the trace, the runtime every call goes through, usage
tracking, attaching the trace to a failure, and extracting the answer. A kind
implements `_trace` (what the run will look like) and `_solve` (the calls).
"""
from __future__ import annotations

import abc
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from ..agents.answers import extract_answer
from ..agents.prompts import canonical_family
from ..agents.runtime import PoolLike, Runtime, bind_models
from ..agents.trace import Trace
from ..errors import MastuneError
from ..llm.types import Usage
from ..llm.usage import track_usage


@dataclass
class SystemResult:
    answer_text: str
    extracted_answer: str | None
    usage: Usage  # every call of the run, from one track_usage() around it
    calls: int
    trace: Trace


class BaseSystem(abc.ABC):
    """A system bound to a model pool; `run` answers one question."""

    kind: ClassVar[str] = ""  # the registered kind (graph, collab, hieramas, ...)
    pool: PoolLike

    @property
    @abc.abstractmethod
    def name(self) -> str: ...

    async def run(self, question: str, family: str, *, rollout: str | int | None = None) -> SystemResult:
        """Answer one question. `rollout` separates repeated sampled runs in the cache."""
        fam = canonical_family(family)
        trace = self._trace(question, fam)
        rt = Runtime(question, fam, self.pool, trace, rollout)
        start = time.perf_counter()
        with track_usage() as tracker:
            try:
                text, answer = await self._solve(rt)
            except MastuneError as e:
                e.trace = trace  # the calls made so far, for debugging
                raise
        if answer is None:
            answer = extract_answer(text, fam)
        trace.answer_text, trace.extracted_answer = text, answer
        trace.usage, trace.wall_s = tracker.total, time.perf_counter() - start
        self._finish(trace)
        return SystemResult(text, answer, tracker.total, tracker.total.calls, trace)

    # ---- hooks -----------------------------------------------------------------
    @abc.abstractmethod
    def _trace(self, question: str, family: str) -> Trace:
        """The empty trace of one run (its topology, the kind's own records)."""

    @abc.abstractmethod
    async def _solve(self, rt: Runtime) -> tuple[str, str | None]:
        """Make the calls (all through `rt.call`); return (final text, answer or None to extract it)."""

    def _finish(self, trace: Trace) -> None:
        """After the answer is set: per-node summaries a kind derives from its calls (optional)."""

    def fingerprint(self) -> dict[str, Any] | None:
        """What trained weights this system answers with (None: untrained); eval checks it on resume."""
        return None


class ConfiguredSystem(BaseSystem):
    """A kind made from a named config whose model names are bound to the pool once."""

    def __init__(self, config: Any, pool: PoolLike) -> None:
        self.config = config
        self.pool = pool
        self.default_model = bind_models(config, pool)

    @property
    def name(self) -> str:
        return self.config.name
