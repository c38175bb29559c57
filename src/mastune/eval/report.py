"""Compare finished runs: a table (accuracy with 95% CI, cost, tokens, calls,
latency, unparsed, errors), paired comparisons on the items two runs share, and an
accuracy-vs-cost plot with the Pareto front.

Runs of different tasks answer different items: they are never paired or put on one
front. `by_task` splits them, and a report has one table, one set of comparisons and
one plot per task."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..errors import ConfigError
from ..jsonl import ResultsFile
from .stats import mcnemar_exact, pareto_front, wilson_interval


@dataclass
class RunSummary:
    name: str
    system: str
    model: str
    task: str
    n: int
    correct: int
    unparsed: int
    errors: int
    cost: float
    tokens: int
    calls: int
    wall_s: float
    outcomes: dict[str, bool] = field(default_factory=dict, repr=False)  # item id -> right, for paired()

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    @property
    def ci(self) -> tuple[float, float]:
        return wilson_interval(self.correct, self.n)

    def per_item(self, total: float) -> float:
        return total / self.n if self.n else 0.0


def summarize(run_dir: str | Path) -> RunSummary:
    run_dir = Path(run_dir)
    meta_path = run_dir / "meta.json"
    if not meta_path.exists():
        raise ConfigError(f"{run_dir} is not a run folder (no meta.json); make one with `mastune eval --out {run_dir}`")
    try:
        cfg = json.loads(meta_path.read_text())["config"]
        if not isinstance(cfg, dict):
            raise TypeError
    except (json.JSONDecodeError, KeyError, TypeError):
        raise ConfigError(f"{meta_path} is not a run's meta.json (no 'config' object); was it edited?") from None
    latest = ResultsFile(run_dir / "results.jsonl").latest().values()
    ok = [r for r in latest if r.get("status") == "ok"]
    errors = sum(r.get("status") == "error" for r in latest)
    return RunSummary(
        name=run_dir.name,
        system=cfg.get("system", "?"),
        model=cfg.get("model") or "(config)",
        task=cfg.get("task", "?"),
        n=len(ok),
        correct=sum(bool(r.get("correct")) for r in ok),
        unparsed=sum(not r.get("parsed", True) for r in ok),
        errors=errors,
        cost=sum(_usage(r, "cost") for r in ok),
        tokens=sum(_usage(r, "prompt_tokens") + _usage(r, "completion_tokens") for r in ok),
        calls=sum(r.get("calls", 0) for r in ok),
        wall_s=sum(r.get("wall_s", 0.0) for r in ok),
        outcomes={r["id"]: bool(r.get("correct")) for r in ok},
    )


def _usage(rec: dict, key: str) -> float:
    """A usage number of a record; hand-edited or foreign records may lack it (counted as 0)."""
    usage = rec.get("usage")
    v = usage.get(key, 0) if isinstance(usage, dict) else 0
    return v if isinstance(v, (int, float)) else 0


def by_task(summaries: Sequence[RunSummary]) -> dict[str, list[RunSummary]]:
    """The runs grouped by task, tasks in order of first appearance, runs in the given order."""
    groups: dict[str, list[RunSummary]] = {}
    for s in summaries:
        groups.setdefault(s.task, []).append(s)
    return groups


def task_plot_path(path: str | Path, task: str, n_tasks: int) -> Path:
    """One plot per task: report.png stays as is for one task, else report-TASK.png for each."""
    path = Path(path)
    if n_tasks <= 1:
        return path
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in task)
    return path.with_name(f"{path.stem}-{safe}{path.suffix or '.png'}")


def markdown_report(summaries: Sequence[RunSummary]) -> str:
    """The runs table and paired comparisons as Markdown; a section per task when there are several."""
    groups = by_task(summaries)
    parts = []
    if len(groups) > 1:
        parts.append(f"{NOT_PAIRED}\n")
    for task, runs in groups.items():
        if len(groups) > 1:
            parts.append(f"## {task}\n")
        parts.append(markdown_table(runs))
        comparisons = [paired(runs[0], r) for r in runs[1:]]
        if comparisons:
            parts.append(paired_markdown(comparisons))
    return "\n".join(parts)


NOT_PAIRED = ("Runs of different tasks answer different items, so they are not paired or compared: "
              "each task has its own table, comparisons and plot.")


def run_labels(run_dirs: Sequence[str | Path]) -> list[str]:
    """A name for each run: its folder name, or where that collides (eval/single of two experiments),
    the shortest tail of its path that no other run shares."""
    parts = [Path(r).resolve().parts for r in run_dirs]
    labels = []
    for i, p in enumerate(parts):
        for k in range(1, len(p) + 1):
            if all(q[-k:] != p[-k:] for j, q in enumerate(parts) if j != i):
                break
        labels.append("/".join(p[-k:]))
    return labels


@dataclass
class Paired:
    """Two runs on the items both answered: accuracy differences that a table of
    independent 95% CIs hides (two systems can differ on many items and still tie)."""
    base: str
    other: str
    n: int
    base_correct: int
    other_correct: int
    base_only: int  # items right under base and wrong under other
    other_only: int

    @property
    def p_value(self) -> float:
        return mcnemar_exact(self.base_only, self.other_only)


def paired(base_run: RunSummary, other_run: RunSummary) -> Paired:
    base, other = base_run.outcomes, other_run.outcomes
    common = base.keys() & other.keys()
    return Paired(
        base=base_run.name, other=other_run.name, n=len(common),
        base_correct=sum(base[i] for i in common), other_correct=sum(other[i] for i in common),
        base_only=sum(base[i] and not other[i] for i in common),
        other_only=sum(other[i] and not base[i] for i in common),
    )


PAIRED_COLUMNS = ("base", "other", "shared items", "base right", "other right", "base only", "other only",
                  "McNemar p")


def paired_rows(comparisons: Sequence[Paired]) -> list[list[str]]:
    return [[c.base, c.other, str(c.n), str(c.base_correct), str(c.other_correct), str(c.base_only),
             str(c.other_only), f"{c.p_value:.3f}"] for c in comparisons]


def paired_markdown(comparisons: Sequence[Paired]) -> str:
    return _markdown(PAIRED_COLUMNS, paired_rows(comparisons))


COLUMNS = ("run", "system", "model", "task", "n", "accuracy", "95% CI", "cost $", "$/item",
           "tokens/item", "calls/item", "s/item", "unparsed", "errors")


def rows(summaries: Sequence[RunSummary]) -> list[list[str]]:
    out = []
    for s in summaries:
        lo, hi = s.ci
        out.append([
            s.name, s.system, s.model, s.task, str(s.n), f"{100 * s.accuracy:.1f}%", f"[{100 * lo:.1f}, {100 * hi:.1f}]",
            f"{s.cost:.6f}", f"{s.per_item(s.cost):.2e}", f"{s.per_item(s.tokens):.0f}", f"{s.per_item(s.calls):.1f}",
            f"{s.per_item(s.wall_s):.1f}", str(s.unparsed), str(s.errors),
        ])
    return out


def _markdown(columns: Sequence[str], table: list[list[str]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(r) + " |" for r in table]
    return "\n".join(lines) + "\n"


def markdown_table(summaries: Sequence[RunSummary]) -> str:
    return _markdown(COLUMNS, rows(summaries))


def point_labels(summaries: Sequence[RunSummary]) -> dict[tuple[float, float], str]:
    """One label per (cost per item, accuracy) point: runs that land on the same point (an
    ablation that changed nothing) share it, instead of printing over each other."""
    names: dict[tuple[float, float], list[str]] = {}
    for s in summaries:
        names.setdefault((s.per_item(s.cost), s.accuracy), []).append(s.name)
    return {pt: " =\n".join(n) for pt, n in names.items()}


def plot(summaries: Sequence[RunSummary], path: str | Path, title: str = "accuracy vs cost") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = [(s.per_item(s.cost), s.accuracy) for s in summaries]
    front = pareto_front(pts)
    fig, ax = plt.subplots(figsize=(7, 5))
    for s, (x, y) in zip(summaries, pts):
        lo, hi = s.ci
        ax.errorbar(x, 100 * y, yerr=[[100 * (y - lo)], [100 * (hi - y)]], fmt="o", capsize=3, color="tab:blue", alpha=0.8)
    for (x, y), label in point_labels(summaries).items():
        ax.annotate(label, (x, 100 * y), textcoords="offset points", xytext=(5, 5), fontsize=8)
    fx = [pts[i][0] for i in front]
    fy = [100 * pts[i][1] for i in front]
    ax.step(fx, fy, where="post", color="tab:red", label="Pareto front", linewidth=1.5)
    ax.scatter(fx, fy, s=120, facecolors="none", edgecolors="tab:red")
    if all(x > 0 for x, _ in pts):
        ax.set_xscale("log")
    ax.set_xlabel("cost per item ($)")
    ax.set_ylabel("accuracy (%) with 95% CI")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
