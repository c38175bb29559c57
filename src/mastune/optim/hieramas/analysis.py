"""What a HieraMAS run learned, in numbers: the policy's training curve, the classifier's
held-out per-query ROC-AUC with its spread, and the topologies it picks (paper Figs. 3-4).

Plain functions over the run folder's logs and over plans: no LLM calls.
"""
from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any, Hashable, Iterable, Sequence

import numpy as np

from ...eval.stats import roc_auc


def spread(values: Sequence[float]) -> dict[str, float] | None:
    """n, mean, sd (sample), min, quartiles, max; None for no values."""
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    if not len(v):
        return None
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return {"n": int(len(v)), "mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "min": float(v.min()), "q1": float(q1), "median": float(med), "q3": float(q3), "max": float(v.max())}


def group_aucs(groups: Sequence[Hashable], labels: Sequence[float], scores: Sequence[float]) -> dict[Hashable, float]:
    """ROC-AUC per group (query) that holds both labels (the others have no AUC)."""
    by: dict[Hashable, tuple[list, list]] = defaultdict(lambda: ([], []))
    for g, y, s in zip(groups, labels, scores):
        by[g][0].append(y)
        by[g][1].append(s)
    return {g: a for g, (ys, ss) in by.items() if (a := roc_auc(ys, ss)) is not None}


def format_spread(name: str, s: dict[str, float] | None) -> str:
    if s is None:
        return f"{name}: none"
    return (f"{name}: {s['mean']:.3f} ± {s['sd']:.3f} (n={s['n']}; min {s['min']:.2f}, quartiles "
            f"{s['q1']:.2f} / {s['median']:.2f} / {s['q3']:.2f}, max {s['max']:.2f})")


# ---- stage 1: the policy ---------------------------------------------------------------

def stage1_summary(log: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Episodes, episodes/hour (training episodes over the time spent running them, and over the
    whole iteration time with validation), the entropy against ln(options), the reward curve."""
    if not log:
        return {"iterations": 0}
    episodes = sum(r.get("episodes", len(r.get("queries", []))) for r in log)  # older logs: no "episodes"
    run_s = sum(r.get("episodes_s", 0.0) for r in log)
    total_s = sum(r.get("time_s", 0.0) for r in log)
    val_eps = sum((r.get("val") or {}).get("n", 0) for r in log)
    first, last = log[0], log[-1]
    return {
        "iterations": len(log), "episodes": episodes, "val_episodes": val_eps,
        "episodes_per_hour": episodes / run_s * 3600 if run_s else None,
        "all_episodes_per_hour": (episodes + val_eps) / total_s * 3600 if total_s else None,
        "hours": total_s / 3600,
        "entropy_uniform": last.get("entropy_uniform"),
        "entropy_first": first.get("entropy"), "entropy_last": last.get("entropy_after", last.get("entropy")),
        "reward_curve": [r.get("reward") for r in log],
        "accuracy_curve": [r.get("accuracy") for r in log],
        "final_prefs": last.get("prefs"),
    }


def format_stage1(s: dict[str, Any]) -> str:
    if not s.get("iterations"):
        return "stage 1: no iterations logged"
    eph = s["episodes_per_hour"]
    h0, h1, hu = s["entropy_first"], s["entropy_last"], s["entropy_uniform"]
    ent = ("entropy not logged" if None in (h0, h1) else
           f"entropy at the sampling temperature {h0:.3f} -> {h1:.3f}"
           + (f" (uniform ln(options) = {hu:.3f})" if hu is not None else ""))
    return (f"stage 1: {s['iterations']} iterations, {s['episodes']} training + {s['val_episodes']} validation "
            f"episodes in {s['hours']:.2f} h; " + (f"{eph:.0f} training episodes/hour; " if eph else "") + ent)


# ---- stage 2 and inference: the topologies ---------------------------------------------

def density(n_nodes: int, n_edges: int) -> float | None:
    """Edges over the n(n-1)/2 a DAG on n nodes can have; None below 2 nodes."""
    return n_edges / (n_nodes * (n_nodes - 1) / 2) if n_nodes >= 2 else None


def jaccard(a: Iterable, b: Iterable) -> float:
    a, b = set(a), set(b)
    return len(a & b) / len(a | b) if a | b else 1.0


def topology_stats(graphs: Sequence[tuple[Sequence[str], Sequence[tuple[str, str]]]]) -> dict[str, Any]:
    """Over the graphs chosen for a set of queries (role names, role-name edges), as in the paper's
    Figure 3: how many distinct DAGs, their density, and the pairwise Jaccard similarity of the
    edge sets (1 everywhere = one graph for every query, the classifier learned a constant)."""
    keys = [(tuple(sorted(roles)), tuple(sorted(map(tuple, edges)))) for roles, edges in graphs]
    dens = [density(len(r), len(e)) for r, e in keys]
    edge_sets = [set(e) for _, e in keys]
    pairs = [jaccard(a, b) for a, b in itertools.combinations(edge_sets, 2)]
    counts: dict[str, int] = defaultdict(int)
    for _, e in keys:
        counts["; ".join(f"{s} -> {d}" for s, d in e) or "(no edges)"] += 1
    return {"queries": len(keys), "distinct_dags": len(set(keys)), "distinct_role_sets": len({r for r, _ in keys}),
            "roles_per_query": spread([len(r) for r, _ in keys]), "density": spread([d for d in dens if d is not None]),
            "pairwise_jaccard": spread(pairs),
            "most_common": dict(sorted(counts.items(), key=lambda kv: -kv[1])[:5])}


def format_topology(s: dict[str, Any]) -> str:
    return "\n".join([
        f"{s['queries']} queries: {s['distinct_dags']} distinct DAGs over {s['distinct_role_sets']} role sets",
        format_spread("roles per query", s["roles_per_query"]),
        format_spread("density", s["density"]),
        format_spread("pairwise Jaccard of the chosen edge sets", s["pairwise_jaccard"]),
    ])

