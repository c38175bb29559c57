"""Do the role prompts weaken the model? Plain CoT vs a role-prompted proposer vs the synthesiser.

    python3 benchmarks/prompt_check.py --task mmlu-redux --model qwen2.5-coder-1.5b --n 50 --sample
    python3 benchmarks/prompt_check.py --task gsm8k --model qwen2.5-coder-0.5b --n 50 --roles "Math Solver"

For the first N items of the task's seeded train split (split seed 0; --sample: a seeded random N), greedy:
    cot               one `cot` call of the model (the single-model baseline's prompt)
    <role> proposer   the role's proposer call, as a source supernode makes it (no predecessors)
    <role> synth      that supernode's synthesiser, given the proposals
Each arm is a one-supernode graph system on the same runtime the HieraMAS plans run on, so
the prompts checked are the ones trained and evaluated. Every call is graded with the task's
grader; the table gives accuracy and the counts paired with cot on the same items (exact McNemar).
Resumable: one JSONL line per (item, arm) under --out, done pairs are skipped; calls go through
the call cache (a rerun replays them). Issue 18's bar: every proposer >= cot on >= 50 items.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from mastune import settings
from mastune.agents.prompts import canonical_family, family
from mastune.eval.stats import mcnemar_exact, wilson_interval
from mastune.jsonl import JsonlFile
from mastune.llm.cache import CallCache
from mastune.llm.pool import Pool
from mastune.systems import load_system
from mastune.systems.graph import GraphConfig, System
from mastune.tasks.base import Example
from mastune.tasks.datasets import get_task
from mastune.tasks.grade import grade
from mastune.tasks.selection import select_examples

SPLIT_SEED = 0
COT = "cot"


def role_system(pool: Any, model: str, fam: str, role: str, proposers: int, max_tokens: int) -> System:
    """One supernode of `role` on `model`, greedy (proposers too), feeding the decision node (which a
    single answer passes without a call)."""
    cfg = GraphConfig(name=f"check-{role}", layout="graph", supernodes=True, proposers=proposers,
                      proposer_temperature=0.0, max_tokens=max_tokens, model=model, decision_model=model,
                      roles={fam: [role]}, graph={"generator": "chain"})
    return System(cfg, pool)


def arms(roles: Sequence[str]) -> list[str]:
    return [COT, *roles]


async def run_arm(pool: Any, model: str, arm: str, ex: Example, proposers: int, max_tokens: int) -> dict[str, Any]:
    """One item on one arm: every call's output graded (proposers, synthesiser, or the cot call)."""
    fam = canonical_family(ex.family)
    system = (load_system("cot", pool, model=model, max_tokens=max_tokens) if arm == COT
              else role_system(pool, model, fam, arm, proposers, max_tokens))
    t0 = time.perf_counter()
    res = await system.run(ex.question, fam)
    wall = time.perf_counter() - t0
    rec: dict[str, Any] = {"id": ex.id, "arm": arm, "model": model, "calls": res.calls, "wall_s": wall,
                           "tokens": res.usage.prompt_tokens + res.usage.completion_tokens,
                           "completion_tokens": res.usage.completion_tokens}
    graded = {c.slot: grade(ex, c.output) for c in res.trace.calls}
    # the texts, for reading what a prompt makes the model do (truncated: a log, not an archive)
    rec["outputs"] = {c.slot: c.output[:3000] for c in res.trace.calls}
    if arm == COT:
        g = grade(ex, res.answer_text)
        rec.update(correct=g.correct, parsed=g.parsed)
    else:
        props = [graded[s] for s in sorted(graded) if s.startswith("proposer")]
        rec.update(proposers=[g.correct for g in props], proposers_parsed=[g.parsed for g in props],
                   synth=graded["synthesiser"].correct if "synthesiser" in graded else None,
                   synth_parsed=graded["synthesiser"].parsed if "synthesiser" in graded else None)
    return rec


async def check(pool: Any, model: str, items: Sequence[Example], roles: Sequence[str], out: Path, *,
                proposers: int = 1, max_tokens: int = 512, concurrency: int = 4,
                new: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Run what is not in `out` yet (one line per item and arm, appended as it lands; also to `new`);
    return all rows of these items."""
    log = JsonlFile(out)
    done = {(r["id"], r["arm"]) for r in log.records() if r.get("model") == model}
    todo = [(ex, a) for ex in items for a in arms(roles) if (ex.id, a) not in done]
    sem = asyncio.Semaphore(concurrency)

    async def one(ex: Example, arm: str) -> None:
        async with sem:
            rec = await run_arm(pool, model, arm, ex, proposers, max_tokens)
        log.append(rec)
        if new is not None:
            new.append(rec)
        print(f"{ex.id} {arm}: {rec.get('correct', rec.get('proposers'))} ({rec['wall_s']:.1f} s)", file=sys.stderr,
              flush=True)

    await asyncio.gather(*(one(ex, a) for ex, a in todo))
    ids = {ex.id for ex in items}
    return [r for r in log.records() if r.get("model") == model and r["id"] in ids]


def outcomes(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, tuple[bool, bool]]]:
    """slot label -> item id -> (right, parsed): 'cot', '<role> proposer' (the first), '<role> synth'."""
    out: dict[str, dict[str, tuple[bool, bool]]] = {}
    for r in rows:
        if r["arm"] == COT:
            out.setdefault(COT, {})[r["id"]] = (bool(r["correct"]), bool(r.get("parsed", True)))
            continue
        if r.get("proposers"):
            parsed = (r.get("proposers_parsed") or [True])[0]
            out.setdefault(f"{r['arm']} proposer", {})[r["id"]] = (bool(r["proposers"][0]), bool(parsed))
        if r.get("synth") is not None:
            out.setdefault(f"{r['arm']} synth", {})[r["id"]] = (bool(r["synth"]), bool(r.get("synth_parsed", True)))
    return out


def table(rows: Sequence[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Markdown table: accuracy (95% CI) per slot, paired with cot on the items both answered."""
    by = outcomes(rows)
    base = {i: ok for i, (ok, _) in by.get(COT, {}).items()}
    lines = ["| slot | n | right | accuracy | 95% CI | unparsed | shared with cot | cot only | slot only | McNemar p |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    data = []
    # cot first, then the roles in the order asked for (rows land in completion order)
    for name, graded in sorted(by.items(), key=lambda kv: kv[0] != COT):
        res = {i: ok for i, (ok, _) in graded.items()}
        unparsed = sum(not parsed for _, parsed in graded.values())
        n, k = len(res), sum(res.values())
        lo, hi = wilson_interval(k, n)
        common = base.keys() & res.keys()
        cot_only = sum(base[i] and not res[i] for i in common)
        slot_only = sum(res[i] and not base[i] for i in common)
        p = mcnemar_exact(cot_only, slot_only) if name != COT else None
        data.append({"slot": name, "n": n, "right": k, "accuracy": k / n if n else 0.0, "ci95": [lo, hi],
                     "unparsed": unparsed, "shared": len(common), "cot_only": cot_only, "slot_only": slot_only,
                     "p": p})
        lines.append(f"| {name} | {n} | {k} | {k / n:.1%} | [{lo:.1%}, {hi:.1%}] | {unparsed} | {len(common)} | "
                     f"{cot_only} | {slot_only} | {'' if p is None else f'{p:.3f}'} |")
    return "\n".join(lines), data


def timing(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Latency per call over the rows' runs: calls of one run are sequential, runs overlap up to
    --concurrency (cache replays count too: rerun with --no-cache to measure)."""
    calls = sum(r.get("calls", 0) for r in rows)
    wall = sum(r.get("wall_s", 0.0) for r in rows)
    return {"calls": calls, "s_per_call": wall / calls if calls else None,
            "completion_tokens_per_call": sum(r.get("completion_tokens", 0) for r in rows) / calls if calls else None}


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="mmlu-redux")
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--n", type=int, default=50, help="first N items of the seeded train split")
    ap.add_argument("--sample", action="store_true",
                    help="a seeded random N of the train split instead of the first N (MMLU-Redux is sorted by "
                         "subject: its first 50 train items are abstract algebra and anatomy)")
    ap.add_argument("--roles", help="comma-separated roles (default: every role of the task's family)")
    ap.add_argument("--proposers", type=int, default=1, help="proposers per supernode (greedy: 1 is enough)")
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--pool", help="pool YAML (default: the built-in local pool)")
    ap.add_argument("--out", help="JSONL of per-item results (default benchmarks/results/prompt_check/TASK-MODEL.jsonl)")
    ap.add_argument("--no-cache", action="store_true")
    args = ap.parse_args(argv)

    fam = family(args.task)
    roles = [r.strip() for r in args.roles.split(",")] if args.roles else [r.name for r in fam.roles if r.answers]
    for r in roles:
        fam.role(r)  # a typo fails here, before any call
    items = (select_examples(args.task, split="train", seed=SPLIT_SEED, sample=args.n).examples if args.sample
             else get_task(args.task, split="train", seed=SPLIT_SEED, limit=args.n).examples)
    kind = "sample" if args.sample else "first"
    out = Path(args.out or f"benchmarks/results/prompt_check/{args.task}-{args.model}-{kind}.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    pool = Pool.load(args.pool)
    print(f"{args.task} / {args.model}: {len(items)} train items x {len(arms(roles))} arms -> {out}", file=sys.stderr)

    new: list[dict[str, Any]] = []

    async def go() -> list[dict[str, Any]]:
        try:
            return await check(pool, args.model, items, roles, out, proposers=args.proposers,
                               max_tokens=args.max_tokens, concurrency=args.concurrency, new=new)
        finally:
            await pool.aclose()

    t0 = time.perf_counter()
    with settings.context(cache=None if args.no_cache else CallCache.default()):
        rows = asyncio.run(go())
    elapsed = time.perf_counter() - t0
    text, data = table(rows)
    t = timing(rows)
    # throughput of this invocation (engine load included; cache hits make it look faster)
    n_new = sum(r["calls"] for r in new)
    t["this_run"] = {"calls": n_new, "elapsed_s": elapsed, "s_per_call": elapsed / n_new if n_new else None}
    print(f"\n{args.task}, {args.model}, {kind} {len(items)} train items (split seed {SPLIT_SEED}), greedy, "
          f"max_tokens {args.max_tokens}\n\n{text}\n\n{json.dumps(t)}")
    out.with_suffix(".summary.json").write_text(json.dumps({"task": args.task, "model": args.model, "n": len(items),
                                                            "table": data, "timing": t}, indent=2))


if __name__ == "__main__":
    main()
