"""Shared CLI helpers: pool loading, settings, printing usage."""
from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path
from typing import Any, Iterator

from rich.console import Console
from rich.table import Table

from .. import optim as _optim  # noqa: F401  (names the trained kinds, e.g. hieramas, without importing torch)
from .. import settings
from ..llm.cache import CallCache
from ..llm.types import Usage
from ..systems import SystemSpec, builtin_systems, kinds, resolve_spec
from ..tasks.datasets.registry import task_names

# Wide tables stay readable when piped (rich falls back to 80 columns off a terminal).
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True)

# Option help built from the registries, so a new task or system kind shows up in --help by itself.
TASK_HELP = " | ".join(task_names()) + " (mmlu-redux:SUBJECT,SUBJECT picks subjects)"
SYSTEM_HELP = ("a system kind (" + ", ".join(k for k in kinds() if k != "graph") + ") or a graph system: "
               + ", ".join(builtin_systems()) + " (or --config FILE.yaml)")
CHECKPOINT_HELP = "hieramas / neuromas: the trained checkpoint folder (neuromas: its run folder or best.pt)"


def _show_library_logs() -> None:
    """Library progress (e.g. a model pulled on first use) goes to stderr in the CLI."""
    logger = logging.getLogger("mastune")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("mastune: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


@contextlib.contextmanager
def cli_settings(*, cache: bool = True, verbose: bool = False) -> Iterator[None]:
    _show_library_logs()
    with settings.context(cache=CallCache.default() if cache else None, verbose=verbose):
        yield


def usage_table(usage: Usage, title: str = "usage") -> Table:
    t = Table(title=title, show_header=True)
    for col in ("calls", "prompt tok", "completion tok", "latency s", "cost $", "cache hits"):
        t.add_column(col, justify="right")
    t.add_row(
        str(usage.calls), str(usage.prompt_tokens), str(usage.completion_tokens),
        f"{usage.latency_s:.2f}", f"{usage.cost:.6f}", str(usage.cache_hits),
    )
    return t


def system_spec(system: str, pool: Any, *, model: str | None = None, config: Path | str | None = None,
                options: dict[str, Any] | None = None) -> SystemSpec:
    """`--system NAME [--config FILE] [--model M]` + kind options -> a picklable spec (with the pool's config)."""
    pool_config = getattr(pool, "config", None)
    return resolve_spec(system, model=model, config=str(config) if config else None, options=options,
                        pool=pool_config.model_dump() if pool_config is not None else None)
