"""Stage 2 and the inference-time `hieramas` system on the scripted pool."""
import json

import pytest
import torch

from mastune.errors import ConfigError
from mastune.graph.generators import random_dag_pool
from mastune.optim.hieramas import (CheckpointError, HashEmbedder, build_hieramas_system, load_checkpoint,
                                   save_checkpoint, train_stage1, train_stage2)
from mastune.optim.hieramas.data import label_graphs
from mastune.optim.hieramas.policy import Choice
from mastune.optim.seeds import stable_int
from mastune.systems import SystemResult

from .fakes import examples, model
from .test_stage1 import config, fake_pool


def test_labels_are_the_top_two_with_positive_reward():
    assert label_graphs([0.9, -1.0, 0.95, 0.5, 0.9], 2) == [1.0, 0.0, 1.0, 0.0, 0.0]  # tie: the earlier one
    assert label_graphs([0.9, -1.0, -2.0], 2) == [1.0, 0.0, 0.0]  # only r_F > 0 can be positive
    assert label_graphs([-1.0, -1.0], 2) == [0.0, 0.0]


@pytest.fixture
async def trained(tmp_path):
    cfg = config(iterations=4, k_dags=4, classifier=dict(epochs=20, patience=5, hidden=16))
    pool = fake_pool()
    await train_stage1(cfg, pool, examples(6), examples(2, start=100), tmp_path, embedder=HashEmbedder(64),
                       progress=False)
    res = await train_stage2(cfg, pool, examples(6), tmp_path, embedder=HashEmbedder(64), progress=False)
    return cfg, pool, tmp_path, res


async def test_stage2_labels_every_query_and_saves_a_classifier(trained):
    cfg, pool, out, res = trained
    lines = [json.loads(l) for l in (out / "stage2" / "labels.jsonl").read_text().splitlines()]
    assert sorted(l["query"] for l in lines) == sorted(ex.id for ex in examples(6))
    for line in lines:
        assert len(line["graphs"]) == 4 and line["roles"] == [0, 1, 2]  # no skips in this config
        assert sum(g["label"] for g in line["graphs"]) == 2  # every run is right: the 2 cheapest win
    assert res.n_labelled == 24 and (out / "classifier.pt").is_file()
    report = json.loads((out / "stage2" / "report.json").read_text())
    assert report["n_positive"] == 12 and report["pos_weight"] == pytest.approx(1.0)

    # labelling is resumable: a second run makes no new LLM calls for queries already labelled
    calls = sum(len(lm.requests) for lm in pool.values())
    await train_stage2(cfg, pool, examples(6), out, embedder=HashEmbedder(64), progress=False)
    assert sum(len(lm.requests) for lm in pool.values()) == calls

    # labels made by another selector (stage 1 ran on and saved a new best) are never mixed in
    state, meta = load_checkpoint(out / "selector.pt", kind="selector")
    save_checkpoint(out / "selector.pt", {k: v + 0.01 for k, v in state.items()}, meta)
    with pytest.raises(CheckpointError, match="labelled with another selector.pt"):
        await train_stage2(cfg, pool, examples(6), out, embedder=HashEmbedder(64), progress=False)


async def test_system_runs_the_top_scored_dag_with_the_selectors_argmax(trained):
    cfg, pool, out, _ = trained
    system = build_hieramas_system(out, pool, n_candidates=30, seed=1)
    q = examples(1, start=300)[0]
    plan = system.plan(q.question, "gsm8k")
    candidates = random_dag_pool(3, 30, cfg.density, seed=stable_int(1, q.question))
    scores = system._score(q.question, [0, 1, 2], candidates)
    assert plan.edges == candidates[int(torch.argmax(scores))] and plan.score == pytest.approx(float(scores.max()))
    result = await system.run(q.question, "math")
    assert isinstance(result, SystemResult) and result.extracted_answer == q.answer
    assert result.trace.system == "hieramas" and result.calls == len(result.trace.calls)
    expected_edges = {(plan.roles[s].id, plan.roles[d].id) for s, d in plan.edges}
    assert expected_edges <= set(result.trace.topology.edges)  # the executor ran the chosen DAG
    assert {(c.node, c.slot, c.model) for c in result.trace.calls if c.node != "decision"} == {
        (r.id, slot, m) for r in plan.roles for slot, m in
        [*((f"proposer {i}", p) for i, p in enumerate(plan.assignments[r.name]["proposers"])),
         ("synthesiser", plan.assignments[r.name]["synthesiser"])]}


async def test_ablations(trained):
    cfg, pool, out, _ = trained
    q = examples(1, start=300)[0]
    no_graph = build_hieramas_system(out, pool, graph_classifier=False, n_candidates=30, seed=1)
    plan = no_graph.plan(q.question, "math")
    assert plan.score is None and plan.edges == random_dag_pool(3, 30, cfg.density, seed=stable_int(1, q.question))[0]

    one_model = build_hieramas_system(out, pool, llm_selection=False, single_model="pricey")
    result = await one_model.run(q.question, "math")
    assert {c.model for c in result.trace.calls} == {"pricey"} and result.calls >= 9


async def test_a_skipped_role_is_left_out_of_the_dag(trained):
    _, pool, out, _ = trained
    system = build_hieramas_system(out, pool, n_candidates=20)
    names = system.setup.pool_info.names
    good, skip = names.index("good"), len(names)
    picks = torch.tensor([[good, good, skip], [good, skip, good], [good, good, good]])
    system.policy.greedy = lambda question: Choice(torch.zeros(3, 3, len(names) + 1), picks)
    plan = system.plan("What is 1 + 2?", "math")
    assert [r.name for r in plan.roles] == ["Math Solver", "Inspector"]
    result = await system.run("What is 1 + 2?", "math")
    assert not result.trace.calls_of("mathematical_analyst")
    assert [(c.slot, c.model) for c in result.trace.calls_of("math_solver")] == [("proposer 0", "good"),
                                                                                   ("synthesiser", "good")]


async def test_wrong_family_and_wrong_pool_fail_loudly(trained):
    _, pool, out, _ = trained
    system = build_hieramas_system(out, pool)
    with pytest.raises(ConfigError, match="trained for the 'math' family"):
        await system.run("Write a function.", "code")
    other = {**pool, "extra": model("extra")}
    with pytest.raises(CheckpointError, match="pool models differ"):
        build_hieramas_system(out, other)
    with pytest.raises(CheckpointError, match="no classifier checkpoint"):
        (out / "classifier.pt").unlink()
        build_hieramas_system(out, pool)
    assert build_hieramas_system(out, pool, graph_classifier=False).classifier is None


async def test_the_eval_harness_builds_and_runs_it(trained, tmp_path):
    from mastune.eval import EvalConfig, evaluate
    from mastune.systems import build_system, resolve_spec

    _, pool, out, _ = trained
    solver = build_system(resolve_spec("hieramas", options={"checkpoint": str(out), "graph_classifier": False,
                                                            "llm_selection": None, "max_tokens": 64}), pool)
    assert solver.setup.cfg.runtime.max_tokens == 64 and not solver.graph_classifier
    items = examples(2, start=400)
    summary = await evaluate(EvalConfig(system="hieramas", task="add", out=str(tmp_path / "eval")), solver, items)
    assert summary.n == 2 and summary.correct == 2 and summary.errors == 0 and summary.cost > 0


async def test_an_eval_run_records_the_weights_and_refuses_a_retrained_checkpoint(trained, tmp_path):
    from mastune.eval import EvalConfig, evaluate

    _, pool, out, _ = trained
    first, again = build_hieramas_system(out, pool), build_hieramas_system(out, pool)
    assert first.fingerprint() == again.fingerprint() and set(first.fingerprint()) == {"selector", "classifier"}
    assert set(build_hieramas_system(out, pool, graph_classifier=False).fingerprint()) == {"selector"}
    cfg = EvalConfig(system="hieramas", task="add", out=str(tmp_path / "eval"))
    await evaluate(cfg, first, examples(1, start=500))
    state, meta = load_checkpoint(out / "selector.pt", kind="selector")
    nudged = {k: v + 0.01 if v.is_floating_point() else v for k, v in state.items()}
    save_checkpoint(out / "selector.pt", nudged, meta)  # as if training went on in the same folder
    retrained = build_hieramas_system(out, pool)
    assert retrained.fingerprint()["selector"] != first.fingerprint()["selector"]
    assert retrained.fingerprint()["classifier"] == first.fingerprint()["classifier"]
    with pytest.raises(ConfigError, match="other trained weights"):
        await evaluate(cfg, retrained, examples(2, start=500))


async def test_stage2_reports_the_per_query_auc_spread_on_held_out_queries(trained):
    import dataclasses

    from mastune.optim.hieramas import ClassifierConfig

    cfg, pool, out, res = trained
    h = res.report["heldout"]  # no test queries: the early-stopping validation queries, and it says so
    assert h["split"].startswith("validation") and h["queries"] == 1 and h["graphs"] == 4
    held = dataclasses.replace(cfg, classifier=ClassifierConfig(epochs=20, patience=5, hidden=16, test_fraction=0.34))
    res2 = await train_stage2(held, pool, examples(6), out, embedder=HashEmbedder(64), progress=False)
    h = res2.report["heldout"]
    assert h["split"] == "test" and h["queries"] == 2 and h["graphs"] == 8
    assert res2.report["n_train"] + res2.report["n_val"] == 16  # the 2 test queries' 8 graphs left out
    assert h["queries_with_auc"] == 2 and h["query_auc"]["n"] == 2  # every query has 2 positives of 4
    assert 0.0 <= h["query_auc"]["min"] <= h["query_auc"]["max"] <= 1.0
