"""Agent nodes: one call, or a supernode (P proposers in parallel, then a synthesiser).

A plain agent is the degenerate supernode (one slot, no synthesiser).
`resolve_skips` turns HieraMAS "skip" assignments into the topology that runs.
"""
from __future__ import annotations

import dataclasses

from ..errors import ConfigError
from ..graph.topology import SKIP, Node, Topology
from .answers import extract_answer
from .runtime import NodeOutput, Runtime, gather_all, gen_params
from .transcript import node_prompt, transcript_of


async def run_agent(rt: Runtime, node: Node, inputs: list[tuple[Node, NodeOutput]]) -> NodeOutput:
    prompt = node_prompt(node, inputs, node.prompt, question=rt.question, family_name=rt.family,
                         answers=node.answers)
    if node.synthesiser is None:
        if len(node.models) != 1:
            raise ConfigError(f"node {node.id!r}: an agent without a synthesiser takes exactly one model, got {node.models}")
        max_tokens, temperature = gen_params(node.params)
        text = await rt.call(node.id, "agent", node.models[0], prompt, max_tokens=max_tokens, temperature=temperature)
    else:
        max_tokens, temperature = gen_params(node.params, "proposer_")
        proposals = await gather_all(
            rt.call(node.id, f"proposer {i}", m, prompt, max_tokens=max_tokens, temperature=temperature)
            for i, m in enumerate(node.models)
        )
        template = node.params.get("synth_prompt") or ("synthesise" if len(proposals) > 1 else "synthesise_one")
        synth = node_prompt(node, inputs, template, question=rt.question,
                            family_name=rt.family, proposals=proposals, answers=node.answers)
        max_tokens, temperature = gen_params(node.params)
        text = await rt.call(node.id, "synthesiser", node.synthesiser, synth, max_tokens=max_tokens,
                             temperature=temperature)
    # A successor continues the role's own prompt answered by the node's final text (for a supernode
    # the synthesis, not the drafts: successors see what the text layout shows them, nothing more).
    return NodeOutput(text, extract_answer(text, rt.family) if node.answers else None,
                      transcript=transcript_of(node, inputs, prompt, text))


def resolve_skips(topology: Topology) -> tuple[Topology, list[str]]:
    """Apply skip assignments; return (topology to run, what was dropped and why).

    - a proposer slot set to "skip" is dropped;
    - if every proposer skips, one fallback proposer on the synthesiser's model
      is kept (the node's synthesiser is a model the assignment already trusts);
    - a synthesiser "skip" (or a plain agent's only slot) removes the whole node:
      no calls, and its edges vanish, so successors and the decision node do not
      see it (no bridging of its predecessors to its successors);
    - nodes whose output can no longer reach the system's output are not run;
    - at least one answer-producing agent must remain.
    """
    output = topology.output_id
    notes: list[str] = []
    kept: list[Node] = []
    for n in topology.nodes:
        if n.kind != "agent":
            kept.append(n)
            continue
        if n.synthesiser == SKIP or (n.synthesiser is None and n.models == [SKIP]):
            notes.append(f"{n.id}: removed (synthesiser skip)")
            continue
        models = [m for m in n.models if m != SKIP]
        if n.synthesiser is not None and len(models) < len(n.models):
            if models:
                notes.append(f"{n.id}: {len(n.models) - len(models)} proposer(s) skipped")
            else:
                models = [n.synthesiser]
                notes.append(f"{n.id}: all proposers skipped; fallback proposer on {n.synthesiser}")
        kept.append(dataclasses.replace(n, models=models))
    ids = {n.id for n in kept}
    if output not in ids:
        raise ConfigError(f"the output node {output!r} was skipped; it must run")
    active = Topology(kept, [(s, d) for s, d in topology.edges if s in ids and d in ids], output)

    live = _reaching(active, output)
    notes += [f"{n.id}: not run (its output reaches no answer)" for n in active.nodes if n.id not in live]
    active = active.subgraph(live)

    if not any(n.kind == "agent" and n.answers for n in active.nodes):
        raise ConfigError("every answer-producing role was skipped; at least one must remain")
    preds = active.predecessors()
    for n in active.nodes:
        if n.kind in ("decision", "vote") and not preds[n.id]:
            raise ConfigError(f"{n.kind} node {n.id!r} has no inputs left after skips")
    return active, notes


def _reaching(topology: Topology, target: str) -> set[str]:
    preds = topology.predecessors()
    seen, stack = {target}, [target]
    while stack:
        for p in preds[stack.pop()]:
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return seen
