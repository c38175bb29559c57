"""`mastune models list | pull | export-hf`."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ..errors import ModelUnavailable
from ..llm.engine_info import describe as describe_engine
from ..models.pull import is_present, models_dir, pull
from ..models.registry import MODELS
from .common import console, err_console

app = typer.Typer(help="The local model pool: list and pull GGUF models, export HF weights.", no_args_is_help=True)


@app.command("list")
def list_models() -> None:
    """Show the built-in local models, their size, price rate, source and presence."""
    t = Table(title="built-in local models")
    for col in ("name", "model", "size", "$ / 1M tok", "source", "present"):
        t.add_column(col)
    for m in MODELS.values():
        present = is_present(m)
        t.add_row(
            m.name, m.title, f"{m.size_bytes / 1e6:.0f} MB", f"{m.price_per_m:g}", m.source,
            "[green]yes[/]" if present else "[yellow]no[/] (pulled on first use)",
        )
    console.print(t)
    console.print(f"cache: {models_dir()}")
    console.print(describe_engine())  # which engine build (wheel or native) and its CPU features


@app.command("pull")
def pull_model(
    name: str = typer.Argument(..., help="built-in model name (see `mastune models list`)"),
    path: Optional[Path] = typer.Option(None, "--path", help="use this local .gguf file instead of downloading"),
) -> None:
    """Fetch a model into the user cache and verify it (idempotent)."""
    try:
        # verify=True: an explicit pull re-reads the cached bytes, not just the marker beside them
        got = pull(name, path=path, progress=lambda msg: err_console.print(f"  {msg}"), verify=True)
    except ModelUnavailable as e:
        err_console.print(f"[red]error:[/] {e}")
        raise typer.Exit(1)
    console.print(f"[green]ok[/] {name}: {got}")


@app.command("export-hf")
def export_hf_cmd(
    name: str = typer.Argument(..., help="built-in model name or a path to a .gguf file"),
    out: Path = typer.Option(..., "--out", help="folder to write (config, safetensors, tokenizer, chat template)"),
    dtype: str = typer.Option("bf16", "--dtype", help="fp32 | bf16 | fp16"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace a non-empty --out folder"),
) -> None:
    """Write transformers weights dequantised from the pool's GGUF (for training with torch / peft)."""
    from ..errors import MastuneError
    from ..models.export_hf import export_hf

    try:
        got = export_hf(name, out, dtype=dtype, overwrite=overwrite)
    except MastuneError as e:
        err_console.print(f"[red]error:[/] {e}")
        raise typer.Exit(1)
    console.print(f"[green]ok[/] {name} -> {got} ({dtype})")
