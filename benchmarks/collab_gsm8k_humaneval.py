"""M1 / CEO results: collab with and without the CEO vs CoT and self-consistency,
plus one test-time scaling sweep (critic iterations or expert token budget).

    python3 benchmarks/collab_gsm8k_humaneval.py                  # full: GSM8K 60 + HumanEval+ 30 (hours on 2 cores)
    python3 benchmarks/collab_gsm8k_humaneval.py --smoke          # tiny sizes, smallest model: checks the pipeline

Every (task, system) is a resumable `mastune eval` run folder (same seeded test
split as benchmarks/baseline.sh): re-run the same command to continue after a
kill. Writes under --out (default benchmarks/results/collab[/smoke]):
    runs/<task>/<system>/       results.jsonl, meta.json, traces/ (collab runs)
    summary.md, summary.json    accuracy (95% CI), cost, tokens, calls per system and task,
                                plus collab stats (rounds, consensus, CEO fallbacks, stop reasons)
    <task>_accuracy_cost.png    accuracy vs cost with the Pareto front
    scaling_<knob>.png          the sweep: accuracy and tokens per item vs the knob
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any, Callable

from mastune import settings
from mastune.systems.collab import build_collab_system
from mastune.eval import EvalConfig, evaluate, markdown_table, plot, summarize
from mastune.llm.cache import CallCache
from mastune.llm.pool import Pool
from mastune.systems import load_system
from mastune.tasks.datasets import get_task
from mastune.tasks.splits import split_manifest

TASKS = {"gsm8k": "gsm8k", "humaneval": "humaneval-plus"}


def sizes(args: argparse.Namespace) -> dict[str, Any]:
    """Everything that differs between the full run and the smoke run."""
    if args.smoke:
        return dict(model=args.model or "smollm2-135m", n={"gsm8k": 2, "humaneval": 1}, max_tokens=32,
                    aux_max_tokens=32, ladder=[16, 32, 48], max_turn=1, inner=2, samples=2,
                    sweep={"inner": [1, 2], "budget": [16, 32]})
    return dict(model=args.model or "qwen2.5-coder-0.5b", n={"gsm8k": args.gsm8k_n, "humaneval": args.humaneval_n},
                max_tokens=512, aux_max_tokens=384, ladder=[256, 512, 1024, 2048], max_turn=2, inner=3, samples=5,
                sweep={"inner": [1, 2, 3], "budget": [256, 512, 1024]})


def systems(pool: Pool, s: dict[str, Any], sweep: str) -> dict[str, tuple[Callable[[], Any], dict[str, Any]]]:
    """name -> (builder, options recorded in the run's meta)."""
    m = s["model"]
    collab = dict(model=m, max_tokens=s["max_tokens"], aux_max_tokens=s["aux_max_tokens"],
                  budget_ladder=s["ladder"], max_turn=s["max_turn"], max_inner_turns=s["inner"])

    def c(ceo: bool, **kw: Any) -> tuple[Callable[[], Any], dict[str, Any]]:
        opts = {**collab, **kw, "ceo": ceo}
        return (lambda: build_collab_system(pool, **opts)), opts

    out = {
        "cot": ((lambda: load_system("cot", pool, model=m, max_tokens=s["max_tokens"])), {"max_tokens": s["max_tokens"]}),
        f"sc{s['samples']}": ((lambda: load_system("self-consistency", pool, model=m, max_tokens=s["max_tokens"],
                                                   samples=s["samples"])),
                              {"max_tokens": s["max_tokens"], "samples": s["samples"]}),
        "collab": c(False),
        "collab-ceo": c(True),
    }
    for v in s["sweep"][sweep]:
        knob = {"inner": {"max_inner_turns": v}, "budget": {"max_tokens": v}}[sweep]
        if {**collab, **knob} != collab:  # the default point is the `collab` run itself
            out[f"collab-{sweep}{v}"] = c(False, **knob)
    return out


async def run_all(args: argparse.Namespace) -> Path:
    s = sizes(args)
    out = Path(args.out or ("benchmarks/results/collab/smoke" if args.smoke else "benchmarks/results/collab"))
    pool = Pool.default()
    table = systems(pool, s, args.sweep)
    sweep_tasks = ["gsm8k"] if not args.sweep_both else list(TASKS)
    for short, task in TASKS.items():
        if args.tasks and short not in args.tasks.split(","):
            continue
        full = get_task(task, split=None)
        examples = get_task(task, split="test", seed=0, limit=s["n"][short]).examples
        manifest = {**split_manifest(full.examples, seed=0, task=task), "used_ids": [e.id for e in examples]}
        for name, (build, opts) in table.items():
            if name.startswith(f"collab-{args.sweep}") and short not in sweep_tasks:
                continue
            if args.only and name not in args.only.split(","):
                continue
            run_dir = out / "runs" / short / name
            cfg = EvalConfig(system="collab" if name.startswith("collab") else name, task=task, out=str(run_dir),
                             model=s["model"], limit=s["n"][short], concurrency=args.concurrency,
                             options={"name": name, **opts}, save_traces=name.startswith("collab"))
            print(f"[{short}] {name}: {len(examples)} items ...", file=sys.stderr, flush=True)
            summary = await evaluate(cfg, build(), examples, pool=pool, split_manifest=manifest)
            print(f"[{short}] {name}: {summary.correct}/{summary.n} correct, errors {summary.errors}, "
                  f"cost ${summary.cost:.6f}", file=sys.stderr, flush=True)
    await pool.aclose()
    return out


def collab_stats(run_dir: Path) -> dict[str, Any]:
    """From saved traces: rounds, consensus, CEO fallbacks, why runs stopped."""
    traces = [json.loads(p.read_text()) for p in sorted((run_dir / "traces").glob("*.json"))]
    if not traces:
        return {}
    blocks = [t["collab"] for t in traces]
    stops: dict[str, int] = {}
    for b in blocks:
        stops[b["stop_reason"]] = stops.get(b["stop_reason"], 0) + 1
    decisions = [d for b in blocks for d in b["decisions"]]
    return {
        "rounds_per_item": round(sum(len(b["rounds"]) for b in blocks) / len(blocks), 2),
        "consensus_rate": round(sum(b["consensus"] for b in blocks) / len(blocks), 3),
        "ceo_decisions": len(decisions),
        "ceo_fallbacks": sum(1 for d in decisions if d["fallbacks"]),
        "stop_reasons": stops,
    }


def report(out: Path, sweep: str, sweep_values: list[int], default_value: int) -> None:
    lines, data = [], {}
    for short in TASKS:
        runs = sorted(p for p in (out / "runs" / short).glob("*") if (p / "meta.json").is_file())
        if not runs:
            continue
        summaries = [summarize(r) for r in runs]
        plot(summaries, out / f"{short}_accuracy_cost.png", title=f"{short}: accuracy vs cost")
        lines += [f"## {short}\n", markdown_table(summaries)]
        data[short] = {}
        for r, sm in zip(runs, summaries):
            data[short][r.name] = {"n": sm.n, "correct": sm.correct, "accuracy": sm.accuracy, "cost": sm.cost,
                                   "tokens_per_item": sm.per_item(sm.tokens), "calls_per_item": sm.per_item(sm.calls),
                                   "errors": sm.errors, "collab": collab_stats(r)}
        stats = {k: v["collab"] for k, v in data[short].items() if v["collab"]}
        if stats:
            lines.append("\ncollab stats: " + json.dumps(stats) + "\n")
    (out / "summary.md").write_text("\n".join(lines))
    (out / "summary.json").write_text(json.dumps(data, indent=2))
    scaling_plot(out, data, sweep, sweep_values, default_value)
    print("\n".join(lines))


def scaling_plot(out: Path, data: dict[str, Any], sweep: str, values: list[int], default_value: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    label = {"inner": "critic iterations (max_inner_turns)", "budget": "expert token budget (max_tokens)"}[sweep]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax2 = ax.twinx()
    for short, runs in data.items():
        pts = [(v, runs.get("collab" if v == default_value else f"collab-{sweep}{v}")) for v in values]
        pts = [(v, r) for v, r in pts if r and r["n"]]
        if len(pts) < 2:
            continue
        xs = [v for v, _ in pts]
        ax.plot(xs, [100 * r["accuracy"] for _, r in pts], "o-", label=f"{short} accuracy")
        ax2.plot(xs, [r["tokens_per_item"] for _, r in pts], "s--", alpha=0.5, label=f"{short} tokens/item")
    ax.set_xlabel(label)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax2.set_ylabel("tokens per item")
    ax.set_xticks(values)
    ax.grid(alpha=0.3)
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    if handles:
        ax.legend(handles, ax.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1], fontsize=8)
    ax.set_title(f"collab test-time scaling: {sweep}")
    fig.tight_layout()
    fig.savefig(out / f"scaling_{sweep}.png", dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes with the smallest model")
    ap.add_argument("--model", help="pool model for every role and baseline (default qwen2.5-coder-0.5b)")
    ap.add_argument("--gsm8k-n", type=int, default=60)
    ap.add_argument("--humaneval-n", type=int, default=30)
    ap.add_argument("--sweep", choices=("inner", "budget"), default="inner")
    ap.add_argument("--sweep-both", action="store_true", help="run the sweep on HumanEval+ too (default GSM8K only)")
    ap.add_argument("--concurrency", type=int, default=2, help="items in flight per run")
    ap.add_argument("--tasks", help="comma list of gsm8k,humaneval (default both)")
    ap.add_argument("--only", help="comma list of system names to run, e.g. collab,collab-ceo (default all); "
                                   "lets two processes share the work without touching the same run")
    ap.add_argument("--out")
    ap.add_argument("--no-cache", action="store_true")
    args = ap.parse_args()
    s = sizes(args)
    default_value = s["inner"] if args.sweep == "inner" else s["max_tokens"]
    with settings.context(cache=None if args.no_cache else CallCache.default()):
        out = asyncio.run(run_all(args))
    report(out, args.sweep, s["sweep"][args.sweep], default_value)
    print(f"\nresults under {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
