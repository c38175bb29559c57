"""`mastune train METHOD`: one sub-command per registered optimiser (`mastune.optim`).

A method's flags live in `cli/train_METHOD.py` (a function named METHOD); the
optimiser itself is found through the registry, so a new optimiser is its
package under optim/ plus that one CLI file.
"""
from __future__ import annotations

import importlib

import typer

from ..optim import optimisers


def train_app() -> typer.Typer:
    app = typer.Typer(help="Train optimisers: " + ", ".join(optimisers()) + ".", no_args_is_help=True)
    for name in optimisers():
        module = importlib.import_module(f".train_{name}", __package__)
        app.command(name)(getattr(module, name))
    return app
