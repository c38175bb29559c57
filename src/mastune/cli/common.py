"""Shared CLI helpers: pool loading, settings, printing usage."""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Iterator

import typer
from rich.console import Console
from rich.table import Table

from .. import optim as _optim  # noqa: F401  (names the trained kinds, e.g. hieramas, without importing torch)
from .. import settings
from ..errors import ConfigError
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


class _ConsoleHandler(logging.Handler):
    """Log lines through the rich console: printed above a live progress display instead of through
    it, and to whatever stderr is now (a handler holding the stream it saw first writes to a stale one)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            err_console.print(f"mastune: {record.getMessage()}", markup=False, highlight=False, soft_wrap=True)
        except Exception:  # a log line must never break the command
            self.handleError(record)


def _show_library_logs() -> None:
    """Library progress (a model pulled or loaded on first use) goes to stderr in the CLI."""
    logger = logging.getLogger("mastune")
    if not any(isinstance(h, _ConsoleHandler) for h in logger.handlers):
        logger.addHandler(_ConsoleHandler())
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


def check_at_least_one(flag: str, value: int | None) -> None:
    """A count flag of 0 would make an empty run that looks like a finished one ("0/0 correct")."""
    if value is not None and value < 1:
        raise ConfigError(f"{flag} must be at least 1, got {value}"
                          + (" (0 items would make an empty run)" if value == 0 and flag != "--concurrency" else ""))


def check_system_name(system: str, config: Path | str | None = None) -> None:
    """An unknown --system names every choice: the kinds (collab, hieramas, neuromas, ...) and the graph
    systems (the graph kind's own message knows only the latter)."""
    if config or system in kinds() or system in builtin_systems():
        return
    path = Path(system)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        return  # a system YAML: its own loader says what is wrong with it
    others = [k for k in kinds() if k != "graph"]
    raise ConfigError(f"unknown system {system!r}; choose a system kind ({', '.join(others)}), a graph system "
                      f"({', '.join(builtin_systems())}), or a YAML file (--config FILE.yaml)")


def system_spec(system: str, pool: Any, *, model: str | None = None, config: Path | str | None = None,
                options: dict[str, Any] | None = None) -> SystemSpec:
    """`--system NAME [--config FILE] [--model M]` + kind options -> a picklable spec (with the pool's config)."""
    check_system_name(system, config)
    pool_config = getattr(pool, "config", None)
    return resolve_spec(system, model=model, config=str(config) if config else None, options=options,
                        pool=pool_config.model_dump() if pool_config is not None else None)


INTERRUPTED_EXIT = 130  # the shell's code for a command ended by Ctrl-C (128 + SIGINT)


def interrupted(kept: str) -> typer.Exit:
    """Ctrl-C: one line saying what was kept and how to go on, instead of a traceback or "Aborted!"."""
    err_console.print(f"\ninterrupted: {kept}", highlight=False, markup=False, soft_wrap=True)
    return typer.Exit(INTERRUPTED_EXIT)


# Loggers of the libraries `train` runs on; their INFO/WARNING chatter (and progress bars) buries the
# command's own lines. --verbose keeps them.
_NOISY = ("transformers", "peft", "accelerate", "sentence_transformers", "huggingface_hub", "torch", "datasets")
_QUIET_ENV = {"TRANSFORMERS_VERBOSITY": "error", "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
              "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TQDM_DISABLE": "1", "TOKENIZERS_PARALLELISM": "false"}


@contextlib.contextmanager
def quiet_libraries(verbose: bool = False) -> Iterator[None]:
    """Silence third-party progress bars, warnings and log lines for the duration (all restored after)."""
    if verbose:
        yield
        return
    env = {k: os.environ.get(k) for k in _QUIET_ENV}
    for k, v in _QUIET_ENV.items():
        os.environ.setdefault(k, v)  # read when the libraries load; a user's own setting wins
    levels = {name: logging.getLogger(name).level for name in _NOISY}
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.ERROR)
    # Already loaded (in-process callers, tests): the env was read at import, so tell them directly.
    hf = sys.modules.get("transformers.utils.logging")
    hf_state = (hf.get_verbosity(), hf.is_progress_bar_enabled()) if hf else None
    if hf:
        hf.set_verbosity_error()
        hf.disable_progress_bar()
    hub = sys.modules.get("huggingface_hub.utils")
    hub_bars = hub is not None and not hub.are_progress_bars_disabled()
    if hub_bars:
        hub.disable_progress_bars()
    # tqdm reads TQDM_DISABLE when it is imported; once imported (torch brings it in), its bars (transformers'
    # "de-quantizing GGUF tensors", for one) are turned off through its constructor's default instead.
    tq = sys.modules.get("tqdm.std")
    tq_init = tq.tqdm.__init__ if tq else None
    if tq:
        tq.tqdm.__init__ = functools.partialmethod(tq_init, disable=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        if hf and hf_state:
            hf.set_verbosity(hf_state[0])
            if hf_state[1]:
                hf.enable_progress_bar()
        if hub_bars:
            hub.enable_progress_bars()
        if tq:
            tq.tqdm.__init__ = tq_init
