"""`mastune train sft`: LoRA fine-tuning on exported collaboration traces (the `sft` optimiser)."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from ..errors import MastuneError
from .common import console, err_console, system_spec

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
    student: str = typer.Option("collab", "--student", help="the system whose agents the adapter serves "
                                "(recorded in OUT/artifact.json; `Artifact.load(OUT, pool)` runs it)"),
) -> None:
    """LoRA fine-tuning of a small local model on collaboration traces (CPU or GPU)."""
    try:
        from ..optim import get_optimiser
        from ..optim.sft import SFTConfig
        from ..optim.sft.optimiser import SFT_MODEL
    except ImportError as e:  # pragma: no cover - depends on the install
        err_console.print(f"[red]error:[/] {escape(str(e))}; install the extra: " + escape("pip install 'mastune[sft]'"))
        raise typer.Exit(1)
    cfg = SFTConfig(data=str(data), base=base, out=str(out), epochs=epochs, lr=lr, max_steps=max_steps,
                    batch_size=batch_size, grad_accum=grad_accum, max_length=max_length, lora_r=lora_r,
                    lora_alpha=lora_alpha, target_modules=list(target_modules) if target_modules else "all-linear",
                    device=device, seed=seed, merge=merge)
    try:
        opt = get_optimiser("sft")(cfg, log=lambda s: err_console.print(s, highlight=False))
        spec = system_spec(student, None, model=SFT_MODEL)
        asyncio.run(opt.compile(spec, None, data, [], out))
        result = opt.result
    except (MastuneError, OSError) as e:
        err_console.print(f"[red]error:[/] {escape(str(e))}")
        raise typer.Exit(1)
    last = f"{result.losses[-1]:.4f}" if result.losses else "-"
    console.print(f"{result.steps} steps on {result.device}, final loss {last}, {result.wall_s:.1f}s -> {result.out}"
                  + (f" (merged: {result.merged})" if result.merged else ""))
