"""The transcript prompt layout on FakeLM: successors continue a predecessor's conversation."""
import re

import pytest

from mastune.agents import NodeOutput
from mastune.agents.prompts import messages
from mastune.agents.transcript import Transcript, node_prompt
from mastune.errors import ConfigError
from mastune.graph import Node
from mastune.llm import FakeLM
from mastune.systems import load_system

GRAPH_SYSTEMS = ["chain", "full", "hieramas-fixed", "layered", "random", "star"]


def role_of(msgs):
    return re.search(r"You are the (.+?)\. ", msgs[-1]["content"]).group(1) \
        if "You are the" in msgs[-1]["content"] else "decision"


def reply(msgs, request):
    return f"<{role_of(msgs)}> says \\boxed{{{len(msgs)}}}"


def seen(msgs):
    """Whose outputs a call was shown: earlier assistant turns (their author) and 'Agent X said' blocks."""
    authors = [re.match(r"<(.+?)>", m["content"]).group(1) for m in msgs if m["role"] == "assistant"]
    quoted = [x for m in msgs if m["role"] == "user" for x in re.findall(r"^Agent (.+?) said:$", m["content"], re.M)]
    return sorted(authors + quoted)


async def run(name, layout, family="math", **kw):
    lm = FakeLM("m", fn=reply)
    result = await load_system(name, {"m": lm}, model="m", prompt_layout=layout, **kw).run("What is 3+4?", family)
    return result.trace


@pytest.mark.parametrize("name", GRAPH_SYSTEMS)
@pytest.mark.parametrize("family", ["math", "code", "mcq"])
async def test_every_call_sees_exactly_its_predecessors(name, family):
    trace = await run(name, "transcript", family)
    preds = trace.topology.predecessors()
    labels = {n.id: n.label for n in trace.topology.nodes}
    for call in trace.calls:
        expected = sorted(labels[p] for p in preds[call.node] if trace.nodes[p].status == "done")
        assert seen(call.messages) == expected, (call.node, call.slot)


async def test_full_graph_successors_continue_the_conversation():
    trace = await run("full", "transcript")
    calls = {c.node: c for c in trace.calls}
    assert list(calls) == ["mathematical_analyst", "math_solver", "inspector", "decision"]
    order = list(calls.values())
    for prev, nxt in zip(order, order[1:]):
        n = len(prev.messages)
        # the successor's prompt is the predecessor's prompt, its reply, then one new user turn
        assert nxt.messages[:n] == prev.messages
        assert nxt.messages[n] == {"role": "assistant", "content": prev.output}
        assert len(nxt.messages) == n + 2 and nxt.messages[-1]["role"] == "user"
        assert "Task:" not in nxt.messages[-1]["content"] and "said:" not in nxt.messages[-1]["content"]
    assert order[-1].messages[-1]["content"].startswith("You make the final decision")


async def test_text_layout_is_unchanged_by_default():
    text = await run("full", "text")
    default = await load_system("full", {"m": FakeLM("m", fn=reply)}, model="m").run("What is 3+4?", "math")
    assert [c.messages for c in text.calls] == [c.messages for c in default.trace.calls]
    assert all(len(c.messages) == 2 for c in text.calls)
    assert "prompt_layout" not in default.trace.topology.node("decision").params


async def test_chain_does_not_leak_ancestors_through_a_conversation():
    """A chain's Inspector reads only the Solver: the Solver's conversation also holds the Analyst,
    so the Inspector falls back to the text layout."""
    trace = await run("chain", "transcript")
    inspector = next(c for c in trace.calls if c.node == "inspector")
    assert len(inspector.messages) == 2 and seen(inspector.messages) == ["Math Solver"]
    solver = next(c for c in trace.calls if c.node == "math_solver")
    assert [m["role"] for m in solver.messages] == ["system", "user", "assistant", "user"]


async def test_supernode_successors_continue_the_role_prompt_answered_by_the_synthesis():
    trace = await run("hieramas-fixed", "transcript", proposers=2)
    analyst = [c for c in trace.calls if c.node == "mathematical_analyst"]
    synth = next(c for c in analyst if c.slot == "synthesiser")
    proposer = next(c for c in analyst if c.slot.startswith("proposer"))
    solver = next(c for c in trace.calls if c.node == "math_solver" and c.slot == "proposer 0")
    assert solver.messages[:3] == [*proposer.messages, {"role": "assistant", "content": synth.output}]
    solver_synth = next(c for c in trace.calls if c.node == "math_solver" and c.slot == "synthesiser")
    assert solver_synth.messages[:3] == solver.messages[:3] and "Draft 1:" in solver_synth.messages[-1]["content"]


def test_another_system_message_falls_back_to_text():
    a = Node("a", role="Mathematical Analyst", params={"prompt_layout": "transcript"})
    b = Node("b", role="Math Solver", params={"prompt_layout": "transcript"})
    foreign = Transcript(({"role": "system", "content": "You are a pirate."}, {"role": "user", "content": "Q"},
                          {"role": "assistant", "content": "plan"}), frozenset({"a"}))
    prompt = node_prompt(b, [(a, NodeOutput("plan", transcript=foreign))], "role", question="Q", family_name="math")
    assert prompt == messages("role", question="Q", family_name="math", role="Math Solver",
                              inputs=[("Mathematical Analyst", "plan")])


def test_unknown_prompt_layout_is_a_config_error():
    with pytest.raises(ConfigError, match="prompt_layout 'chat' is not one of"):
        load_system("full", {"m": FakeLM("m", fn=reply)}, prompt_layout="chat")
