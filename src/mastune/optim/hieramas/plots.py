"""Stage-1 training plots from a run's stage1/log.jsonl: the reward curve, the sampling entropy
against ln(options), and the per-role x model preferences of the last iteration (paper Fig. 4)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence


def plot_stage1(log: Sequence[dict[str, Any]], path: str | Path, title: str = "HieraMAS stage 1") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not log:
        raise ValueError("the stage-1 log is empty: nothing to plot")
    its = [r["iteration"] for r in log]
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(16, 4.5), gridspec_kw={"width_ratios": [1, 1, 1.3]})
    a1.plot(its, [r.get("reward") for r in log], "o-", label="train reward (sampled)")
    val = [(r["iteration"], r["val"]["reward"]) for r in log if r.get("val")]
    if val:
        a1.plot(*zip(*val), "s--", label="validation reward (argmax)")
    a1.set_xlabel("iteration")
    a1.set_ylabel("shaped reward")
    a1.legend()
    a1.grid(alpha=0.3)

    a2.plot(its, [r.get("entropy_after", r.get("entropy")) for r in log], "o-", label="entropy at sampling T")
    if any("entropy_t1" in r for r in log):
        a2.plot(its, [r.get("entropy_t1") for r in log], ".-", label="entropy at T=1")
    if log[-1].get("entropy_uniform") is not None:
        a2.axhline(log[-1]["entropy_uniform"], color="grey", linestyle=":", label="ln(options)")
        a2.set_ylim(0, 1.08 * log[-1]["entropy_uniform"])  # from 0: how far below uniform, at a glance
    a2.set_xlabel("iteration")
    a2.set_ylabel("nats per slot")
    a2.legend()
    a2.grid(alpha=0.3)

    prefs = log[-1].get("prefs")
    if prefs:
        roles = list(prefs)
        cols = list(next(iter(prefs.values())))
        grid = [[prefs[r][c] for c in cols] for r in roles]
        im = a3.imshow(grid, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        a3.set_xticks(range(len(cols)), cols, rotation=30, ha="right", fontsize=8)
        a3.set_yticks(range(len(roles)), roles, fontsize=8)
        for i, row in enumerate(grid):
            for j, v in enumerate(row):
                a3.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v < 0.5 else "black")
        fig.colorbar(im, ax=a3, label="softmax over models (mean over slots, queries)")
        a3.set_title(f"per-role model preference, iteration {log[-1]['iteration']}")
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
