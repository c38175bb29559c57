"""HieraMAS on GSM8K with the local pool: train (stage 1 + 2), then evaluate against baselines.

    python3 benchmarks/hieramas_gsm8k.py            # full: hours on 2 CPU cores; resumable
    python3 benchmarks/hieramas_gsm8k.py --smoke    # tiny sizes on SmolLM2-135M: checks the pipeline

To use several cores, split the work across processes (each folder has one writer):
    ... --alpha0 --phase train --only ckpt        and   ... --alpha0 --phase train --only ckpt-alpha0
    ... --alpha0 --phase eval --only hieramas,hieramas-no-graph   and   ... --phase eval --only random-...
A final run without --only (or --phase report) writes the summary over every finished run.

Training uses the seeded train/valid split of GSM8K (split seed 0), evaluation
the first --test-size items of the test split of the same seeded split, so
training and test items never overlap. Systems compared on the same items:
    cot-<model>            single model, chain of thought, for every pool model
    full-<strongest>       role agents over a full graph, every slot on the strongest model
    random-<strongest>     role agents over a random DAG, strongest model
    hieramas               learned LLM selection + graph classifier (the method)
    hieramas-no-graph      ablation: random DAG instead of the classifier's pick
    hieramas-no-selection  ablation: every slot on the strongest model, classifier kept
    hieramas-alpha0        ablation (with --alpha0): trained with final reward only (node reward weight 0)
"Strongest" is the priciest pool model (prices track parameter count locally).
Everything is resumable: re-run the same command after a kill. Writes under --out
(default benchmarks/results/hieramas[/smoke]):
    ckpt/, ckpt-alpha0/         training runs (config.json, selector.pt, classifier.pt, stage logs)
    runs/<system>/              results.jsonl + meta.json per system (mastune eval format)
    summary.md, summary.json    accuracy (95% CI), cost, tokens, calls per item; training summary
    accuracy_cost.png           accuracy vs cost with the Pareto front
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from mastune import settings
from mastune.agents.trace import Trace
from mastune.eval import EvalConfig, evaluate, markdown_table, paired, paired_markdown, plot, summarize, trace_path
from mastune.llm.cache import CallCache
from mastune.llm.pool import Pool
from mastune.optim.hieramas import (RewardConfig, RuntimeOptions, SelectorConfig, TrainConfig, build_hieramas_system,
                                    train_stage1, train_stage2)
from mastune.optim.hieramas.features import PoolInfo
from mastune.optim.hieramas.train import val_rank
from mastune.jsonl import read_jsonl
from mastune.systems import load_system
from mastune.tasks.base import Example
from mastune.tasks.datasets import get_task
from mastune.tasks.grade import grade
from mastune.tasks.splits import split_manifest

TASK = "gsm8k"
SPLIT_SEED = 0


def smoke_pool() -> Pool:
    """Two entries on the smallest model at different prices: a routing choice that costs seconds."""
    common = {"backend": "embedded", "model": "smollm2-135m", "n_parallel": 4, "ctx_per_slot": 2048}
    return Pool.from_dict({"models": [
        {"name": "smol-cheap", "price": {"input": 0.01, "output": 0.01}, **common},
        {"name": "smol-dear", "price": {"input": 0.5, "output": 0.5}, **common},
    ], "default": "smol-cheap"})


def sizes(args: argparse.Namespace) -> dict[str, Any]:
    if args.smoke:
        return dict(train=2, stage2=2, val=1, test=2, iterations=1, batch=1, val_every=1, k_dags=2, proposers=1,
                    max_tokens=16, eval_max_tokens=16, epochs=3, candidates=20)
    return dict(train=args.train_size, stage2=args.stage2_size, val=args.val_size, test=args.test_size,
                iterations=args.iterations, batch=args.batch_size, val_every=args.val_every, k_dags=args.k_dags,
                proposers=2, max_tokens=args.max_tokens, eval_max_tokens=args.eval_max_tokens, epochs=200,
                candidates=100)


def train_config(s: dict[str, Any], args: argparse.Namespace, decision_model: str, alpha: float) -> TrainConfig:
    return TrainConfig(
        task=TASK, seed=args.seed, split_seed=SPLIT_SEED, train_size=s["train"], val_size=s["val"],
        embedder=args.embedder, proposers=s["proposers"], concurrency=args.concurrency, iterations=s["iterations"],
        batch_size=s["batch"], val_every=s["val_every"], k_dags=s["k_dags"],
        lr=args.lr, steps_per_batch=args.steps_per_batch, baseline=args.baseline, temp_start=args.temp_start,
        runtime=RuntimeOptions(decision_model=decision_model, max_tokens=s["max_tokens"]),
        reward=RewardConfig(alpha=alpha), selector=SelectorConfig(allow_skip=not args.no_skip),
        classifier={"epochs": s["epochs"]},
    )


async def train(cfg: TrainConfig, pool: Pool, out: Path, s: dict[str, Any]) -> None:
    train_set = get_task(TASK, split="train", seed=SPLIT_SEED, limit=s["train"]).examples
    val_set = get_task(TASK, split="valid", seed=SPLIT_SEED, limit=s["val"]).examples
    print(f"training {out}: {len(train_set)} train / {len(val_set)} valid queries", file=sys.stderr, flush=True)
    await train_stage1(cfg, pool, train_set, val_set, out)
    try:
        await train_stage2(cfg, pool, train_set[: s["stage2"]], out)
    except ValueError as e:  # the selector keeps < 2 supernodes everywhere: no topology to learn
        print(f"stage 2 skipped: {e}", file=sys.stderr)
        (out / "stage2").mkdir(exist_ok=True)
        (out / "stage2" / "skipped.txt").write_text(str(e))


def training_summary(ckpt: Path) -> dict[str, Any]:
    """Read from the run folder, so the summary is the same whichever process trained it."""
    log = read_jsonl(ckpt / "stage1" / "log.jsonl")
    vals = [r["val"] for r in log if r.get("val")]
    info: dict[str, Any] = {"stage1_iterations": len(log),
                            "stage1_best_val": max(vals, key=val_rank) if vals else None,
                            "stage1_train_accuracy": [r["accuracy"] for r in log]}
    if (ckpt / "stage2" / "report.json").is_file():
        info["stage2"] = json.loads((ckpt / "stage2" / "report.json").read_text())
    elif (ckpt / "stage2" / "skipped.txt").is_file():
        info["stage2"] = {"skipped": (ckpt / "stage2" / "skipped.txt").read_text()}
    return info


def systems(pool: Pool, s: dict[str, Any], out: Path, strongest: str,
            alpha0: bool) -> dict[str, tuple[str, Callable[[], Any], dict[str, Any]]]:
    """name -> (system kind for the run's meta, builder, options recorded in the meta)."""
    mt = s["eval_max_tokens"]
    table: dict[str, tuple[str, Callable[[], Any], dict[str, Any]]] = {}
    for m in pool.names():
        table[f"cot-{m}"] = ("cot", lambda m=m: load_system("cot", pool, model=m, max_tokens=mt),
                             {"model": m, "max_tokens": mt})
    for layout in ("full", "random"):
        table[f"{layout}-{strongest}"] = (layout, lambda layout=layout: load_system(layout, pool, model=strongest,
                                                                                      max_tokens=mt),
                                          {"model": strongest, "max_tokens": mt})
    has_classifier = (out / "ckpt" / "classifier.pt").is_file()

    def hm(ckpt: str, **kw: Any) -> tuple[str, Callable[[], Any], dict[str, Any]]:
        opts = {"checkpoint": str(out / ckpt), "n_candidates": s["candidates"], "max_tokens": mt, **kw}
        return "hieramas", (lambda: build_hieramas_system(opts["checkpoint"], pool, **{
            k: v for k, v in opts.items() if k != "checkpoint"})), opts

    table["hieramas"] = hm("ckpt", graph_classifier=has_classifier)
    if has_classifier:
        table["hieramas-no-graph"] = hm("ckpt", graph_classifier=False)
    table["hieramas-no-selection"] = hm("ckpt", graph_classifier=has_classifier, llm_selection=False,
                                        single_model=strongest)
    if alpha0:
        table["hieramas-alpha0"] = hm("ckpt-alpha0",
                                      graph_classifier=(out / "ckpt-alpha0" / "classifier.pt").is_file())
    return table


def selected(name: str, only: set[str] | None) -> bool:
    return only is None or name in only


async def run_all(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    s = sizes(args)
    pool = Pool.load(args.pool) if args.pool else (smoke_pool() if args.smoke else Pool.default())
    strongest = args.strongest or PoolInfo.of(pool).strongest()
    decision = args.decision_model or strongest
    only = set(args.only.split(",")) if args.only else None
    ckpts = {"ckpt": 0.5, **({"ckpt-alpha0": 0.0} if args.alpha0 else {})}
    if args.phase in ("train", "all"):
        for name, alpha in ckpts.items():
            if selected(name, only):
                await train(train_config(s, args, decision, alpha), pool, out / name, s)
    if args.phase in ("eval", "all"):
        await evaluate_systems(args, out, pool, s, strongest, only and only - set(ckpts))
    await pool.aclose()
    return {"strongest": strongest, "decision_model": decision, "sizes": s,
            "training": {name: training_summary(out / name) for name in ckpts}}


async def evaluate_systems(args: argparse.Namespace, out: Path, pool: Pool, s: dict[str, Any], strongest: str,
                           only: set[str] | None) -> None:
    full = get_task(TASK, split=None)
    examples = get_task(TASK, split="test", seed=SPLIT_SEED, limit=s["test"]).examples
    manifest = {**split_manifest(full.examples, seed=SPLIT_SEED, task=TASK), "used_ids": [e.id for e in examples]}
    table = systems(pool, s, out, strongest, args.alpha0)
    unknown = (only or set()) - set(table)
    if unknown:
        raise SystemExit(f"--only names no system: {sorted(unknown)}; systems: {sorted(table)}")
    for name, (kind, build, opts) in table.items():
        if not selected(name, only):
            continue
        if kind == "hieramas" and not (Path(opts["checkpoint"]) / "selector.pt").is_file():
            print(f"{name}: skipped, {opts['checkpoint']} has no trained selector yet", file=sys.stderr)
            continue
        cfg = EvalConfig(system=kind, task=TASK, out=str(out / "runs" / name), model=opts.get("model"),
                         split="test", seed=SPLIT_SEED, limit=s["test"], concurrency=args.concurrency,
                         pool=args.pool, options={"name": name, **opts}, save_traces=kind == "hieramas")
        print(f"{name}: {len(examples)} items ...", file=sys.stderr, flush=True)
        summary = await evaluate(cfg, build(), examples, pool=pool, split_manifest=manifest)
        print(f"{name}: {summary.correct}/{summary.n} correct, errors {summary.errors}, cost ${summary.cost:.6f}",
              file=sys.stderr, flush=True)


def selection_profile(run: Path) -> dict[str, Any] | None:
    """What a HieraMAS run chose on the test set, read from its saved traces: model per slot, agents, DAGs."""
    traces = sorted((run / "traces").glob("*.json"))
    if not traces:
        return None
    picks: Counter[str] = Counter()
    dags: Counter[str] = Counter()
    agents = edges = 0
    for path in traces:
        topo = Trace.from_json(path).topology
        roles = {n.id: n for n in topo.nodes if n.kind == "agent"}
        role_edges = sorted(f"{roles[a].label} -> {roles[b].label}" for a, b in topo.edges if a in roles and b in roles)
        agents += len(roles)
        edges += len(role_edges)
        dags["; ".join(role_edges) or "(no edges)"] += 1
        for n in roles.values():
            picks.update(f"proposer:{m}" for m in n.models)
            if n.synthesiser:
                picks[f"synthesiser:{n.synthesiser}"] += 1
    n = len(traces)
    return {"queries": n, "agents_per_query": agents / n, "role_edges_per_query": edges / n,
            "slot_picks": dict(sorted(picks.items())), "dags": dict(dags.most_common())}


def answer_flow(run: Path) -> dict[str, Any] | None:
    """Where right answers appeared and where they were lost: per role and slot, how many calls
    reached the gold answer, from the saved traces and the graded results (math answers)."""
    rows = read_jsonl(run / "results.jsonl") if (run / "results.jsonl").is_file() else []
    slots: dict[str, list[int]] = {}
    counts: Counter[str] = Counter()
    for row in rows:
        path = trace_path(run, row["id"])
        if row.get("status") != "ok" or not path.is_file():
            continue
        trace = Trace.from_json(path)
        item = Example(row["id"], trace.question, row["gold"], trace.family)  # graded by the rule the run used
        hits = []
        for call in trace.calls:
            hit = grade(item, call.output).correct
            tally = slots.setdefault(f"{call.node} {call.slot.split()[0]}", [0, 0])
            tally[0] += hit
            tally[1] += 1
            hits.append(hit)
        counts["items"] += 1
        counts["some_call_right"] += any(hits)
        counts["final_right"] += bool(row["correct"])
    if not counts:
        return None
    return {**counts, "right_per_slot": {k: f"{r}/{n}" for k, (r, n) in sorted(slots.items())}}


def report(out: Path, info: dict[str, Any]) -> str:
    runs = sorted(p for p in (out / "runs").glob("*") if (p / "meta.json").is_file())
    summaries = [summarize(r) for r in runs]
    if summaries:
        plot(summaries, out / "accuracy_cost.png", title="GSM8K test: accuracy vs cost (local pool)")
    cot = [sm for sm in summaries if sm.name.startswith("cot-")]
    best_cot = max(cot, key=lambda sm: sm.accuracy).name if cot else None
    data = {sm.name: {"n": sm.n, "correct": sm.correct, "accuracy": sm.accuracy, "ci95": sm.ci, "cost": sm.cost,
                      "cost_per_item": sm.per_item(sm.cost), "tokens_per_item": sm.per_item(sm.tokens),
                      "calls_per_item": sm.per_item(sm.calls), "unparsed": sm.unparsed, "errors": sm.errors}
            for sm in summaries}
    profiles = {sm.name: prof for sm, run in zip(summaries, runs) if (prof := selection_profile(run))}
    flows = {sm.name: flow for sm, run in zip(summaries, runs) if sm.name in profiles and (flow := answer_flow(run))}
    method = next((sm for sm in summaries if sm.name == "hieramas"), None)
    comparisons = [paired(method, sm) for sm in summaries if sm is not method] if method else []
    text = (f"# HieraMAS on GSM8K (test, first {info['sizes']['test']} items of the seed-{SPLIT_SEED} split)\n\n"
            f"strongest model: {info['strongest']}; decision model: {info['decision_model']}; "
            f"best single-model CoT: {best_cot}\n\n" + markdown_table(summaries)
            + ("\n## hieramas paired with each run (items both answered; exact McNemar test)\n\n"
               + paired_markdown(comparisons) if comparisons else "")
            + "\n## what HieraMAS chose on the test set (from traces)\n\n```json\n"
            + json.dumps(profiles, indent=2) + "\n```\n"
            + "\n## where right answers appeared and were lost (calls reaching the gold answer)\n\n```json\n"
            + json.dumps(flows, indent=2) + "\n```\n"
            + "\n## training\n\n```json\n" + json.dumps(info["training"], indent=2, default=str) + "\n```\n")
    (out / "summary.md").write_text(text)
    paired_rows = [{**vars(c), "p_value": c.p_value} for c in comparisons]
    (out / "summary.json").write_text(json.dumps({**info, "best_single_cot": best_cot, "systems": data,
                                                  "choices": profiles, "answer_flow": flows, "paired": paired_rows},
                                                 indent=2, default=str))
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes on two SmolLM2-135M entries")
    ap.add_argument("--pool", help="pool YAML (default: the built-in local pool; --smoke: SmolLM2 at two prices)")
    ap.add_argument("--out")
    ap.add_argument("--train-size", type=int, default=200, help="stage-1 query pool (train split)")
    ap.add_argument("--stage2-size", type=int, default=40, help="training queries labelled for stage 2 (x k-dags runs)")
    ap.add_argument("--val-size", type=int, default=16)
    ap.add_argument("--test-size", type=int, default=100)
    ap.add_argument("--iterations", type=int, default=12)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--val-every", type=int, default=4)
    # The update rule of the first attempt (results/hieramas/ckpt was trained with it, so its folder
    # resumes and reports unchanged); issue 18's rule is --lr 0.01 --steps-per-batch 4 --baseline mean
    # --temp-start 2 (the mastune train hieramas defaults), with a new --out.
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--steps-per-batch", type=int, default=1)
    ap.add_argument("--baseline", default="none")
    ap.add_argument("--temp-start", type=float, default=10.0)
    ap.add_argument("--k-dags", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=384, help="per call while training")
    ap.add_argument("--eval-max-tokens", type=int, default=512,
                    help="per call on the test set, for every system (512 = benchmarks/baseline.sh, so the cot and "
                         "full-graph runs are shared through the call cache)")
    ap.add_argument("--strongest", help="model for the full/random baselines and --no-llm-selection")
    ap.add_argument("--decision-model", help="HieraMAS decision node (default: the strongest model)")
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--no-skip", action="store_true", help="selector may not skip slots/supernodes")
    ap.add_argument("--alpha0", action="store_true", help="also train + evaluate the node-reward-weight-0 ablation")
    ap.add_argument("--phase", choices=["train", "eval", "report", "all"], default="all",
                    help="train the checkpoints, evaluate the systems, or only write the summary")
    ap.add_argument("--only", help="comma-separated training runs (ckpt, ckpt-alpha0) and/or systems to run")
    ap.add_argument("--concurrency", type=int, default=4, help="queries in flight")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-cache", action="store_true")
    args = ap.parse_args()
    out = Path(args.out or ("benchmarks/results/hieramas/smoke" if args.smoke else "benchmarks/results/hieramas"))
    out.mkdir(parents=True, exist_ok=True)
    cache = None if args.no_cache else CallCache.default()  # shared with `mastune eval` runs
    with settings.context(cache=cache):
        info = asyncio.run(run_all(args, out))
    print(report(out, info))
    print(f"results under {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
