"""The collaboration loop on a scripted team: every CEO decision acts on the next round."""
import json
import re

import pytest

from mastune.systems.collab import CollabTrace, build_collab_system
from mastune.errors import ConfigError

Q = "What is 2 + 2?"


def ceo_says(decision="Continue", n=2, direction="check the arithmetic", tokens=512):
    return f"Decision: {decision}\nRecruit number: {n}\nDirection: {direction}\nMaximum tokens: {tokens}"


def rounds_of(requests):
    """Round index of each call, from the trace slots (in call order)."""
    return [int(re.match(r"round (\d+)", c.slot).group(1)) for c in requests]


def solver_requests_by_round(result):
    out = {}
    for call in result.trace.calls:
        if call.node in ("solver", "critics"):
            r = int(re.match(r"round (\d+)", call.slot).group(1))
            out.setdefault(r, []).append(call)
    return out


async def test_ceo_stop_ends_the_run_with_the_current_solution(team):
    t = team(ceo=[ceo_says(), ceo_says("Stop")], solver=["first \\boxed{4}", "second \\boxed{5}"])
    system = build_collab_system(t.pool, ceo=True, model="m", max_turn=3)
    result = await system.run(Q, "math")
    trace = result.trace
    assert trace.stop_reason == "ceo_stop"
    assert len(trace.rounds) == 1 and len(t.requests("recruiter")) == 1
    assert [d["stop"] for d in trace.decisions] == [False, True]
    assert result.answer_text == "first \\boxed{4}" and result.extracted_answer == "4"
    # nothing ran after the Stop decision
    assert trace.calls[-1].node == "ceo"


async def test_stop_before_any_solution_is_ignored_and_noted(team):
    t = team(ceo=ceo_says("Stop"))
    result = await build_collab_system(t.pool, ceo=True, model="m", max_turn=2).run(Q, "math")
    first = result.trace.decisions[0]
    assert first["stop"] is False and "Stop ignored: no solution yet" in first["notes"]
    assert len(result.trace.rounds) == 1 and result.trace.stop_reason == "ceo_stop"


async def test_recruit_number_sets_the_next_rounds_experts(team):
    t = team(ceo=[ceo_says(n=1), ceo_says(n=4)], critic="[Disagree]")
    result = await build_collab_system(t.pool, ceo=True, model="m", max_turn=2, max_inner_turns=1).run(Q, "math")
    r1, r2 = result.trace.rounds
    assert (r1.experts, r2.experts) == (1, 4)
    assert len(r1.roles) == 1 and len(r2.roles) == 4
    critics = [c for c in result.trace.calls if c.node == "critics"]
    assert rounds_of(critics) == [2, 2, 2]  # round 1: a lone solver, round 2: three critics
    recruiter_prompts = [q["messages"][-1]["content"] for q in t.requests("recruiter")]
    assert "exactly 1 expert" in recruiter_prompts[0] and "exactly 4 expert" in recruiter_prompts[1]
    assert r1.consensus is True  # no critic to disagree


async def test_budget_sets_max_tokens_of_the_next_rounds_expert_calls(team):
    t = team(ceo=[ceo_says(tokens=256), ceo_says(tokens=2048)], critic="[Disagree]")
    result = await build_collab_system(t.pool, ceo=True, model="m", max_turn=2, max_inner_turns=2).run(Q, "math")
    by_round = solver_requests_by_round(result)
    assert {c.max_tokens for c in by_round[1]} == {256}
    assert {c.max_tokens for c in by_round[2]} == {2048}
    assert [r.max_tokens for r in result.trace.rounds] == [256, 2048]
    # the other roles keep their fixed budget
    assert {c.max_tokens for c in result.trace.calls if c.node in ("ceo", "recruiter", "evaluator")} == {384}


async def test_budget_off_the_ladder_snaps_to_the_nearest_rung(team):
    t = team(ceo=ceo_says(tokens=900))
    result = await build_collab_system(t.pool, ceo=True, model="m", max_turn=1).run(Q, "math")
    assert result.trace.rounds[0].max_tokens == 1024
    assert result.trace.decisions[0]["notes"] == ["budget 900 snapped to 1024"]


async def test_direction_reaches_the_solver_prompts(team):
    t = team(ceo=[ceo_says(direction="use modular arithmetic"), ceo_says(direction="recount the apples")],
             critic="[Disagree]")
    await build_collab_system(t.pool, ceo=True, model="m", max_turn=2, max_inner_turns=1).run(Q, "math")
    solver = [q["messages"][-1]["content"] for q in t.requests("solver")]
    assert len(solver) == 4  # per round: draft + one revision
    assert all("Direction from the CEO: use modular arithmetic" in p for p in solver[:2])
    assert all("Direction from the CEO: recount the apples" in p for p in solver[2:])


async def test_malformed_ceo_output_falls_back_and_is_counted(team):
    t = team(ceo=["I think the team is doing great, keep going!", ceo_says(n=3, tokens=1024)])
    result = await build_collab_system(t.pool, ceo=True, model="m", max_turn=2, experts=2, max_tokens=512).run(Q, "math")
    trace = result.trace
    d1, d2 = trace.decisions
    assert d1["fallbacks"] == ["decision", "recruit_number", "direction", "max_tokens"]
    assert (d1["stop"], d1["experts"], d1["max_tokens"], d1["direction"]) == (False, 2, 512, "")
    assert d2["fallbacks"] == []
    assert trace.ceo_fallbacks == 1
    assert [(r.experts, r.max_tokens) for r in trace.rounds] == [(2, 512), (3, 1024)]
    assert trace.to_dict()["collab"]["ceo_fallbacks"] == 1
    assert "Direction from the CEO" not in t.requests("solver")[0]["messages"][-1]["content"]


async def test_consensus_ends_the_discussion(team):
    verdicts = iter(["[Disagree]", "[Agree]", "[Agree]", "[Agree]"])
    t = team(critic=lambda messages, n: f"review {n} {next(verdicts)}")
    result = await build_collab_system(t.pool, ceo=False, model="m", experts=3, max_turn=1,
                                       max_inner_turns=3).run(Q, "math")
    rec = result.trace.rounds[0]
    assert rec.verdicts == [["disagree", "agree"], ["agree", "agree"]]
    assert rec.consensus and result.trace.consensus
    solver = [c.slot for c in result.trace.calls if c.node == "solver"]
    assert solver == ["round 1 draft", "round 1 revision 1"]
    # the revision reads only the critic that disagreed
    revise = t.requests("solver")[1]["messages"][-1]["content"]
    assert "Critic 1" in revise and "Critic 2" not in revise


async def test_no_consensus_runs_every_critic_iteration(team):
    t = team(critic="Wrong. [Disagree]")
    result = await build_collab_system(t.pool, ceo=False, model="m", max_turn=1, max_inner_turns=3).run(Q, "math")
    rec = result.trace.rounds[0]
    assert rec.inner_turns == 3 and not rec.consensus
    assert len(t.requests("solver")) == 4  # draft + 3 revisions


async def test_missing_verdict_counts_as_not_agreeing(team):
    t = team(critic="Seems fine to me.")
    result = await build_collab_system(t.pool, ceo=False, model="m", max_turn=1, max_inner_turns=1).run(Q, "math")
    assert result.trace.rounds[0].verdicts == [["missing"]] and not result.trace.consensus


async def test_evaluator_correct_ends_the_run_and_feedback_reaches_the_next_round(team):
    t = team(evaluator=["Correctness: 0\nAdvice: recount carefully\nRecruiting suggestion: an accountant",
                        "Correctness: 1\nAdvice: none\nRecruiting suggestion: none"])
    result = await build_collab_system(t.pool, ceo=False, model="m", max_turn=5).run(Q, "math")
    assert result.trace.stop_reason == "evaluator_correct" and len(result.trace.rounds) == 2
    second_solver = t.requests("solver")[1]["messages"][-1]["content"]
    assert "recount carefully" in second_solver and "Your team's previous solution" in second_solver
    assert "an accountant" in t.requests("recruiter")[1]["messages"][-1]["content"]


async def test_without_ceo_runs_max_turn_rounds_with_fixed_resources(team):
    t = team()
    result = await build_collab_system(t.pool, ceo=False, model="m", max_turn=2, experts=3, max_tokens=300).run(Q, "math")
    assert result.trace.stop_reason == "max_turn"
    assert [(r.experts, r.max_tokens) for r in result.trace.rounds] == [(3, 300), (3, 300)]
    assert not t.requests("ceo") and result.trace.decisions == []


async def test_usage_and_trace_cover_every_call(team):
    t = team()
    result = await build_collab_system(t.pool, ceo=True, model="m", max_turn=2).run(Q, "math")
    assert result.calls == len(result.trace.calls) == len(t.lm.requests)
    assert result.usage.total_tokens == sum(c.usage.total_tokens for c in result.trace.calls)
    assert result.trace.nodes["solver"].answer == "4"
    assert sum(n.usage.calls for n in result.trace.nodes.values()) == result.calls
    data = json.loads(json.dumps(result.trace.to_dict()))
    again = CollabTrace.from_dict(data)
    assert again.to_dict() == result.trace.to_dict()


async def test_heterogeneous_models_per_role(team):
    from mastune.llm import FakeLM

    t = team(critic="[Disagree]")
    other = FakeLM("small", fn=lambda m, r: "Nope. [Disagree]")
    pool = {"m": t.lm, "small": other}
    # no `model`: the roles keep their own models; the rest use the pool's first model
    system = build_collab_system(pool, ceo=False, experts=4, max_turn=1, max_inner_turns=1,
                                 roles={"critic": {"model": ["m", "small"]}})
    result = await system.run(Q, "math")
    critics = [c for c in result.trace.calls if c.node == "critics"]
    assert [c.model for c in critics] == ["m", "small", "m"]


def test_unknown_model_fails_before_any_call(team):
    t = team()
    with pytest.raises(ConfigError, match="not in the pool"):
        build_collab_system(t.pool, ceo=False, roles={"ceo": {"model": "nope"}})


def test_model_puts_every_role_on_one_model(team):
    t = team()
    system = build_collab_system({**t.pool, "other": t.lm}, ceo=True, model="other",
                                 roles={"critic": {"model": ["m"]}, "ceo": {"temperature": 0.0}})
    assert {system.model(r) for r in ("ceo", "recruiter", "solver", "critic", "evaluator")} == {"other"}
    assert system.config.temperature_for("ceo") == 0.0  # settings other than the model stay
