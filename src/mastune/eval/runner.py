"""The resumable evaluation loop: rollouts from a runner, streamed into results.jsonl.

    results.jsonl  one record per finished item (append-only, streamed)
    meta.json      config, seed, split manifest, model hashes, git commit, trained weights (digests),
                   runner (local | ray, workers, redacted address) and every runner the folder was resumed with

Running the same command again skips finished items and redoes errored ones;
a changed config in the same folder is refused rather than mixed in, and so
are items whose content changed (each record carries a hash of its item) and
a second process writing to the same folder at the same time.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import ConfigError, ContextOverflow
from ..io import writer_lock
from ..jsonl import ResultsFile, item_sha
from ..redact import redact
from ..rollout import Job, LocalRunner, Rollout, Runner
from ..rollout.record import note_runner, write_json
from ..tasks.base import Example
from .meta import prompts_fingerprint, run_metadata

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


@dataclass
class EvalSummary:
    n: int = 0
    correct: int = 0
    unparsed: int = 0
    errors: int = 0
    unfixable: int = 0  # errors a re-run cannot fix (the item does not fit the model's context)
    cost: float = 0.0
    skipped: int = 0  # finished in an earlier run
    flagged: int = 0  # answered items whose grade carries a flag (a constant reply could pass them)
    bad_records: int = 0  # lines of results.jsonl that are not valid records (torn or edited): redone

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


def _record(out: Rollout) -> dict[str, Any]:
    ex, result, grade = out.example, out.result, out.grade
    if not out.ok:
        # A failure is recorded as such, never scored as a wrong answer. An item too long for
        # the context fails the same way every time: marked so nobody is told to re-run it.
        e = out.error
        return {"id": ex.id, "item_sha": item_sha(ex), "status": "error", "error": redact(f"{type(e).__name__}: {e}"),
                "retryable": not isinstance(e, ContextOverflow), "usage": out.usage.to_dict(),
                "calls": out.usage.calls, "wall_s": round(out.wall_s, 3)}
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
        "wall_s": round(out.wall_s, 3),
        # e.g. "constant_answerable": the benchmark's rule is kept, and the record says a constant passes it
        **({"flags": list(grade.flags)} if getattr(grade, "flags", ()) else {}),
    }


async def evaluate(
    cfg: EvalConfig,
    solver: Any,
    examples: Sequence[Example],
    *,
    pool: Any = None,
    split_manifest: dict[str, Any] | None = None,
    progress: ProgressHook | None = None,
    runner: Runner | None = None,
) -> EvalSummary:
    """Evaluate `solver` (a SystemSpec, or a built system) on `examples` into cfg.out.

    The rollouts run on `runner` (default: a LocalRunner on `pool` with
    cfg.concurrency items in flight); each lands in results.jsonl as it finishes."""
    if cfg.concurrency < 1:
        raise ConfigError(f"concurrency must be at least 1 (items in flight), got {cfg.concurrency}")
    out = Path(cfg.out)
    runner = runner or LocalRunner(pool, cfg.concurrency)
    with writer_lock(out):  # creates the folder
        return await _evaluate(cfg, solver, examples, out, pool, split_manifest, progress, runner)


async def _evaluate(cfg: EvalConfig, solver: Any, examples: Sequence[Example], out: Path, pool: Any,
                    split_manifest: dict[str, Any] | None, progress: ProgressHook | None,
                    runner: Runner) -> EvalSummary:
    fingerprint = solver_fingerprint(runner.system(solver))
    _check_resume(out, cfg, fingerprint)
    results = ResultsFile(out / "results.jsonl")
    done = {i: r for i, r in results.latest().items() if r.get("status") == "ok"}
    bad_records = results.bad_lines
    _check_items(out, examples, done)
    meta_path = out / "meta.json"
    if not meta_path.exists():
        write_json(meta_path, note_runner({**run_metadata(asdict(cfg), pool, split_manifest or {}),
                                           "solver": fingerprint}, runner))
    else:  # a resume: the rest of meta.json stays as first written; the runner joins its history
        meta = json.loads(meta_path.read_text())
        noted = note_runner(meta, runner)
        if noted != meta:
            write_json(meta_path, noted)

    summary = EvalSummary(bad_records=bad_records)
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

    async for one in runner.run([Job(solver, ex) for ex in todo]):
        rec = _record(one)
        results.append(rec)
        if one.ok:
            if cfg.save_traces and one.trace is not None:
                _save_trace(one.trace, trace_path(out, one.example.id))
            _count(summary, rec)
        else:
            summary.errors += 1
            summary.unfixable += not rec["retryable"]
        if progress:
            progress(summary, total)
    return summary


def _count(summary: EvalSummary, rec: dict[str, Any]) -> None:
    # records were validated on reading (ResultsFile): right types, costs not negative
    summary.n += 1
    summary.correct += rec.get("correct") is True
    summary.unparsed += rec.get("parsed", True) is False
    summary.flagged += bool(rec.get("flags"))
    usage = rec.get("usage")
    summary.cost += usage.get("cost", 0.0) if isinstance(usage, dict) else 0.0


def _save_trace(trace: Any, path: Path) -> None:
    """The trace as JSON; text that cannot be UTF-8 (a lone surrogate in a reply) is escaped."""
    to_dict = getattr(trace, "to_dict", None)
    if to_dict is None:
        trace.to_json(path)
        return
    data = to_dict()
    text = json.dumps(data, indent=2, ensure_ascii=False)
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        raw = json.dumps(data, indent=2).encode("ascii")
    path.write_bytes(raw)


def trace_path(run_dir: str | Path, item_id: str) -> Path:
    """Where a run folder keeps the trace of one item (ids like "gsm8k/5" made file-safe)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in item_id)
    return Path(run_dir) / "traces" / f"{safe}.json"
