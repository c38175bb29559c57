"""`mastune trace show trace.json`: a run's topology with per-node models, calls, tokens, cost."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table
from rich.tree import Tree

from ..agents.trace import Trace
from ..errors import MastuneError
from .common import console, err_console

app = typer.Typer(help="Inspect run traces.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Inspect run traces."""  # keeps `show` a sub-command even while it is the only one


def _order(trace: Trace) -> list[str]:
    """Nodes in run order: the DAG's topological order, or the recorded order of a loop's roles."""
    return trace.topology.topo_order() if trace.topology is not None else list(trace.nodes)


def _models(trace: Trace, node_id: str) -> str:
    if trace.topology is None:  # a loop's role: the models its calls used
        return ", ".join(dict.fromkeys(c.model for c in trace.calls_of(node_id))) or "-"
    node = trace.topology.node(node_id)
    if node.synthesiser:
        return f"{', '.join(node.models)} -> {node.synthesiser}"
    return ", ".join(node.models) or "-"


def node_table(trace: Trace) -> Table:
    preds = trace.topology.predecessors() if trace.topology is not None else {}
    t = Table(title=f"{trace.system} ({trace.family}): {len(trace.calls)} calls, {trace.wall_s:.2f}s", show_lines=False)
    for col, justify in (("node", "left"), ("kind", "left"), ("role", "left"), ("models", "left"), ("reads", "left"),
                         ("calls", "right"), ("tokens", "right"), ("cost", "right"), ("answer", "left"), ("", "left")):
        t.add_column(col, justify=justify)
    for nid in _order(trace):
        node = trace.topology.node(nid) if trace.topology is not None else None
        rec = trace.nodes.get(nid)
        u = rec.usage if rec else None
        skipped = rec is None or rec.status != "done"
        t.add_row(
            nid, ("supernode" if node.synthesiser else node.kind) if node else "role", (node.role if node else nid) or "",
            _models(trace, nid), ", ".join(preds.get(nid, [])), str(u.calls) if u else "", str(u.total_tokens) if u else "",
            f"{u.cost:.6f}" if u else "", "" if skipped else str(rec.answer if rec.answer is not None else "-")[:30],
            "[dim]skipped[/]" if skipped else (rec.note or ""),
            style="dim" if skipped else None,
        )
    return t


def call_tree(trace: Trace) -> Tree:
    tree = Tree(f"[b]{trace.system}[/]  answer: {trace.extracted_answer!r}")
    for nid in _order(trace):
        calls = trace.calls_of(nid)
        branch = tree.add(f"{nid}" + ("" if calls else "  [dim](no call)[/]"))
        for c in calls:
            branch.add(f"{c.slot}: {c.model}  {c.usage.prompt_tokens}+{c.usage.completion_tokens} tok  "
                       f"{c.usage.latency_s:.2f}s" + ("  (cache)" if c.usage.cache_hits else ""))
    return tree


def image_labels(trace: Trace) -> dict[str, str]:
    labels = {}
    for node in trace.topology.nodes:
        rec = trace.nodes.get(node.id)
        lines = [node.label, _models(trace, node.id)]
        if rec and rec.status == "done":
            lines.append(f"{rec.usage.calls} calls, {rec.usage.total_tokens} tok")
        else:
            lines.append("skipped")
        labels[node.id] = "\n".join(lines)
    return labels


@app.command("show")
def show(
    path: Path = typer.Argument(..., help="trace JSON written by `mastune run --trace` or Trace.to_json"),
    image: Optional[Path] = typer.Option(None, "--image", help="where to write the drawing (default: next to the trace, .png)"),
    no_image: bool = typer.Option(False, "--no-image", help="terminal output only"),
    calls: bool = typer.Option(True, "--calls/--no-calls", help="list every call under its node"),
) -> None:
    """Render a trace's topology in the terminal and as an image."""
    try:
        trace = Trace.from_json(path)
    except (OSError, ValueError, KeyError, MastuneError) as e:
        err_console.print(f"[red]error:[/] cannot read trace {path}: {e}")
        raise typer.Exit(1)
    console.print(node_table(trace))
    if calls:
        console.print(call_tree(trace))
    for note in trace.dropped:
        console.print(f"[dim]dropped: {note}[/]")
    u = trace.usage
    console.print(f"total: {u.calls} calls, {u.prompt_tokens}+{u.completion_tokens} tokens, cost {u.cost:.6f}")
    if not no_image and trace.topology is None:
        console.print(f"[dim]no drawing: {trace.system} is a loop of roles, not a DAG[/]")
    elif not no_image:
        from ..graph.draw import draw_topology

        out = image or path.with_suffix(".png")
        skipped = {i for i in trace.topology.ids if i not in trace.nodes or trace.nodes[i].status != "done"}
        draw_topology(trace.topology, out, image_labels(trace), skipped,
                      title=f"{trace.system}: {trace.question[:60]}")
        console.print(f"image: {out}")
