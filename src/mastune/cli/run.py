"""`mastune run "QUESTION"`: one model, or a multi-agent system."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from ..errors import MastuneError
from ..llm.pool import Pool
from ..redact import redact
from ..llm.usage import track_usage
from .progress import CallWatch, WatchedPool
from .common import CHECKPOINT_HELP, SYSTEM_HELP, cli_settings, console, err_console, system_spec, usage_table


def run(
    question: str = typer.Argument(..., help="the question or task"),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="pool model name (default: the pool's default)"),
    system: Optional[str] = typer.Option(None, "--system", "-s", help=SYSTEM_HELP),
    task_type: str = typer.Option("math", "--task-type", help="math | code | mcq"),
    pool: Optional[Path] = typer.Option(None, "--pool", help="pool config YAML (default: built-in local pool)"),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="cap on tokens per call (default: 512 / the system's)"),
    temperature: float = typer.Option(0.0, "--temperature"),
    trace: Optional[Path] = typer.Option(None, "--trace", help="save the full call trace as JSON"),
    config: Optional[Path] = typer.Option(None, "--config", help="system YAML (instead of a built-in name)"),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help=CHECKPOINT_HELP),
    ceo: Optional[bool] = typer.Option(None, "--ceo/--no-ceo", help="collab: CEO agent on/off"),
    no_cache: bool = typer.Option(False, "--no-cache", help="bypass the on-disk call cache"),
    verbose: bool = typer.Option(False, "--verbose", help="show llama.cpp logs"),
    as_json: bool = typer.Option(False, "--json", help="print a JSON record instead of tables"),
) -> None:
    """Answer QUESTION with one model or a multi-agent system, printing answer and usage."""
    try:
        base_pool = Pool.load(pool)
        label = system or (config.stem if config else None) or model or base_pool.default_model
        one_call = system is None and config is None
        watch = CallWatch(err_console, label, lines=not one_call)  # one call: nothing to add off a terminal
        with cli_settings(cache=not no_cache, verbose=verbose), watch:
            the_pool = WatchedPool(base_pool, watch)  # every call reports its node, start and tokens
            if one_call:
                record = asyncio.run(_single(the_pool, model or the_pool.default_model, question, max_tokens or 512, temperature))
            else:
                from ..systems import build_system

                options = {"max_tokens": max_tokens, "ceo": ceo, "checkpoint": str(checkpoint) if checkpoint else None}
                spec = system_spec(system or "custom", the_pool, model=model, config=config, options=options)
                record = asyncio.run(_system(build_system(spec, the_pool), question, task_type, trace))
    except MastuneError as e:
        err_console.print(f"[red]error:[/] {escape(redact(str(e)))}", highlight=False)
        raise typer.Exit(1)
    if as_json:
        print(json.dumps(record, ensure_ascii=False))
        return
    console.print(record["answer"], markup=False, highlight=False)
    if record.get("extracted") is not None:
        console.print(f"extracted answer: {record['extracted']}", markup=False, highlight=False)
    console.print(f"LLM calls: {record['calls']}")
    from ..llm.types import Usage

    console.print(usage_table(Usage.from_dict(record["usage"]), title=f"usage ({record['what']})"))


async def _system(solver, question: str, task_type: str, trace_path: Optional[Path]) -> dict:
    result = await solver.run(question, task_type)
    if trace_path is not None:
        result.trace.to_json(trace_path)
    return {
        "what": f"system {getattr(solver, 'name', '?')}",
        "answer": result.answer_text,
        "extracted": result.extracted_answer,
        "usage": result.usage.to_dict(),
        "calls": result.calls,
        "trace": str(trace_path) if trace_path else None,
    }


async def _single(pool: Pool, model: str, question: str, max_tokens: int, temperature: float) -> dict:
    lm = pool[model]
    with track_usage() as tracker:
        out = await lm.chat([{"role": "user", "content": question}], max_tokens=max_tokens, temperature=temperature)
    return {"what": f"model {model}", "answer": out.text, "usage": tracker.total.to_dict(), "calls": tracker.total.calls}
