"""M500-style trace data: generate collaboration traces, filter them, export SFT data.

    traces/traces.jsonl   every question tried: filters, grade, the full trace (append-only, resumable)
    traces/summary.json   filter counts
    traces/meta.json      the runner (local | ray, workers, redacted address) of every session
    traces/sft.jsonl      chat-format SFT data, one example per agent call, grouped by question
    traces/m500.jsonl     one line per kept question: question, solution and the message
                          lists of recruiter, solvers, critics, evaluator (the released schema)

A trace is kept only if (1) the final round's discussion reached consensus
(every critic said [Agree]; a lone solver counts as agreeing), (2) the final
solution respects the answer format (math: \\boxed{}; code: a fenced code
block; mcq: 'The answer is X'), and (3) the graded answer is correct.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ...io import writer_lock
from ...jsonl import ResultsFile, write_jsonl
from ...rollout import Job, LocalRunner, Runner
from ...rollout.record import note_runner, write_json
from ...systems.collab.trace import CollabTrace
from ...tasks.base import Example
from ...tasks.extract import extract_choice, last_boxed

TRACES_FILE, SUMMARY_FILE, SFT_FILE, M500_FILE = "traces.jsonl", "summary.json", "sft.jsonl", "m500.jsonl"
META_FILE = "meta.json"
# Trace node -> the M500 message list it belongs to. Tester (test writer) calls are tool
# plumbing, not collaboration, and the CEO is exported only on request.
AGENT_OF_NODE = {"recruiter": "recruiter", "solver": "solvers", "critics": "critics", "evaluator": "evaluator"}
FORMATS = ("sharegpt", "messages")


# ---------------------------------------------------------------- filters


def format_ok(solution: str, family: str) -> bool:
    if family == "math":
        return last_boxed(solution) is not None
    if family == "code":
        return re.search(r"```[^\n]*\n.*?```", solution, re.S) is not None
    return extract_choice(solution).parsed


@dataclass
class Filters:
    consensus: bool
    format: bool
    correct: bool

    @property
    def kept(self) -> bool:
        return self.consensus and self.format and self.correct

    def to_dict(self) -> dict[str, bool]:
        return {**asdict(self), "kept": self.kept}


def judge(trace: CollabTrace, correct: bool) -> Filters:
    return Filters(trace.consensus, format_ok(trace.answer_text, trace.family), bool(correct))


def filter_counts(records: Iterable[dict[str, Any]]) -> dict[str, int]:
    """How many traces passed each filter (and all of them), plus errors."""
    counts = {"total": 0, "errors": 0, "consensus": 0, "format": 0, "correct": 0, "kept": 0}
    for rec in records:
        counts["total"] += 1
        if rec.get("status") != "ok":
            counts["errors"] += 1
            continue
        for key in ("consensus", "format", "correct", "kept"):
            counts[key] += bool(rec["filters"][key])
    return counts


# ---------------------------------------------------------------- generation

Progress = Callable[[dict[str, int], int], None]  # (counts so far, total)


async def generate_traces(
    system: Any,
    examples: Sequence[Example],
    out_dir: str | Path,
    *,
    concurrency: int = 1,
    progress: Progress | None = None,
    runner: Runner | None = None,
) -> dict[str, int]:
    """Run `system` (a collab system or its spec) on every example through the runner, grade, filter,
    append to traces.jsonl.

    Resumable: examples already recorded with status ok are skipped; errors are
    recorded as errors (never as dropped traces) and retried on the next run.
    """
    out = Path(out_dir)
    runner = runner or LocalRunner(None, concurrency)
    with writer_lock(out):  # creates the folder
        meta_path = out / META_FILE  # how the traces were produced (runner, workers), every session kept
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        write_json(meta_path, note_runner(meta, runner))
        results = ResultsFile(out / TRACES_FILE)
        done = {i for i, r in results.latest().items() if r.get("status") == "ok"}
        todo = [ex for ex in examples if ex.id not in done]
        ids = {ex.id for ex in examples}

        def current() -> dict[str, int]:
            return filter_counts(r for i, r in results.latest().items() if i in ids)

        async for one in runner.run([Job(system, ex) for ex in todo]):
            ex = one.example
            if not one.ok:
                results.append({"id": ex.id, "status": "error", "error": f"{type(one.error).__name__}: {one.error}"})
            else:
                result, grade = one.result, one.grade
                filters = judge(result.trace, grade.correct)
                results.append({
                    "id": ex.id, "status": "ok", "task": ex.task, "family": ex.family, "question": ex.question,
                    "gold": ex.answer, "filters": filters.to_dict(),
                    "grade": {"correct": grade.correct, "parsed": grade.parsed, "predicted": grade.predicted,
                              "detail": grade.detail},
                    "usage": result.usage.to_dict(), "trace": result.trace.to_dict(),
                })
            if progress:
                progress(current(), len(examples))
        counts = current()
        (out / SUMMARY_FILE).write_text(json.dumps(counts, indent=2))
    return counts


def kept_records(in_dir: str | Path) -> list[dict[str, Any]]:
    """Kept traces in file order (the order questions were generated)."""
    latest = ResultsFile(Path(in_dir) / TRACES_FILE).latest()
    return [r for r in latest.values() if r.get("status") == "ok" and r["filters"]["kept"]]


# ---------------------------------------------------------------- export


def agent_calls(trace: dict[str, Any], *, include_ceo: bool = False) -> list[tuple[str, list[dict[str, str]]]]:
    """(agent, full chat) per call, in the order the calls were made."""
    agents = dict(AGENT_OF_NODE, **({"ceo": "ceo"} if include_ceo else {}))
    out = []
    for call in trace["calls"]:
        agent = agents.get(call["node"])
        if agent:
            out.append((agent, [*call["messages"], {"role": "assistant", "content": call["output"]}]))
    return out


def m500_record(rec: dict[str, Any], *, include_ceo: bool = False) -> dict[str, Any]:
    """The released M500 layout: question, solution, and each agent's message lists."""
    lists: dict[str, list] = {a: [] for a in ("recruiter", "solvers", "critics", "evaluator")}
    if include_ceo:
        lists["ceo"] = []
    for agent, chat in agent_calls(rec["trace"], include_ceo=include_ceo):
        lists[agent].append(chat)
    return {"id": rec["id"], "question": rec["question"], "solution": rec["trace"]["answer_text"], **lists}


_SHAREGPT_ROLE = {"system": "system", "user": "human", "assistant": "gpt"}


def sft_examples(rec: dict[str, Any], fmt: str = "sharegpt", *, include_ceo: bool = False) -> list[dict[str, Any]]:
    """One chat example per agent call of one question (the group), in call order."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; formats: {FORMATS}")
    out = []
    for k, (agent, chat) in enumerate(agent_calls(rec["trace"], include_ceo=include_ceo)):
        ex: dict[str, Any] = {"id": f"{rec['id']}#{k}", "question_id": rec["id"], "agent": agent}
        if fmt == "sharegpt":
            ex["conversations"] = [{"from": _SHAREGPT_ROLE[m["role"]], "value": m["content"]} for m in chat]
        else:
            ex["messages"] = chat
        out.append(ex)
    return out


def export(in_dir: str | Path, out: str | Path | None = None, *, fmt: str = "sharegpt",
           include_ceo: bool = False) -> dict[str, Any]:
    """Write sft.jsonl (per-call chat examples) and m500.jsonl (per question) from kept traces."""
    in_dir = Path(in_dir)
    out = Path(out) if out else in_dir / SFT_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    records = kept_records(in_dir)
    examples = [ex for rec in records for ex in sft_examples(rec, fmt, include_ceo=include_ceo)]
    write_jsonl(out, examples)  # whole files, written then renamed
    write_jsonl(out.parent / M500_FILE, [m500_record(rec, include_ceo=include_ceo) for rec in records])
    return {"questions": len(records), "examples": len(examples), "sft": str(out), "m500": str(out.parent / M500_FILE)}
