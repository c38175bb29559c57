"""Every built-in system on FakeLM: structure, skips, voting, rollouts, usage, errors."""
import dataclasses
import re
import time

import pytest

from mastune import settings
from mastune.errors import ConfigError, LLMError
from mastune.graph import NodeError
from mastune.llm import CallCache, FakeLM
from mastune.systems import System, SystemConfig, builtin_systems, load_config, load_system

BUILTINS = ["chain", "cot", "debate", "full", "hieramas-fixed", "layered", "moa", "random", "self-consistency",
            "single", "star"]


def role_of(messages):
    # the role line comes after the shared task and predecessors (prompt layout for prefix reuse)
    m = re.search(r"^You are the (.+?)\. |\n\nYou are the (.+?)\. ", messages[-1]["content"], re.M)
    return (m.group(1) or m.group(2)) if m else "?"


def seen_in(messages):
    """Whose outputs a call was shown, in either prompt layout: 'Agent X said' blocks in the user turns
    (text) and the authors of earlier assistant turns (transcript: a predecessor's conversation)."""
    authors = [re.match(r"(.+?) saw ", m["content"]).group(1) for m in messages if m["role"] == "assistant"]
    quoted = [x for m in messages if m["role"] == "user" for x in re.findall(r"^Agent (.+?) said:$", m["content"], re.M)]
    return sorted(authors + quoted)


def echo(answers=None, default="7"):
    """Reply with who I am, which agents I was shown, and an answer (per role)."""

    def fn(messages, request):
        role = role_of(messages)
        ans = (answers or {}).get(role, default)
        return f"{role} saw {seen_in(messages)} \\boxed{{{ans}}}"

    return fn


def pool_of(lm, *names):
    return {n: lm for n in ("m", *names)}


def test_builtins_are_listed():
    assert builtin_systems() == BUILTINS


@pytest.mark.parametrize("name", BUILTINS)
def test_yaml_round_trip(name, tmp_path):
    cfg = load_config(name)
    assert SystemConfig.from_yaml(cfg.to_yaml()) == cfg
    cfg.to_yaml(tmp_path / "s.yaml")
    assert load_config(tmp_path / "s.yaml") == cfg


@pytest.mark.parametrize("layout", [None, "transcript"])  # None: the system's default prompt layout (text)
@pytest.mark.parametrize("name", BUILTINS)
@pytest.mark.parametrize("family", ["math", "code", "mcq"])
async def test_every_system_runs_and_nodes_see_exactly_their_predecessors(name, family, layout):
    lm = FakeLM("m", fn=echo())
    kw = {"prompt_layout": layout} if layout and hasattr(load_config(name), "prompt_layout") else {}
    system = load_system(name, pool_of(lm), model="m", **kw)
    result = await system.run("What is 3+4?", family)
    trace = result.trace
    assert result.calls == len(trace.calls) == len(lm.requests) > 0
    preds = trace.topology.predecessors()
    labels = {n.id: n.label for n in trace.topology.nodes}
    for call in trace.calls:
        expected = sorted(labels[p] for p in preds[call.node] if trace.nodes[p].status == "done")
        assert seen_in(call.messages) == expected, (call.node, call.slot)


async def test_random_graph_is_per_question_and_reproducible():
    system = load_system("random", {"m": FakeLM(fn=echo())})
    t1, t2 = system.topology("mcq", "q1"), system.topology("mcq", "q1")
    assert t1.edges == t2.edges
    assert len({tuple(system.topology("mcq", f"q{i}").edges) for i in range(10)}) > 5


async def test_chain_order_follows_roles():
    system = load_system("chain", {"m": FakeLM(fn=echo())})
    t = system.topology("math")
    assert t.edges[:2] == [("mathematical_analyst", "math_solver"), ("math_solver", "inspector")]


async def test_consensus_shortcut_skips_the_decision_call():
    lm = FakeLM("m", fn=echo())
    result = await load_system("full", {"m": lm}).run("q", "math")
    assert [c.node for c in result.trace.calls].count("decision") == 0
    assert result.trace.nodes["decision"].note == "consensus" and result.extracted_answer == "7"
    assert result.calls == 3


async def test_disagreement_calls_the_decision_node():
    lm = FakeLM("m", fn=echo({"Inspector": "8", "?": "8"}))
    result = await load_system("full", {"m": lm}).run("q", "math")
    decision_calls = [c for c in result.trace.calls if c.node == "decision"]
    assert len(decision_calls) == 1 and result.calls == 4
    assert seen_in(decision_calls[0].messages) == ["Inspector", "Math Solver", "Mathematical Analyst"]
    assert result.extracted_answer == "8"


def hieramas(lm, **assignments):
    base = {r: {"proposers": ["m", "m"], "synthesiser": "m"} for r in ("Mathematical Analyst", "Math Solver", "Inspector")}
    base.update(assignments)
    # not model="m": that would put every slot (these assignments too) on m
    cfg = dataclasses.replace(load_config("hieramas-fixed"), model="m", decision_model="m", assignments=base)
    return System(cfg, {"m": lm, "big": lm})


async def test_hieramas_synthesiser_skip_removes_the_supernode():
    lm = FakeLM("m", fn=echo())
    result = await hieramas(lm, **{"Math Solver": {"proposers": ["m", "m"], "synthesiser": "skip"}}).run("q", "math")
    trace = result.trace
    assert trace.nodes["math_solver"].status == "skipped" and not trace.calls_of("math_solver")
    assert all("Math Solver" not in seen_in(c.messages) for c in trace.calls)
    assert sorted(c.node for c in trace.calls) == ["inspector"] * 3 + ["mathematical_analyst"] * 3
    assert trace.dropped == ["math_solver: removed (synthesiser skip)"]


async def test_hieramas_proposer_skips_and_fallback():
    lm = FakeLM("m", fn=echo())
    system = hieramas(lm, **{"Math Solver": {"proposers": ["skip", "big"], "synthesiser": "m"},
                             "Inspector": {"proposers": ["skip", "skip"], "synthesiser": "big"}})
    trace = (await system.run("q", "math")).trace
    assert [(c.slot, c.model) for c in trace.calls_of("math_solver")] == [("proposer 0", "big"), ("synthesiser", "m")]
    assert [(c.slot, c.model) for c in trace.calls_of("inspector")] == [("proposer 0", "big"), ("synthesiser", "big")]


async def test_hieramas_all_answering_roles_skipped_is_an_error():
    skip = {"proposers": ["m"], "synthesiser": "skip"}
    system = hieramas(FakeLM(fn=echo()), **{r: skip for r in ("Mathematical Analyst", "Math Solver", "Inspector")})
    with pytest.raises(ConfigError, match="at least one must remain"):
        await system.run("q", "math")


async def test_self_consistency_majority_and_distinct_rollouts(tmp_path):
    answers = iter(["3", "5", "5", "3", "5"] * 2)
    lm = FakeLM("m", fn=lambda m, r: f"so \\boxed{{{next(answers)}}}")
    system = load_system("self-consistency", {"m": lm})
    with settings.context(cache=CallCache(tmp_path / "c.sqlite")):
        result = await system.run("q", "math")
        rollouts = [c.rollout for c in result.trace.calls]
        assert result.extracted_answer == "5" and result.trace.nodes["vote"].note == "majority 3/5"
        assert len(set(rollouts)) == 5 and None not in rollouts
        assert {c.temperature for c in result.trace.calls} == {0.7}
        assert len(lm.requests) == 5  # identical prompts, yet not collapsed by the cache
        assert len({r["seed"] for r in lm.requests}) == 5  # reproducible, distinct samples
        again = await system.run("q", "math")
        assert len(lm.requests) == 5 and again.usage.cache_hits == 5 and again.extracted_answer == "5"
        await system.run("q", "math", rollout="repeat-2")
        assert len(lm.requests) == 10  # a new rollout prefix samples afresh


async def test_debate_agents_see_the_previous_round():
    lm = FakeLM("m", fn=lambda m, r: f"saw {seen_in(m)} \\boxed{{1}}")
    result = await load_system("debate", {"m": lm}, agents=3, rounds=3).run("q", "math")
    trace = result.trace
    assert result.calls == 9
    for c in trace.calls:
        round_ = int(c.node[1])
        assert seen_in(c.messages) == ([] if round_ == 1 else ["debater 1", "debater 2", "debater 3"])
        assert ("previous round of a debate" in c.messages[-1]["content"]) == (round_ > 1)
    assert trace.topology.predecessors()["vote"] == ["r3-a1", "r3-a2", "r3-a3"]


async def test_moa_layers_and_models():
    pool = {n: FakeLM(n, fn=lambda m, r: f"saw {seen_in(m)}") for n in ("a", "b", "c")}
    system = load_system("moa", pool, layers=[["a", "b"], ["a", "b", "c"]], aggregator="c")
    result = await system.run("q", "mcq")
    by_node = {c.node: c for c in result.trace.calls}
    assert [by_node[f"l1-p{i}"].model for i in (1, 2)] == ["a", "b"]
    assert [by_node[f"l2-p{i}"].model for i in (1, 2, 3)] == ["a", "b", "c"]
    assert by_node["aggregator"].model == "c"
    assert seen_in(by_node["l1-p1"].messages) == []
    assert seen_in(by_node["l2-p3"].messages) == ["proposer 1", "proposer 2"]
    assert seen_in(by_node["aggregator"].messages) == ["proposer 1", "proposer 2", "proposer 3"]
    assert result.answer_text == by_node["aggregator"].output


async def test_failing_node_raises_a_typed_error_naming_it():
    def fn(messages, request):
        if role_of(messages) == "Math Solver":
            raise LLMError("engine died")
        return "\\boxed{1}"

    with pytest.raises(NodeError) as e:
        await load_system("chain", {"m": FakeLM(fn=fn)}).run("q", "math")
    assert e.value.node_id == "math_solver" and "Math Solver" in str(e.value) and "engine died" in str(e.value)
    assert [c.node for c in e.value.trace.calls] == ["mathematical_analyst"]


@pytest.mark.parametrize("name", ["hieramas-fixed", "debate", "self-consistency", "star"])
async def test_per_node_usage_sums_to_total(name):
    lm = FakeLM("m", fn=lambda m, r: "word " * (len(m[-1]["content"]) % 7 + 1) + "\\boxed{2}")
    result = await load_system(name, {"m": lm}, model="m").run("q", "mcq")
    nodes = [n.usage for n in result.trace.nodes.values()]
    assert sum(u.calls for u in nodes) == result.calls == result.usage.calls == len(result.trace.calls)
    assert sum(u.total_tokens for u in nodes) == result.usage.total_tokens > 0
    assert sum(c.usage.total_tokens for c in result.trace.calls) == result.usage.total_tokens
    assert sum(u.cost for u in nodes) == pytest.approx(result.usage.cost)


async def test_generation_settings_per_system_and_node():
    lm = FakeLM("m", fn=echo())
    system = load_system("chain", {"m": lm}, max_tokens=33, nodes={"Inspector": {"max_tokens": 99, "temperature": 0.2}})
    trace = (await system.run("q", "math")).trace
    assert {(c.node, c.max_tokens, c.temperature) for c in trace.calls} == {
        ("mathematical_analyst", 33, 0.0), ("math_solver", 33, 0.0), ("inspector", 99, 0.2)}
    assert [r["max_tokens"] for r in lm.requests] == [33, 33, 99]


def test_model_override_and_pool_check():
    lm = FakeLM(fn=echo())
    with pytest.raises(ConfigError, match="not in the pool"):
        load_system("hieramas-fixed", {"m": lm})
    system = load_system("hieramas-fixed", {"m": lm}, model="m")
    t = system.topology("math")
    assert {m for n in t.nodes for m in n.models + [n.synthesiser] if m} == {"m"}


def test_bad_configs_fail_clearly(tmp_path):
    with pytest.raises(ConfigError, match="unknown system 'nope'"):
        load_system("nope", {"m": FakeLM(fn=echo())})
    with pytest.raises(ConfigError, match="unknown system option"):
        load_system("cot", {"m": FakeLM(fn=echo())}, tempreature=1)
    (tmp_path / "bad.yaml").write_text("name: x\nlayout: ring\n")
    with pytest.raises(ConfigError, match="layout 'ring'"):
        load_config(tmp_path / "bad.yaml")
    (tmp_path / "bad2.yaml").write_text("name: x\nlayot: single\n")
    with pytest.raises(ConfigError, match="unknown keys"):
        load_config(tmp_path / "bad2.yaml")


async def test_layered_system_wall_time_tracks_depth():
    latency = 0.05
    lm = FakeLM("m", fn=echo(default="B"), latency_s=latency)
    system = load_system("layered", {"m": lm})  # mcq: 8 roles in 4 layers of 2, then a consensus decision
    start = time.perf_counter()
    result = await system.run("q", "mcq")
    wall = time.perf_counter() - start
    depth = 4
    assert result.calls == 8 and result.trace.nodes["decision"].note == "consensus"
    assert wall < 1.8 * depth * latency


async def test_supernode_proposers_run_in_parallel():
    latency = 0.05
    lm = FakeLM("m", fn=echo(), latency_s=latency)
    cfg = dataclasses.replace(load_config("hieramas-fixed"), model="m", decision_model="m", proposers=4, assignments={})
    system = System(cfg, {"m": lm})
    start = time.perf_counter()
    result = await system.run("q", "math")  # 3 supernodes along a path of depth 3, 2 stages each
    wall = time.perf_counter() - start
    assert result.calls == 15 and wall < 1.8 * 6 * latency


def test_explicit_edges_with_a_cycle_name_the_roles(tmp_path):
    (tmp_path / "s.yaml").write_text(
        "name: loop\nlayout: graph\ngraph:\n  edges:\n    math: [[Math Solver, Inspector], [Inspector, Math Solver]]\n")
    system = load_system(tmp_path / "s.yaml", {"m": FakeLM(fn=echo())})
    with pytest.raises(ConfigError, match="cycle: math_solver -> inspector -> math_solver"):
        system.topology("math")


async def test_cli_glue_returns_a_record_and_writes_the_trace(tmp_path):
    from mastune.cli.run import _system
    from mastune.systems import build_system, resolve_spec

    solver = build_system(resolve_spec("cot", model="m", options={"max_tokens": 20}), {"m": FakeLM(fn=echo())})
    rec = await _system(solver, "q", "math", tmp_path / "t.json")
    assert rec["extracted"] == "7" and rec["calls"] == 1 and (tmp_path / "t.json").is_file()
