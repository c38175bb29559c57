"""Compare finished runs: a table (accuracy with 95% CI, cost, tokens, calls,
latency, unparsed, errors) and an accuracy-vs-cost plot with the Pareto front."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import ConfigError
from .results import ResultsFile
from .stats import pareto_front, wilson_interval


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
    cfg = json.loads(meta_path.read_text())["config"]
    latest = ResultsFile(run_dir / "results.jsonl").latest().values()
    ok = [r for r in latest if r.get("status") == "ok"]
    errors = sum(r.get("status") == "error" for r in latest)
    return RunSummary(
        name=run_dir.name,
        system=cfg.get("system", "?"),
        model=cfg.get("model") or "(config)",
        task=cfg.get("task", "?"),
        n=len(ok),
        correct=sum(bool(r["correct"]) for r in ok),
        unparsed=sum(not r.get("parsed", True) for r in ok),
        errors=errors,
        cost=sum(r["usage"]["cost"] for r in ok),
        tokens=sum(r["usage"]["prompt_tokens"] + r["usage"]["completion_tokens"] for r in ok),
        calls=sum(r.get("calls", 0) for r in ok),
        wall_s=sum(r.get("wall_s", 0.0) for r in ok),
    )


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


def markdown_table(summaries: Sequence[RunSummary]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r) + " |" for r in rows(summaries)]
    return "\n".join(lines) + "\n"


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
        ax.annotate(s.name, (x, 100 * y), textcoords="offset points", xytext=(5, 5), fontsize=8)
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
