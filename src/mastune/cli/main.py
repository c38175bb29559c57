"""The `mastune` command: one sub-command per concept, each in its own module."""
from __future__ import annotations

import typer

from . import models as models_cmd
from . import trace as trace_cmd
from .collab_cmds import sft, traces_app
from .eval_cmd import eval_command, report_command
from .run import run
from .train_hieramas import hieramas

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

train_app = typer.Typer(help="Train optimisers: HieraMAS (selector + topology), SFT on traces.", no_args_is_help=True)
train_app.command("hieramas")(hieramas)
train_app.command("sft")(sft)
app.add_typer(train_app, name="train")

if __name__ == "__main__":
    app()
