"""What a HieraMAS training run learned, from its folder (no LLM calls):

    python3 benchmarks/hieramas_policy_report.py --ckpt benchmarks/results/hieramas_mmlu/ckpt [--test-size 150]

Prints the stage-1 summary (episodes, episodes/hour, entropy at the sampling temperature against
ln(options), the reward curve), the stage-2 held-out per-query ROC-AUC with its spread, and the
topologies the system picks on --test-size test items of the run's task (a seeded sample when
the run trained on one, else the first N) (distinct DAGs,
density, pairwise Jaccard: the paper's Fig. 3); writes CKPT/stage1.png (reward, entropy, and the
per-role x model preferences of the paper's Fig. 4). The pool defaults to the run's own model
names when they are built-in models (no engine is loaded: plans need names and prices only).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from mastune.jsonl import read_jsonl
from mastune.llm.pool import Pool
from mastune.optim.hieramas import TrainConfig, build_hieramas_system
from mastune.optim.hieramas.analysis import format_spread, format_stage1, format_topology, stage1_summary, topology_stats
from mastune.optim.hieramas.plots import plot_stage1
from mastune.tasks.selection import select_examples


def run_pool(ckpt: Path, spec: str | None) -> Pool:
    if spec:
        return Pool.load(spec)
    names = json.loads((ckpt / "config.json").read_text())["pool_models"]
    return Pool.from_dict({"models": [{"name": n, "model": n} for n in names]}, source=f"{ckpt} pool models")


def test_topologies(ckpt: Path, pool: Pool, n: int, candidates: int) -> dict:
    cfg = TrainConfig.load(ckpt)
    has_classifier = (ckpt / "classifier.pt").is_file()
    system = build_hieramas_system(ckpt, pool, n_candidates=candidates, graph_classifier=has_classifier)
    graphs = []
    # the convention the run was trained with: a seeded sample of the split (cfg.sample) or its first n
    test = select_examples(cfg.task, split="test", seed=cfg.split_seed, **({"sample": n} if cfg.sample else {"limit": n}))
    for ex in test.examples:
        plan = system.plan(ex.question, ex.family)
        names = [r.name for r in plan.roles]
        graphs.append((names, [(names[a], names[b]) for a, b in plan.edges]))
    return {"chosen_by": "classifier" if has_classifier else "random DAG (no classifier)", **topology_stats(graphs)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True, type=Path)
    ap.add_argument("--pool", help="pool YAML (default: the run's built-in model names)")
    ap.add_argument("--test-size", type=int, default=150)
    ap.add_argument("--candidates", type=int, default=100)
    args = ap.parse_args(argv)

    log = read_jsonl(args.ckpt / "stage1" / "log.jsonl") if (args.ckpt / "stage1" / "log.jsonl").is_file() else []
    s1 = stage1_summary(log)
    print(format_stage1(s1))
    if log:
        print("reward curve:", " ".join(f"{r:+.2f}" for r in s1["reward_curve"] if r is not None))
        print(f"plot: {plot_stage1(log, args.ckpt / 'stage1.png', title=str(args.ckpt))}")
    report = args.ckpt / "stage2" / "report.json"
    if report.is_file():
        r = json.loads(report.read_text())
        h = r.get("heldout")
        print(f"stage 2: {r['n_graphs']} graphs from {r['n_queries']} queries ({r['n_positive']} positive)")
        if h:
            print(f"held-out ({h['split']}): {h['queries']} queries, {h['queries_with_auc']} with both labels; "
                  + format_spread("per-query ROC-AUC", h["query_auc"]))
    if (args.ckpt / "selector.pt").is_file():
        topo = test_topologies(args.ckpt, run_pool(args.ckpt, args.pool), args.test_size, args.candidates)
        print(f"test topologies ({topo['chosen_by']}):\n{format_topology(topo)}")
        print(json.dumps(topo["most_common"], indent=2))


if __name__ == "__main__":
    main()
