"""Glue for `mastune run --system NAME`: run one question, return a printable record."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..agents.runtime import PoolLike
from .system import load_system


async def run_system_cli(
    system: str,
    pool: PoolLike,
    question: str,
    task_type: str,
    *,
    model: str | None = None,
    max_tokens: int | None = None,
    trace_path: Path | None = None,
) -> dict[str, Any]:
    sys_ = load_system(system, pool, model=model, max_tokens=max_tokens)
    result = await sys_.run(question, task_type)
    if trace_path is not None:
        result.trace.to_json(trace_path)
    return {
        "what": f"system {sys_.name}",
        "answer": result.answer_text,
        "extracted": result.extracted_answer,
        "usage": result.usage.to_dict(),
        "calls": result.calls,
        "trace": str(trace_path) if trace_path else None,
    }
