"""Pick a runner by name (the CLI's `--runner local|ray`), and close it when done.

    with open_runner("ray", pool, concurrency=4, workers=2) as runner:
        await evaluate(cfg, spec, examples, runner=runner)

`local` is the default and needs nothing; `ray` needs the `mastune[ray]`
extra and says how to install it when Ray is missing. For `ray`,
`concurrency` is the items in flight on each worker (each has its own engine).
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

from ..errors import ConfigError
from .runner import LocalRunner, Runner

RUNNERS = ("local", "ray")


def make_runner(kind: str, pool: Any = None, *, concurrency: int = 4, address: str | None = None,
                workers: int | None = None) -> Runner:
    if kind == "local":
        if address or workers:
            raise ConfigError("--ray-address and --workers are options of --runner ray")
        return LocalRunner(pool, concurrency)
    if kind == "ray":
        if workers is not None and workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {workers}")
        from .ray_runner import RayRunner

        return RayRunner(pool, workers=workers, address=address, concurrency=concurrency)
    raise ConfigError(f"unknown runner {kind!r}; runners: {', '.join(RUNNERS)}")


@contextlib.contextmanager
def open_runner(kind: str, pool: Any = None, **options: Any) -> Iterator[Runner]:
    runner = make_runner(kind, pool, **options)
    try:
        yield runner
    finally:
        close = getattr(runner, "close", None)
        if callable(close):  # a Ray runner's workers (and a Ray instance it started) go away with it
            close()
