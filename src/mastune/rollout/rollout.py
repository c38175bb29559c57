"""The one rollout primitive: a system answers one example, the answer is graded.

    out = await rollout(system_or_spec, example, rollout_id)
    out.result, out.grade, out.trace        # or out.error (a MastuneError), never a silent wrong answer

`mastune eval`, trace generation and optimiser episodes all call this, so a
run of a system means the same thing everywhere: one `track_usage` around the
run and its grading, a failure kept as an error (with the calls made so far
in its trace), and the wall time of both.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..errors import MastuneError
from ..llm.types import Usage
from ..llm.usage import track_usage
from ..tasks.base import Example
from ..tasks.grade import Grade, agrade


@dataclass
class Rollout:
    example: Example
    rollout_id: str | int | None
    result: Any = None  # a systems.SystemResult (answer_text, usage, calls, trace)
    grade: Grade | None = None
    error: MastuneError | None = None
    usage: Usage | None = None  # every call of the run and its grading
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def trace(self) -> Any:
        """The run's trace; for a failure, the calls made before it (when the system attached them)."""
        if self.result is not None:
            return getattr(self.result, "trace", None)
        return getattr(self.error, "trace", None)

    def raise_error(self) -> "Rollout":
        """For callers that stop on a failure (training): re-raise it."""
        if self.error is not None:
            raise self.error
        return self


async def rollout(system: Any, example: Example, rollout_id: str | int | None = None) -> Rollout:
    """Run `system` (anything with `async run(question, family)`) on one example and grade it.

    `rollout_id` is passed to the system as `rollout=` (it separates repeated
    sampled runs in the call cache); None passes nothing, so plain solvers work."""
    start = time.perf_counter()
    out = Rollout(example, rollout_id)
    with track_usage() as tracker:
        try:
            if rollout_id is None:
                out.result = await system.run(example.question, example.family)
            else:
                out.result = await system.run(example.question, example.family, rollout=rollout_id)
            out.grade = await agrade(example, out.result.answer_text)
        except MastuneError as e:
            out.error = e
    out.usage, out.wall_s = tracker.total, time.perf_counter() - start
    return out
