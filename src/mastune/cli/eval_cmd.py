"""`mastune eval` and `mastune report`."""
from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..errors import ConfigError, MastuneError
from ..eval.report import (COLUMNS, NOT_PAIRED, PAIRED_COLUMNS, by_task, markdown_report, paired, paired_rows, plot,
                           rows, run_labels, summarize, task_plot_path)
from ..eval.runner import EvalConfig, evaluate
from ..llm.pool import Pool
from ..redact import redact
from ..rollout.choose import open_runner
from ..systems import build_system
from ..tasks.selection import select_examples
from ..tasks.splits import normalize_split
from .common import (CHECKPOINT_HELP, SYSTEM_HELP, TASK_HELP, check_at_least_one, cli_settings, console, err_console,
                     interrupted, system_spec)
from .runner_opts import RAY_ADDRESS, RUNNER, WORKERS


def eval_command(
    system: str = typer.Option(..., "--system", "-s", help=SYSTEM_HELP),
    task: str = typer.Option(..., "--task", "-t", help=TASK_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="run folder (results.jsonl + meta.json); re-run to resume"),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="put every slot on this pool model"),
    config: Optional[Path] = typer.Option(None, "--config", help="system YAML (instead of a built-in name)"),
    split: str = typer.Option("test", "--split", help="train | valid | test | all (seeded, recorded)"),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", help="first N items of the split"),
    sample: Optional[int] = typer.Option(None, "--sample", help="a seeded random N items of the split (seed: --seed), "
                                         "kept in dataset order; instead of --limit's first N"),
    concurrency: int = typer.Option(4, "--concurrency", "-c", help="items in flight"),
    seed: int = typer.Option(0, "--seed"),
    data_path: Optional[Path] = typer.Option(None, "--data-path", help="local data file for the task"),
    pool: Optional[Path] = typer.Option(None, "--pool", help="pool config YAML (default: built-in local pool)"),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens"),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help=CHECKPOINT_HELP),
    no_graph_classifier: bool = typer.Option(False, "--no-graph-classifier", help="hieramas ablation: random DAG"),
    no_llm_selection: bool = typer.Option(False, "--no-llm-selection", help="hieramas ablation: every slot on one model"),
    ceo: Optional[bool] = typer.Option(None, "--ceo/--no-ceo", help="collab: CEO agent on/off"),
    save_traces: bool = typer.Option(False, "--save-traces", help="write every item's call trace under OUT/traces"),
    no_cache: bool = typer.Option(False, "--no-cache"),
    verbose: bool = typer.Option(False, "--verbose"),
    runner_kind: str = RUNNER,
    ray_address: Optional[str] = RAY_ADDRESS,
    workers: Optional[int] = WORKERS,
) -> None:
    """Evaluate a system on a benchmark split, streaming results; re-run to resume."""
    options = {
        "max_tokens": max_tokens,
        "checkpoint": str(checkpoint) if checkpoint else None,
        "graph_classifier": False if no_graph_classifier else None,
        "llm_selection": False if no_llm_selection else None,
        "ceo": ceo,
    }
    options = {k: v for k, v in options.items() if v is not None}
    cfg = EvalConfig(
        system=system, task=task, out=str(out), model=model, config=str(config) if config else None,
        config_sha=hashlib.sha256(config.read_bytes()).hexdigest()[:16] if config and config.is_file() else None,
        split=split, seed=seed, limit=limit, sample=sample, concurrency=concurrency,
        data_path=str(data_path) if data_path else None, pool=str(pool) if pool else None, options=options,
        save_traces=save_traces,
    )
    try:
        _check_flags(split, limit, sample, concurrency)  # flags alone decide: fail before loading anything
        the_pool = Pool.load(pool)
        selection = select_examples(task, path=data_path, split=split, seed=seed, limit=limit, sample=sample)
        examples, manifest = selection.examples, selection.manifest
        # The registry resolves the name to a kind's spec; the one runner builds and runs it.
        spec = system_spec(system, the_pool, model=model, config=config, options=options)
        with open_runner(runner_kind, the_pool, concurrency=concurrency, address=ray_address,
                         workers=workers) as runner:
            # Local: the system built here; ray: the spec, which each worker builds. Either way it is built
            # before any call, so a bad config or checkpoint fails here.
            solver = build_system(spec, the_pool) if runner_kind == "local" else spec
            runner.system(solver)
            watch = _progress()
            try:
                with cli_settings(cache=not no_cache, verbose=verbose), watch as (bar, hook):
                    summary = asyncio.run(evaluate(cfg, solver, examples, pool=the_pool, split_manifest=manifest,
                                                   progress=hook, runner=runner))
            except KeyboardInterrupt:
                done, total = watch.kept()
                raise interrupted(f"{done} of {total} items are kept in {out / 'results.jsonl'}; "
                                  "run the same command to resume") from None
    except MastuneError as e:
        err_console.print(f"[red]error:[/] {escape(redact(str(e)))}", highlight=False)
        raise typer.Exit(1)
    console.print(
        f"{system} on {task}/{split}: {summary.correct}/{summary.n} correct ({100 * summary.accuracy:.1f}%), "
        f"unparsed {summary.unparsed}, errors {summary.errors}, cost ${summary.cost:.6f}, "
        f"resumed {summary.skipped} -> {out}"
    )
    if summary.unfixable:
        err_console.print(f"[yellow]{summary.unfixable} item(s) cannot succeed: longer than the model's context "
                          "(ContextOverflow); a re-run will fail the same way: use a model with a larger context "
                          "or leave them out[/]")
    if summary.errors > summary.unfixable:
        err_console.print(f"[yellow]{summary.errors - summary.unfixable} item(s) failed; re-run the same command "
                          "to retry them[/]")


def _check_flags(split: str, limit: int | None, sample: int | None, concurrency: int) -> None:
    if sample is not None and limit is not None:
        raise ConfigError("give --limit (first N) or --sample (seeded random N), not both")
    if split not in ("all", None):
        try:
            normalize_split(split)
        except ValueError as e:
            raise ConfigError(f"--split: {e}") from None
    for flag, value in (("--limit", limit), ("--sample", sample), ("--concurrency", concurrency)):
        check_at_least_one(flag, value)


class _progress:
    """A live bar: done/total, accuracy so far, cost so far, ETA. Off a terminal (nohup, CI logs)
    the bar cannot redraw, so a plain line is printed at most every LOG_EVERY_S seconds instead."""

    LOG_EVERY_S = 30.0

    def kept(self) -> tuple[int, str]:
        """(items finished and kept, total or '?') as last reported."""
        if self.last is None:
            return 0, "?"
        summary, total = self.last
        return summary.n, str(total)

    def __enter__(self):
        self.last = None
        self.last_line = 0.0
        self.progress = Progress(
            TextColumn("[bold]eval"), BarColumn(), MofNCompleteColumn(),
            TextColumn("acc {task.fields[acc]}"), TextColumn("cost ${task.fields[cost]}"),
            TextColumn("err {task.fields[err]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            console=err_console,
        )
        self.progress.__enter__()
        self.task = None

        def hook(summary, total):
            self.last = (summary, total)
            fields = dict(acc=f"{100 * summary.accuracy:.1f}%", cost=f"{summary.cost:.5f}", err=summary.errors)
            done = summary.n + summary.errors
            if self.task is None:
                self.task = self.progress.add_task("eval", total=total, completed=done, **fields)
            else:
                self.progress.update(self.task, completed=done, **fields)
            now = time.monotonic()
            if not err_console.is_terminal and (now - self.last_line >= self.LOG_EVERY_S or done == total):
                self.last_line = now
                err_console.print(f"eval {done}/{total} acc {fields['acc']} cost ${fields['cost']} "
                                  f"err {fields['err']}", highlight=False)

        return self.progress, hook

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)


def report_command(
    runs: List[Path] = typer.Argument(..., help="run folders made by `mastune eval`"),
    plot_path: Path = typer.Option(Path("report.png"), "--plot", help="accuracy-vs-cost PNG (one per task when "
                                   "the runs are of several: report-TASK.png)"),
    markdown: Optional[Path] = typer.Option(None, "--markdown", help="also write the tables as Markdown"),
    title: str = typer.Option("accuracy vs cost", "--title"),
) -> None:
    """Compare runs per task: accuracy (95% CI), cost, tokens, calls, latency; paired tests; plot with Pareto front.

    Per task, the first run is paired against each other on the items both answered (exact McNemar).
    Runs of different tasks are reported apart (one table and plot each), never paired."""
    from rich.table import Table

    try:
        summaries = [summarize(r) for r in runs]
    except MastuneError as e:
        err_console.print(f"[red]error:[/] {escape(redact(str(e)))}", highlight=False)
        raise typer.Exit(1)
    for s, label in zip(summaries, run_labels(runs)):
        s.name = label
    groups = by_task(summaries)
    if len(groups) > 1:
        console.print(f"{len(groups)} tasks ({', '.join(groups)}). {NOT_PAIRED}", highlight=False)
    for task, group in groups.items():
        comparisons = [paired(group[0], s) for s in group[1:]]
        table = Table(title=f"runs on {task}")
        for c in COLUMNS:
            table.add_column(c, justify="right" if c not in ("run", "system", "model", "task") else "left")
        for r in rows(group):
            table.add_row(*r)
        console.print(table)
        if comparisons:
            table = Table(title=f"{task}: paired against {group[0].name} (items both answered; exact McNemar test)")
            for c in PAIRED_COLUMNS:
                table.add_column(c, justify="left" if c in ("base", "other") else "right")
            for r in paired_rows(comparisons):
                table.add_row(*r)
            console.print(table)
        path = task_plot_path(plot_path, task, len(groups))
        console.print(f"plot ({task}): {plot(group, path, title if len(groups) == 1 else f'{title}: {task}')}")
    if markdown:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(markdown_report(summaries))
        console.print(f"markdown: {markdown}")
