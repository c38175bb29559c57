"""CLI of M1 / CEO: `mastune traces generate|export` and `mastune train sft`.

Wiring (in cli/main.py):
    from .collab_cmds import traces_app, sft
    app.add_typer(traces_app, name="traces")
    train_app.command("sft")(sft)          # -> `mastune train sft`
`build_collab_system` (re-exported here) is what `run` / `eval` call for `--system collab`.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from ..collab import build_collab_system
from ..errors import MastuneError
from .common import cli_settings, console, err_console

__all__ = ["build_collab_system", "sft", "traces_app"]

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
    task: str = typer.Option(..., "--task", "-t", help="gsm8k | math | math500 | humaneval-plus | mbpp-plus | mmlu-redux"),
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
) -> None:
    """Record full collaboration traces; keep those with consensus, the right format and a correct answer."""
    from ..collab.traces import generate_traces
    from ..llm.pool import Pool
    from ..tasks.datasets import get_task

    try:
        the_pool = Pool.load(pool)
        examples = get_task(task, path=data_path, split=split, seed=seed, limit=limit).examples
        collab = build_collab_system(the_pool, ceo=ceo, model=model, config=None if system == "collab" else system,
                                     max_turn=max_turn, max_inner_turns=max_inner_turns, experts=experts,
                                     max_tokens=max_tokens)
        with cli_settings(cache=not no_cache, verbose=verbose):
            progress = lambda c, n: err_console.print(  # noqa: E731
                f"{c['total']}/{n}  kept {c['kept']}  errors {c['errors']}", highlight=False)
            counts = asyncio.run(generate_traces(collab, examples, out, concurrency=concurrency, progress=progress))
    except MastuneError as e:
        err_console.print(f"[red]error:[/] {e}")
        raise typer.Exit(1)
    console.print(_counts_table(counts, f"{collab.name} on {task}/{split} -> {out}"))
    if counts["errors"]:
        err_console.print(f"[yellow]{counts['errors']} question(s) failed; re-run the same command to retry them[/]")


@traces_app.command("export")
def export_cmd(
    in_dir: Path = typer.Option(Path("traces"), "--in", "-i", help="folder made by `traces generate`"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="SFT file (default: IN/sft.jsonl)"),
    fmt: str = typer.Option("sharegpt", "--format", "-f", help="sharegpt (from/value) | messages (role/content)"),
    include_ceo: bool = typer.Option(False, "--include-ceo", help="also export the CEO's calls"),
) -> None:
    """Kept traces -> chat SFT data, one example per agent call, grouped by question (+ m500.jsonl)."""
    from ..collab.traces import FORMATS, TRACES_FILE, export

    if fmt not in FORMATS:
        err_console.print(f"[red]error:[/] --format must be one of {', '.join(FORMATS)}")
        raise typer.Exit(2)
    if not (in_dir / TRACES_FILE).is_file():
        err_console.print(f"[red]error:[/] no {TRACES_FILE} in {in_dir}; run `mastune traces generate` first")
        raise typer.Exit(1)
    info = export(in_dir, out, fmt=fmt, include_ceo=include_ceo)
    console.print(f"{info['examples']} examples from {info['questions']} questions -> {info['sft']} "
                  f"(per question: {info['m500']})")


def sft(
    data: Path = typer.Option(..., "--data", "-d", help="SFT JSONL from `mastune traces export`"),
    base: str = typer.Option(..., "--base", "-b", help="local HF-format model folder (or a hub id when online)"),
    out: Path = typer.Option(..., "--out", "-o", help="adapter folder"),
    epochs: float = typer.Option(1.0, "--epochs"),
    lr: float = typer.Option(1e-4, "--lr"),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="optimizer steps (caps epochs)"),
    batch_size: int = typer.Option(4, "--batch-size"),
    grad_accum: int = typer.Option(1, "--grad-accum"),
    max_length: int = typer.Option(2048, "--max-length"),
    lora_r: int = typer.Option(16, "--lora-r"),
    lora_alpha: int = typer.Option(32, "--lora-alpha"),
    target_modules: Optional[List[str]] = typer.Option(None, "--target-module", help="repeat; default all linear layers"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N"),
    seed: int = typer.Option(0, "--seed"),
    merge: bool = typer.Option(False, "--merge", help="also save OUT/merged (base + LoRA) for GGUF conversion"),
) -> None:
    """LoRA fine-tuning of a small local model on collaboration traces (CPU or GPU)."""
    try:
        from ..optim.sft import SFTConfig, train_sft
    except ImportError as e:  # pragma: no cover - depends on the install
        err_console.print(f"[red]error:[/] {e}; install the extra: pip install 'mastune[sft]'")
        raise typer.Exit(1)
    cfg = SFTConfig(data=str(data), base=base, out=str(out), epochs=epochs, lr=lr, max_steps=max_steps,
                    batch_size=batch_size, grad_accum=grad_accum, max_length=max_length, lora_r=lora_r,
                    lora_alpha=lora_alpha, target_modules=list(target_modules) if target_modules else "all-linear",
                    device=device, seed=seed, merge=merge)
    try:
        result = train_sft(cfg, log=lambda s: err_console.print(s, highlight=False))
    except (MastuneError, OSError) as e:
        err_console.print(f"[red]error:[/] {e}")
        raise typer.Exit(1)
    last = f"{result.losses[-1]:.4f}" if result.losses else "-"
    console.print(f"{result.steps} steps on {result.device}, final loss {last}, {result.wall_s:.1f}s -> {result.out}"
                  + (f" (merged: {result.merged})" if result.merged else ""))
