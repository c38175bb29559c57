"""`mastune train METHOD`: one sub-command per registered optimiser (`mastune.optim`).

A method's flags live in `cli/train_METHOD.py` (a function named METHOD); the
optimiser itself is found through the registry, so a new optimiser is its
package under optim/ plus that one CLI file. Every method runs with the
libraries' progress bars and warnings silenced (unless --verbose), and Ctrl-C
ends it with one line saying what its run folder kept.
"""
from __future__ import annotations

import functools
import importlib
from pathlib import Path
from typing import Any, Callable

import typer

from ..optim import optimisers
from .common import interrupted, quiet_libraries


def train_app() -> typer.Typer:
    app = typer.Typer(help="Train optimisers: " + ", ".join(optimisers()) + ".", no_args_is_help=True)
    for name in optimisers():
        module = importlib.import_module(f".train_{name}", __package__)
        app.command(name)(_guarded(name, getattr(module, name)))
    return app


def _guarded(method: str, command: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(command)  # typer reads the flags from the wrapped signature
    def run(*args: Any, **kwargs: Any) -> Any:
        with quiet_libraries(bool(kwargs.get("verbose"))):
            try:
                return command(*args, **kwargs)
            except KeyboardInterrupt:
                raise interrupted(kept_by(method, kwargs.get("out"))) from None
    return run


def _lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return sum(1 for line in f if line.strip())
    except OSError:
        return 0


def kept_by(method: str, out: Path | str | None) -> str:
    """What a killed training run leaves in its folder, per method, and how to go on."""
    resume = "run the same command to resume"
    if out is None:
        return resume
    out = Path(out)
    if method == "neuromas":
        steps = _lines(out / "log.jsonl")
        return f"{out} keeps {steps} finished step(s) (log.jsonl, state.pt, best.pt); {resume}"
    if method == "hieramas":
        its, labelled = _lines(out / "stage1" / "log.jsonl"), _lines(out / "stage2" / "labels.jsonl")
        return (f"{out} keeps {its} stage-1 iteration(s)" + (f" and {labelled} stage-2 labelled queries"
                                                             if labelled else "") + f"; {resume}")
    if method == "rl":
        return f"{out} keeps {_lines(out / 'log.jsonl')} finished step(s) (log.jsonl, state.pt); {resume}"
    if method == "sft":
        return f"SFT does not resume: {out} keeps no partial adapter, and the same command trains from the start"
    return f"{out} keeps what the run saved so far; {resume}"
