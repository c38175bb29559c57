"""`mastune traces generate|export`: collaboration traces (through the one runner) -> SFT data."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import MastuneError
from .common import TASK_HELP, check_at_least_one, cli_settings, console, err_console, interrupted, system_spec
from .runner_opts import RAY_ADDRESS, RUNNER, WORKERS

__all__ = ["traces_app"]

traces_app = typer.Typer(help="Collaboration traces: generate, filter, export as SFT data.", no_args_is_help=True)


@traces_app.callback()
def _group() -> None:
    """Collaboration traces: generate, filter, export as SFT data."""


def _counts_table(counts: dict[str, int], title: str) -> Table:
    t = Table(title=title)
    for key in ("total", "errors", "consensus", "format", "correct", "kept"):
        t.add_column(key, justify="right")
    t.add_row(*(str(counts[k]) for k in ("total", "errors", "consensus", "format", "correct", "kept")))
    return t


@traces_app.command("generate")
def generate(
    task: str = typer.Option(..., "--task", "-t", help=TASK_HELP),
    out: Path = typer.Option(Path("traces"), "--out", "-o", help="folder for traces.jsonl + summary.json"),
    system: str = typer.Option("collab", "--system", "-s", help="collab | collab-ceo | a collab YAML file"),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="put every role on this pool model"),
    ceo: Optional[bool] = typer.Option(None, "--ceo/--no-ceo", help="CEO agent on/off (default: the config's)"),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", help="first N questions of the split"),
    split: str = typer.Option("train", "--split", help="train | valid | test | all (keep test questions out of SFT data)"),
    seed: int = typer.Option(0, "--seed"),
    data_path: Optional[Path] = typer.Option(None, "--data-path", help="local data file for the task"),
    pool: Optional[Path] = typer.Option(None, "--pool", help="pool config YAML (default: built-in local pool)"),
    max_turn: Optional[int] = typer.Option(None, "--max-turn"),
    max_inner_turns: Optional[int] = typer.Option(None, "--max-inner-turns"),
    experts: Optional[int] = typer.Option(None, "--experts"),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="expert token budget of round 1"),
    concurrency: int = typer.Option(1, "--concurrency", "-c", help="questions in flight"),
    no_cache: bool = typer.Option(False, "--no-cache"),
    verbose: bool = typer.Option(False, "--verbose"),
    runner_kind: str = RUNNER,
    ray_address: Optional[str] = RAY_ADDRESS,
    workers: Optional[int] = WORKERS,
) -> None:
    """Record full collaboration traces; keep those with consensus, the right format and a correct answer."""
    from ..llm.pool import Pool
    from ..optim.sft.traces import generate_traces
    from ..rollout.choose import open_runner
    from ..tasks.datasets import get_task

    try:
        check_at_least_one("--limit", limit)
        check_at_least_one("--concurrency", concurrency)
        the_pool = Pool.load(pool)
        examples = get_task(task, path=data_path, split=split, seed=seed, limit=limit).examples
        knobs = dict(ceo=ceo, max_turn=max_turn, max_inner_turns=max_inner_turns, experts=experts,
                     max_tokens=max_tokens)
        spec = system_spec("collab", the_pool, model=model, config=None if system == "collab" else system,
                           options=knobs)
        with open_runner(runner_kind, the_pool, concurrency=concurrency, address=ray_address,
                         workers=workers) as runner:
            collab = runner.system(spec)
            progress = lambda c, n: err_console.print(  # noqa: E731
                f"{c['total']}/{n}  kept {c['kept']}  errors {c['errors']}", highlight=False)
            try:
                with cli_settings(cache=not no_cache, verbose=verbose):
                    counts = asyncio.run(generate_traces(spec, examples, out, progress=progress, runner=runner))
            except KeyboardInterrupt:
                raise interrupted(_kept_traces(out, examples)) from None
    except MastuneError as e:
        err_console.print(f"[red]error:[/] {escape(str(e))}")  # an install hint like mastune[ray] is not markup
        raise typer.Exit(1)
    console.print(_counts_table(counts, f"{collab.name} on {task}/{split} -> {out}"))
    if counts["errors"]:
        err_console.print(f"[yellow]{counts['errors']} question(s) failed; re-run the same command to retry them[/]")


def _kept_traces(out: Path, examples: list) -> str:
    from ..jsonl import ResultsFile
    from ..optim.sft.traces import TRACES_FILE

    ids = {ex.id for ex in examples}
    latest = [r for i, r in ResultsFile(out / TRACES_FILE).latest().items() if i in ids]
    done = sum(r.get("status") == "ok" for r in latest)
    return (f"{done} of {len(examples)} questions are done and kept in {out / TRACES_FILE}; "
            "run the same command to resume")


@traces_app.command("export")
def export_cmd(
    in_dir: Path = typer.Option(Path("traces"), "--in", "-i", help="folder made by `traces generate`"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="SFT file (default: IN/sft.jsonl)"),
    fmt: str = typer.Option("sharegpt", "--format", "-f", help="sharegpt (from/value) | messages (role/content)"),
    include_ceo: bool = typer.Option(False, "--include-ceo", help="also export the CEO's calls"),
) -> None:
    """Kept traces -> chat SFT data, one example per agent call, grouped by question (+ m500.jsonl)."""
    from ..optim.sft.traces import FORMATS, TRACES_FILE, export

    if fmt not in FORMATS:
        err_console.print(f"[red]error:[/] --format must be one of {', '.join(FORMATS)}")
        raise typer.Exit(2)
    if not (in_dir / TRACES_FILE).is_file():
        err_console.print(f"[red]error:[/] no {TRACES_FILE} in {in_dir}; run `mastune traces generate` first")
        raise typer.Exit(1)
    info = export(in_dir, out, fmt=fmt, include_ceo=include_ceo)
    console.print(f"{info['examples']} examples from {info['questions']} questions -> {info['sft']} "
                  f"(per question: {info['m500']})")
