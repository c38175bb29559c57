"""Supernode, skip resolution and decision/vote nodes, run on FakeLM."""

import pytest

from mastune.agents import NodeOutput, Runtime, Trace, resolve_skips
from mastune.agents.decision import run_decision, run_vote
from mastune.agents.supernode import run_agent
from mastune.errors import ConfigError
from mastune.graph import Node, Topology
from mastune.llm import FakeLM


def runtime(pool, family="math"):
    t = Topology([Node("x", models=["a"])])
    return Runtime("What is 2+2?", family, pool, Trace("test", "q", family, t))


def inp(label, text, answer):
    return (Node(label, role=label), NodeOutput(text, answer))


async def test_supernode_proposers_then_synthesiser():
    models = {name: FakeLM(name, fn=lambda m, r, n=name: f"draft by {n} \\boxed{{4}}") for name in "abc"}
    rt = runtime(models)
    node = Node("solver", role="Math Solver", prompt="role", models=["a", "b"], synthesiser="c")
    out = await run_agent(rt, node, [inp("Inspector", "looks fine", "4")])
    slots = [(c.slot, c.model) for c in rt.trace.calls]
    assert sorted(slots[:2]) == [("proposer 0", "a"), ("proposer 1", "b")] and slots[2] == ("synthesiser", "c")
    synth_prompt = rt.trace.calls[2].messages[-1]["content"]
    assert "Draft 1:\ndraft by a" in synth_prompt and "Draft 2:\ndraft by b" in synth_prompt
    assert "Agent Inspector said:" in synth_prompt  # the synthesiser also sees the node's inputs
    for c in rt.trace.calls[:2]:
        assert "Agent Inspector said:\nlooks fine" in c.messages[-1]["content"]
    assert out.text == "draft by c \\boxed{4}" and out.answer == "4"
    assert "Several drafts were written" in synth_prompt and "Check the drafts critically" in synth_prompt


async def test_a_supernode_with_one_proposer_is_told_of_one_draft():
    models = {name: FakeLM(name, fn=lambda m, r, n=name: f"draft by {n} \\boxed{{4}}") for name in "ac"}
    rt = runtime(models)
    await run_agent(rt, Node("solver", role="Math Solver", prompt="role", models=["a"], synthesiser="c"), [])
    synth_prompt = rt.trace.calls[1].messages[-1]["content"]
    assert "A draft was written" in synth_prompt and "Check the draft critically" in synth_prompt
    assert "Several" not in synth_prompt and "Draft 1:\ndraft by a" in synth_prompt


async def test_plain_agent_is_one_call_and_non_answering_roles_extract_nothing():
    rt = runtime({"a": FakeLM("a", responses=["def f(): pass"])}, family="code")
    out = await run_agent(rt, Node("pm", role="Project Manager", prompt="role", models=["a"], answers=False), [])
    assert out.answer is None and len(rt.trace.calls) == 1 and rt.trace.calls[0].slot == "agent"


def skip_topology(solver_models, solver_synth, inspector_synth="m"):
    return Topology(
        [
            Node("analyst", role="Mathematical Analyst", prompt="role", models=["m", "m"], synthesiser="m"),
            Node("solver", role="Math Solver", prompt="role", models=solver_models, synthesiser=solver_synth),
            Node("inspector", role="Inspector", prompt="role", models=["m"], synthesiser=inspector_synth),
            Node("decision", kind="decision", prompt="decision", models=["m"]),
        ],
        [("analyst", "solver"), ("solver", "inspector"), ("analyst", "inspector"),
         ("analyst", "decision"), ("solver", "decision"), ("inspector", "decision")],
        output="decision",
    )


def test_proposer_skip_is_dropped():
    active, notes = resolve_skips(skip_topology(["skip", "big"], "small"))
    assert active.node("solver").models == ["big"]
    assert any("1 proposer(s) skipped" in n for n in notes)


def test_all_proposers_skip_keeps_one_on_the_synthesiser_model():
    active, notes = resolve_skips(skip_topology(["skip", "skip"], "small"))
    assert active.node("solver").models == ["small"]
    assert any("fallback proposer on small" in n for n in notes)


def test_synthesiser_skip_removes_the_node_and_its_edges():
    active, notes = resolve_skips(skip_topology(["a", "b"], "skip"))
    assert "solver" not in active.ids
    assert ("analyst", "inspector") in active.edges
    assert not any("solver" in e for e in active.edges)
    assert active.predecessors()["decision"] == ["analyst", "inspector"]
    assert notes == ["solver: removed (synthesiser skip)"]


def test_at_least_one_answering_role_must_remain():
    t = skip_topology(["a"], "skip", inspector_synth="skip")
    t.nodes[0].synthesiser = "skip"
    with pytest.raises(ConfigError, match="at least one must remain"):
        resolve_skips(t)


def test_nodes_that_reach_no_answer_are_not_run():
    t = Topology([Node("pm", models=["m"], answers=False), Node("designer", models=["m"], answers=False),
                  Node("coder", models=["m"]), Node("decision", kind="decision", models=["m"])],
                 [("pm", "coder"), ("pm", "designer"), ("coder", "decision")], output="decision")
    active, notes = resolve_skips(t)
    assert active.ids == ["pm", "coder", "decision"]
    assert notes == ["designer: not run (its output reaches no answer)"]


def test_skipped_output_node_is_an_error():
    t = Topology([Node("a", models=["skip"])])
    with pytest.raises(ConfigError, match="output node 'a' was skipped"):
        resolve_skips(t)


async def test_decision_consensus_shortcut_makes_no_call():
    lm = FakeLM("m", responses=["\\boxed{9}"])
    rt = runtime({"m": lm})
    node = Node("decision", kind="decision", prompt="decision", models=["m"])
    out = await run_decision(rt, node, [inp("A", "x \\boxed{4}", "4"), inp("B", "y \\boxed{4.0}", "4.0")])
    assert out.answer == "4" and out.note == "consensus" and lm.requests == []


@pytest.mark.parametrize("answers", [["4", "5"], ["4", None]])
async def test_decision_calls_the_model_when_answers_differ_or_are_missing(answers):
    lm = FakeLM("m", responses=["Weighing both: \\boxed{5}"])
    rt = runtime({"m": lm})
    node = Node("decision", kind="decision", prompt="decision", models=["m"])
    out = await run_decision(rt, node, [inp("A", "a", answers[0]), inp("B", "b", answers[1])])
    assert out.answer == "5" and len(lm.requests) == 1
    prompt = lm.requests[0]["messages"][-1]["content"]
    assert "Agent A said:\na" in prompt and "Agent B said:\nb" in prompt


async def test_vote_majority_without_calls():
    rt = runtime({})
    outs = [inp(f"s{i}", f"t{i}", a) for i, a in enumerate(["3", "5", None, "5.0", "3", "5"])]
    out = await run_vote(rt, Node("vote", kind="vote"), outs)
    assert out.answer == "5" and out.text == "t1" and out.note == "majority 3/6"
