"""Draw a topology as an image: a layered layout computed here, matplotlib for pixels.

Layer = longest-path depth (left to right); inside a layer nodes are ordered
by the mean position of their predecessors (one barycentre pass: fewer crossings).
Uses matplotlib's object API, never pyplot, so no global backend state is touched.
"""
from __future__ import annotations

from pathlib import Path

from .topology import Topology

COLOURS = {"agent": "#cfe3f7", "supernode": "#cdebd0", "decision": "#f8d7a8", "vote": "#f6eda0", "skipped": "#e4e4e4"}


def layered_layout(topology: Topology) -> dict[str, tuple[float, float]]:
    level = topology.levels()
    preds = topology.predecessors()
    layers: dict[int, list[str]] = {}
    for i in topology.topo_order():
        layers.setdefault(level[i], []).append(i)
    pos: dict[str, tuple[float, float]] = {}
    for x in sorted(layers):
        ids = layers[x]
        if x > 0:
            def bary(i: str) -> float:
                ys = [pos[p][1] for p in preds[i]]
                return sum(ys) / len(ys) if ys else 0.0
            ids = sorted(ids, key=bary, reverse=True)
        for k, i in enumerate(ids):
            pos[i] = (float(x), (len(ids) - 1) / 2 - k)
    return pos


def draw_topology(
    topology: Topology,
    path: str | Path,
    labels: dict[str, str] | None = None,
    skipped: set[str] | frozenset[str] = frozenset(),
    title: str = "",
) -> Path:
    from matplotlib.figure import Figure

    pos = layered_layout(topology)
    n_layers = max(x for x, _ in pos.values()) + 1
    height = max(sum(1 for p in pos.values() if p[0] == x) for x in range(int(n_layers)))
    fig = Figure(figsize=(2.0 + 2.6 * n_layers, 1.2 + 1.3 * height))
    ax = fig.add_subplot()
    ax.set_axis_off()
    for s, d in topology.edges:
        dashed = s in skipped or d in skipped
        # Edges that jump over a layer bend, so they do not run behind the nodes in between.
        span = pos[d][0] - pos[s][0]
        rad = 0.35 / span if span > 1 else 0.0  # constant sag whatever the length
        ax.annotate("", xy=pos[d], xytext=pos[s], zorder=1,
                    arrowprops=dict(arrowstyle="-|>", color="#bbbbbb" if dashed else "#555555",
                                    linestyle="--" if dashed else "-", shrinkA=28, shrinkB=28, lw=1.0,
                                    connectionstyle=f"arc3,rad={rad}"))
    for node in topology.nodes:
        kind = "skipped" if node.id in skipped else ("supernode" if node.synthesiser else node.kind)
        text = (labels or {}).get(node.id, node.label)
        ax.text(*pos[node.id], text, ha="center", va="center", fontsize=7, zorder=2,
                bbox=dict(boxstyle="round,pad=0.4", fc=COLOURS[kind], ec="#777777"))
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.7, max(ys) + 0.7)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    return path
