"""Nodes that turn several answers into one: the decision node and the vote."""
from __future__ import annotations

from collections import Counter

from ..graph.topology import Node
from .answers import answer_key, extract_answer, majority, unanimous
from .runtime import NodeOutput, Runtime, gen_params
from .transcript import node_prompt


async def run_decision(rt: Runtime, node: Node, inputs: list[tuple[Node, NodeOutput]]) -> NodeOutput:
    """A fixed LLM decides, unless every input already gives the same answer.

    The consensus shortcut saves a call where a judge could only agree (or,
    worse, talk itself out of a unanimous answer).
    """
    answers = [out.answer for _, out in inputs]
    if node.params.get("consensus", True) and unanimous(answers, rt.family):
        return NodeOutput(inputs[0][1].text, answers[0], note="consensus")
    prompt = node_prompt(node, inputs, node.prompt, question=rt.question, family_name=rt.family)
    max_tokens, temperature = gen_params(node.params)
    text = await rt.call(node.id, "decision", node.models[0], prompt, max_tokens=max_tokens, temperature=temperature)
    return NodeOutput(text, extract_answer(text, rt.family))


async def run_vote(rt: Runtime, node: Node, inputs: list[tuple[Node, NodeOutput]]) -> NodeOutput:
    """Majority over the inputs' extracted answers (ties: the earliest input); no call."""
    answers = [out.answer for _, out in inputs]
    best = majority(answers, rt.family)
    if best is None:
        return NodeOutput(inputs[0][1].text, None, note=f"no parsed answer among {len(inputs)}")
    counts = Counter(answer_key(a, rt.family) for a in answers if a is not None)
    votes = counts[answer_key(answers[best], rt.family)]
    return NodeOutput(inputs[best][1].text, answers[best], note=f"majority {votes}/{len(inputs)}")
