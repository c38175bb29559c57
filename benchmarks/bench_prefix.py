"""Prompt tokens the engine actually evaluates per item, before vs after the prefix-reuse layout.

    MASTUNE_THREADS=1 PYTHONPATH=src python3 benchmarks/bench_prefix.py --items 3
    # the accuracy re-measure (long: hours on 2 cores; resumable, re-run the same command after a kill):
    PYTHONPATH=src python3 benchmarks/bench_prefix.py --model qwen2.5-coder-1.5b --items 50 --systems full
    # two layouts on the same items, with paired correctness (both / only A / only B / neither):
    PYTHONPATH=src python3 benchmarks/bench_prefix.py --items 50 --systems full --compare after,transcript
    # the s/item figure of issue 17 (an otherwise idle machine; old prompts + old threads vs today's):
    python3 benchmarks/bench_prefix.py --model qwen2.5-coder-1.5b --items 20 --systems cot,full \
        --compare before,transcript --old-threads --out benchmarks/results/engine_figure
    python3 benchmarks/bench_prefix.py --items 20 --systems hieramas-fixed \
        --compare before,transcript --old-threads --out benchmarks/results/engine_figure

Layouts compared on the same GSM8K test items (seeded split 0, first --items):
    before  the previous prompt files (benchmarks/layouts/*-before.yaml: role text in the
            system message, so no two roles share a prefix) and llama.cpp's own slot choice
    after   the current prompts (shared task + predecessor outputs first, role last) and
            prefix-aware slot routing (mastune.llm.slots)
    after-noroute  (optional) the current prompts with llama.cpp's own slot choice
    transcript  the current prompts in the transcript layout (graph systems' prompt_layout:
            a successor continues a predecessor's conversation, so the slot's cached
            prompt AND generated reply are reused; agents/transcript.py) + routing.
            collab has no prompt_layout: its transcript rows are its `after` setup.
Systems: full, hieramas-fixed (its mixed 0.5B + 135M pool unless --model puts every slot on
one model) and collab, greedy except where a system samples (hieramas proposers).
Each (layout, system) runs in its own process, so no engine cache survives from one to the
next; items run one at a time. Per item it records the engine's prompt tokens
(`prompt_tokens`), evaluated (`timings.prompt_n`) and reused (`timings.cache_n`),
seconds and correctness in <out>/<model>-mt<max_tokens>/<layout>/<system>.jsonl (one line per item, appended as
they finish), and prints the table from everything recorded so far.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# layout -> (folder of the previous prompt files or None for the current ones, prefix-aware slot routing,
#            graph systems' prompt_layout)
LAYOUTS = {"before": (HERE / "layouts", False, "text"), "after": (None, True, "text"),
           "after-noroute": (None, False, "text"), "transcript": (None, True, "transcript")}
SYSTEMS = ("full", "hieramas-fixed", "collab", "cot")
POOL_MODELS = ("qwen2.5-coder-0.5b", "smollm2-135m", "qwen2.5-coder-1.5b")


def use_layout(layout: str) -> None:
    """Point the prompt modules at the layout's files (a worker process does this once, before any call)."""
    folder = LAYOUTS[layout][0]
    if folder is None:
        return
    from mastune.agents import prompts as agent_prompts
    from mastune.systems.collab import prompts as collab_prompts

    agent_prompts.PROMPTS_PATH = folder / "agents-prompts-before.yaml"
    collab_prompts.PROMPTS_PATH = folder / "collab-prompts-before.yaml"
    for fn in (agent_prompts._data, agent_prompts.family, collab_prompts._data):
        fn.cache_clear()


def build(system: str, model: str, route: bool, max_tokens: int, prompt_layout: str = "text"):
    from mastune.llm.pool import Pool
    from mastune.systems import build_system, resolve_spec

    entries = [{"name": m, "backend": "embedded", "model": m, "n_parallel": 4, "ctx_per_slot": 4096,
                "route_slots": route} for m in POOL_MODELS]
    pool = Pool.from_dict({"models": entries, "default": model})
    # hieramas-fixed keeps its mixed assignments on the 0.5B default; any other model fills every slot
    single = None if (system == "hieramas-fixed" and model == "qwen2.5-coder-0.5b") else model
    options: dict = {"max_tokens": max_tokens}
    if system not in ("collab", "cot"):  # no predecessors to lay out there; elsewhere always explicit
        options["prompt_layout"] = prompt_layout
    return build_system(resolve_spec(system, model=single, options=options), pool)


async def worker(args: argparse.Namespace) -> None:
    from mastune.llm.usage import track_usage
    from mastune.tasks.datasets import get_task
    from mastune.tasks.grade import agrade

    use_layout(args.layout)
    out = run_dir(args) / args.layout / f"{args.system}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    done = {json.loads(x)["id"] for x in out.read_text().splitlines()} if out.exists() else set()
    examples = get_task("gsm8k", split="test", seed=0, limit=args.items).examples
    _, route, prompt_layout = LAYOUTS[args.layout]
    solver = build(args.system, args.model, route, args.max_tokens, prompt_layout)
    for ex in examples:
        if ex.id in done:
            continue
        start = time.perf_counter()
        with track_usage() as t:
            result = await solver.run(ex.question, ex.family)
        wall = time.perf_counter() - start
        grade = await agrade(ex, result.answer_text)
        u = t.total
        rec = {"id": ex.id, "model": args.model, "max_tokens": args.max_tokens, "calls": u.calls,
               "prompt_tokens": u.prompt_tokens, "prompt_evaluated": u.prompt_evaluated,
               "prompt_cached": u.prompt_cached, "completion_tokens": u.completion_tokens,
               "wall_s": round(wall, 2), "correct": bool(grade.correct), "answer": grade.predicted,
               "threads": os.environ.get("MASTUNE_THREADS", "budget")}
        with out.open("a") as f:  # one whole line per item: a kill loses at most the item in flight
            f.write(json.dumps(rec) + "\n")
            f.flush()
            os.fsync(f.fileno())
        print(json.dumps({"layout": args.layout, "system": args.system, **rec}), flush=True)


def run_dir(args: argparse.Namespace) -> Path:
    return Path(args.out) / f"{args.model}-mt{args.max_tokens}"


def table(out: Path, systems: list[str], model: str) -> str:
    rows = ["| system | layout | items | prompt tok/item | evaluated tok/item | reused | s/item | correct |",
            "|---|---|---|---|---|---|---|---|"]
    for system in systems:
        evaluated: dict[str, float] = {}
        wall: dict[str, float] = {}
        for layout in LAYOUTS:
            f = out / layout / f"{system}.jsonl"
            recs = [json.loads(x) for x in f.read_text().splitlines()] if f.exists() else []
            recs = [r for r in recs if r["model"] == model]
            if not recs:
                continue
            n = len(recs)
            mean = lambda k: sum(r[k] for r in recs) / n  # noqa: E731
            evaluated[layout], wall[layout] = mean("prompt_evaluated"), mean("wall_s")
            reused = sum(r["prompt_cached"] for r in recs) / max(1, sum(r["prompt_tokens"] for r in recs))
            rows.append(f"| {system} | {layout} | {n} | {mean('prompt_tokens'):.0f} | {mean('prompt_evaluated'):.0f} "
                        f"| {reused:.0%} | {mean('wall_s'):.1f} | {sum(r['correct'] for r in recs)}/{n} |")
        # every layout vs before; transcript also vs after (the text layout it replaces)
        pairs = [(x, "before") for x in LAYOUTS if x != "before"] + [("transcript", "after")]
        for layout, base in pairs:
            if evaluated.get(base) and layout in evaluated:
                rows.append(f"| {system} | {layout} vs {base} | | | "
                            f"{evaluated[layout] / evaluated[base] - 1:+.0%} | | "
                            f"{wall[base] / max(1e-9, wall[layout]):.2f}x faster | |")
    return "\n".join(rows)


def records(out: Path, layout: str, system: str, model: str) -> dict[str, dict]:
    f = out / layout / f"{system}.jsonl"
    recs = [json.loads(x) for x in f.read_text().splitlines()] if f.exists() else []
    return {r["id"]: r for r in recs if r["model"] == model}


def paired(out: Path, systems: list[str], model: str, a: str, b: str) -> str:
    """Layout A vs B on the items both have: evaluated tokens/item, s/item, paired correctness, and
    how many extracted answers are identical (where both runs recorded them)."""
    rows = [f"| system | items | evaluated tok/item {a} | {b} | change | s/item {a} | {b} | correct {a} | {b} "
            f"| both | only {a} | only {b} | neither | same answer |", "|" + "---|" * 14]
    for system in systems:
        ra, rb = records(out, a, system, model), records(out, b, system, model)
        ids = [i for i in ra if i in rb]
        if not ids:
            continue
        n = len(ids)
        ea, eb = (sum(r[i]["prompt_evaluated"] for i in ids) / n for r in (ra, rb))
        ca, cb = ([r[i]["correct"] for i in ids] for r in (ra, rb))
        both = sum(x and y for x, y in zip(ca, cb))
        only_a = sum(x and not y for x, y in zip(ca, cb))
        only_b = sum(y and not x for x, y in zip(ca, cb))
        wa, wb = (sum(r[i]["wall_s"] for i in ids) / n for r in (ra, rb))
        known = [i for i in ids if "answer" in ra[i] and "answer" in rb[i]]
        same = f"{sum(ra[i]['answer'] == rb[i]['answer'] for i in known)}/{len(known)}" if known else "n/a"
        rows.append(f"| {system} | {n} | {ea:.0f} | {eb:.0f} | {eb / max(ea, 1e-9) - 1:+.0%} | {wa:.1f} | {wb:.1f} "
                    f"| {sum(ca)}/{n} | {sum(cb)}/{n} | {both} | {only_a} | {only_b} | {n - both - only_a - only_b} "
                    f"| {same} |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--items", type=int, default=3)
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--layouts", default="before,after")
    ap.add_argument("--compare", metavar="A,B", help="run layouts A and B and print paired correctness (A vs B)")
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--out", default=str(HERE / "results" / "prefix"))
    ap.add_argument("--old-threads", action="store_true",
                    help="run the `before` layout with the old thread default (every engine takes all cores): "
                         "today's settings vs the old ones, for the s/item figure")
    ap.add_argument("--layout", help=argparse.SUPPRESS)  # worker mode: one (layout, system)
    ap.add_argument("--system", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.layout:
        asyncio.run(worker(args))
        return
    systems = [s for s in args.systems.split(",") if s]
    compare = [x for x in (args.compare or "").split(",") if x]
    if args.compare is not None and len(compare) != 2:
        sys.exit(f"--compare takes two layouts A,B; got {args.compare!r}")
    layouts = compare or [x for x in args.layouts.split(",") if x]
    for system in systems:
        if system not in SYSTEMS:
            sys.exit(f"unknown system {system!r}; use some of {','.join(SYSTEMS)}")
        for layout in layouts:
            if layout not in LAYOUTS:
                sys.exit(f"unknown layout {layout!r}; use some of {','.join(LAYOUTS)}")
            cmd = [sys.executable, __file__, "--layout", layout, "--system", system, "--model", args.model,
                   "--items", str(args.items), "--max-tokens", str(args.max_tokens), "--out", args.out]
            env = dict(os.environ)
            if args.old_threads and layout == "before":
                env["MASTUNE_THREADS"] = str(len(os.sched_getaffinity(0)))
            subprocess.run(cmd, check=True, env=env)
    print(f"\nGSM8K test items (split seed 0), model {args.model}, max_tokens {args.max_tokens}, "
          f"MASTUNE_THREADS={os.environ.get('MASTUNE_THREADS', 'all')}")
    print(table(run_dir(args), systems, args.model))
    if compare:
        print(f"\nPaired, {compare[0]} vs {compare[1]} (items both layouts finished):")
        print(paired(run_dir(args), systems, args.model, *compare))


if __name__ == "__main__":
    main()
