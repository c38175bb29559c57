"""The resumable, concurrent evaluation loop.

    results.jsonl  one record per finished item (append-only, streamed)
    meta.json      config, seed, split manifest, model hashes, git commit, trained weights (digests)

Running the same command again skips finished items and redoes errored ones;
a changed config in the same folder is refused rather than mixed in, and so
are items whose content changed (each record carries a hash of its item) and
a second process writing to the same folder at the same time.
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from ..errors import ConfigError, ContextOverflow, MastuneError
from ..io import writer_lock
from ..llm.usage import track_usage
from ..redact import redact
from ..tasks.base import Example
from ..tasks.grade import agrade
from .meta import prompts_fingerprint, run_metadata
from .results import ResultsFile, item_sha

# Fields that must match for a resumed run to be the same experiment.
IDENTITY_FIELDS = ("system", "model", "config", "config_sha", "task", "split", "seed", "sample", "data_path",
                   "options")


@dataclass
class EvalConfig:
    system: str
    task: str
    out: str
    model: str | None = None
    config: str | None = None  # system YAML path
    config_sha: str | None = None  # hash of that YAML's content
    split: str = "test"
    seed: int = 0
    limit: int | None = None
    sample: int | None = None  # seeded random subset of the split instead of its first `limit`
    concurrency: int = 4
    data_path: str | None = None
    pool: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # system-specific (checkpoint, ablations, knobs)
    save_traces: bool = False


class Solver(Protocol):
    async def run(self, question: str, family: str) -> Any: ...


@dataclass
class EvalSummary:
    n: int = 0
    correct: int = 0
    unparsed: int = 0
    errors: int = 0
    unfixable: int = 0  # errors a re-run cannot fix (the item does not fit the model's context)
    cost: float = 0.0
    skipped: int = 0  # finished in an earlier run

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0


ProgressHook = Callable[[EvalSummary, int], None]  # (summary so far, total)


def solver_fingerprint(solver: Any) -> dict[str, str] | None:
    """What a trained solver loaded (e.g. checkpoint weight digests), if it says; None for untrained ones."""
    fp = getattr(solver, "fingerprint", None)
    return fp() if callable(fp) else None


def _check_resume(out: Path, cfg: EvalConfig, fingerprint: dict[str, str] | None) -> None:
    meta_path = out / "meta.json"
    if not meta_path.exists():
        return
    meta = json.loads(meta_path.read_text())
    old, new = meta["config"], asdict(cfg)
    diff = [k for k in IDENTITY_FIELDS if old.get(k) != new.get(k)]
    if diff:
        changes = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff)
        raise ConfigError(f"{out} holds a different run ({changes}); use another --out folder")
    # Same checkpoint path is not the same model: training may have gone on since.
    if meta.get("solver") is not None and meta["solver"] != fingerprint:
        raise ConfigError(f"{out} was run with other trained weights ({meta['solver']} -> {fingerprint}): the "
                          "checkpoint changed since; resuming would mix two models' answers: use another --out folder")
    # Runs recorded before prompts were fingerprinted carry no "prompts": nothing to compare.
    now = prompts_fingerprint()
    edited = [name for name, sha in meta.get("prompts", {}).items() if now.get(name) != sha]
    if edited:
        raise ConfigError(f"{out} was run with other prompts ({', '.join(edited)} changed since); resuming would "
                          "mix two experiments: use another --out folder or restore the prompts")


def _check_items(out: Path, examples: Sequence[Example], done: dict[str, dict[str, Any]]) -> None:
    """Finished records must answer the items as they are now (records from before item hashes: unchecked)."""
    changed = [ex.id for ex in examples
               if ex.id in done and done[ex.id].get("item_sha") not in (None, item_sha(ex))]
    if changed:
        more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
        raise ConfigError(
            f"{out}: item {changed[0]}{more} changed since it was answered (its question, gold answer or tests "
            "differ from the ones recorded; was the data file edited?). Resuming would keep old answers for new "
            "questions: use another --out folder, or restore the data")


def _record(ex: Example, result: Any, grade: Any, wall: float) -> dict[str, Any]:
    return {
        "id": ex.id,
        "item_sha": item_sha(ex),
        "status": "ok",
        "correct": grade.correct,
        "parsed": grade.parsed,
        "predicted": grade.predicted,
        "gold": ex.answer if ex.family != "code" else None,
        "method": grade.method,
        "detail": grade.detail,
        "reply": result.answer_text,
        "usage": result.usage.to_dict(),
        "calls": result.calls,
        "wall_s": round(wall, 3),
    }


async def evaluate(
    cfg: EvalConfig,
    solver: Solver,
    examples: Sequence[Example],
    *,
    pool: Any = None,
    split_manifest: dict[str, Any] | None = None,
    progress: ProgressHook | None = None,
) -> EvalSummary:
    if cfg.concurrency < 1:
        raise ConfigError(f"concurrency must be at least 1 (items in flight), got {cfg.concurrency}")
    out = Path(cfg.out)
    with writer_lock(out):  # creates the folder
        return await _evaluate(cfg, solver, examples, out, pool, split_manifest, progress)


async def _evaluate(cfg: EvalConfig, solver: Solver, examples: Sequence[Example], out: Path, pool: Any,
                    split_manifest: dict[str, Any] | None, progress: ProgressHook | None) -> EvalSummary:
    fingerprint = solver_fingerprint(solver)
    _check_resume(out, cfg, fingerprint)
    results = ResultsFile(out / "results.jsonl")
    done = {i: r for i, r in results.latest().items() if r.get("status") == "ok"}
    _check_items(out, examples, done)
    if not (out / "meta.json").exists():
        meta = {**run_metadata(asdict(cfg), pool, split_manifest or {}), "solver": fingerprint}
        (out / "meta.json").write_text(json.dumps(meta, indent=2))

    summary = EvalSummary()
    for ex in examples:
        rec = done.get(ex.id)
        if rec is not None:
            _count(summary, rec)
            summary.skipped += 1
    todo = [ex for ex in examples if ex.id not in done]
    total = len(examples)
    if progress:
        progress(summary, total)
    if cfg.save_traces:
        (out / "traces").mkdir(exist_ok=True)

    sem = asyncio.Semaphore(cfg.concurrency)

    async def one(ex: Example) -> None:
        async with sem:
            start = time.perf_counter()
            with track_usage() as tracker:
                try:
                    result = await solver.run(ex.question, ex.family)
                    grade = await agrade(ex, result.answer_text)
                except MastuneError as e:
                    # A failure is recorded as such, never scored as a wrong answer. An item too long for
                    # the context fails the same way every time: marked so nobody is told to re-run it.
                    retryable = not isinstance(e, ContextOverflow)
                    rec = {"id": ex.id, "item_sha": item_sha(ex), "status": "error",
                           "error": redact(f"{type(e).__name__}: {e}"), "retryable": retryable,
                           "usage": tracker.total.to_dict(), "calls": tracker.total.calls,
                           "wall_s": round(time.perf_counter() - start, 3)}
                    results.append(rec)
                    summary.errors += 1
                    summary.unfixable += not retryable
                    if progress:
                        progress(summary, total)
                    return
            rec = _record(ex, result, grade, time.perf_counter() - start)
            results.append(rec)
            if cfg.save_traces and getattr(result, "trace", None) is not None:
                result.trace.to_json(trace_path(out, ex.id))
            _count(summary, rec)
            if progress:
                progress(summary, total)

    await asyncio.gather(*[one(ex) for ex in todo])
    return summary


def _count(summary: EvalSummary, rec: dict[str, Any]) -> None:
    summary.n += 1
    summary.correct += bool(rec.get("correct"))
    summary.unparsed += not rec.get("parsed", True)
    usage = rec.get("usage")
    summary.cost += usage.get("cost", 0.0) if isinstance(usage, dict) else 0.0


def trace_path(run_dir: str | Path, item_id: str) -> Path:
    """Where a run folder keeps the trace of one item (ids like "gsm8k/5" made file-safe)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in item_id)
    return Path(run_dir) / "traces" / f"{safe}.json"
