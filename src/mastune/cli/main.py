"""The `mastune` command."""
from __future__ import annotations

import typer

from . import models as models_cmd
from .eval_cmd import eval_command, report_command
from .run import run

app = typer.Typer(
    name="mastune",
    help="Build, run, evaluate and optimise multi-agent LLM systems.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(models_cmd.app, name="models")
app.command("run")(run)
app.command("eval")(eval_command)
app.command("report")(report_command)


def _register_optional() -> None:
    """Sub-commands whose modules may pull heavier imports are added lazily by name."""
    import importlib

    for module, name in (("trace", "trace"),):
        try:
            mod = importlib.import_module(f"{__package__}.{module}")
        except ModuleNotFoundError as e:
            if e.name and e.name.startswith("mastune"):
                continue  # not built yet in this checkout
            raise
        app.add_typer(mod.app, name=name)


_register_optional()

if __name__ == "__main__":
    app()
