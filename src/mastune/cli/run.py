"""`mastune run "QUESTION"`: one model, or a multi-agent system."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Optional

import typer

from ..errors import MastuneError
from ..llm.pool import Pool
from ..llm.usage import track_usage
from .common import cli_settings, console, err_console, usage_table


def run(
    question: str = typer.Argument(..., help="the question or task"),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="pool model name (default: the pool's default)"),
    system: Optional[str] = typer.Option(None, "--system", "-s", help="multi-agent system name or YAML file"),
    task_type: str = typer.Option("math", "--task-type", help="math | code | mcq"),
    pool: Optional[Path] = typer.Option(None, "--pool", help="pool config YAML (default: built-in local pool)"),
    max_tokens: int = typer.Option(512, "--max-tokens"),
    temperature: float = typer.Option(0.0, "--temperature"),
    trace: Optional[Path] = typer.Option(None, "--trace", help="save the full call trace as JSON"),
    no_cache: bool = typer.Option(False, "--no-cache", help="bypass the on-disk call cache"),
    verbose: bool = typer.Option(False, "--verbose", help="show llama.cpp logs"),
    as_json: bool = typer.Option(False, "--json", help="print a JSON record instead of tables"),
) -> None:
    """Answer QUESTION with one model or a multi-agent system, printing answer and usage."""
    try:
        the_pool = Pool.load(pool)
        with cli_settings(cache=not no_cache, verbose=verbose):
            if system is None:
                record = asyncio.run(_single(the_pool, model or the_pool.default_model, question, max_tokens, temperature))
            else:
                from ..systems.run import run_system_cli  # the runtime is optional for plain calls

                record = asyncio.run(
                    run_system_cli(system, the_pool, question, task_type, model=model, max_tokens=max_tokens,
                                   trace_path=trace)
                )
    except MastuneError as e:
        err_console.print(f"[red]error:[/] {e}")
        raise typer.Exit(1)
    if as_json:
        print(json.dumps(record, ensure_ascii=False))
        return
    console.print(record["answer"], markup=False, highlight=False)
    from ..llm.types import Usage

    console.print(usage_table(Usage.from_dict(record["usage"]), title=f"usage ({record['what']})"))


async def _single(pool: Pool, model: str, question: str, max_tokens: int, temperature: float) -> dict:
    lm = pool[model]
    with track_usage() as tracker:
        out = await lm.chat([{"role": "user", "content": question}], max_tokens=max_tokens, temperature=temperature)
    return {"what": f"model {model}", "answer": out.text, "usage": tracker.total.to_dict(), "calls": tracker.total.calls}
