"""The `mastune` command: one sub-command per concept, each in its own module."""
from __future__ import annotations

import typer

from . import models as models_cmd
from . import trace as trace_cmd
from .eval_cmd import eval_command, report_command
from .run import run
from .train import train_app
from .traces_cmd import traces_app

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
app.add_typer(trace_cmd.app, name="trace")
app.add_typer(traces_app, name="traces")
app.add_typer(train_app(), name="train")

if __name__ == "__main__":
    app()
