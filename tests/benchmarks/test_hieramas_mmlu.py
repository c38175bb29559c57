"""benchmarks/hieramas_mmlu.py: the plan, its size estimate, and a whole smoke run on a scripted pool
(logic); one tiny run on the real engine (SmolLM2-135M)."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "hieramas_mmlu.py"

FAKE_POOL = """
models:
  - name: cheap
    backend: fake
    fake: {reply: "I think so. The answer is A", rules: [{contains: "critically and write", reply: "Checked. The answer is B"}]}
    price: {input: 0.01, output: 0.01}
  - name: dear
    backend: fake
    fake: {reply: "Reasoning. The answer is B"}
    price: {input: 0.5, output: 0.5}
default: cheap
"""


def load_script():
    spec = importlib.util.spec_from_file_location("hieramas_mmlu", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["hieramas_mmlu"] = mod  # its dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_uniform_selector_calls_and_the_eight_roles():
    hm = load_script()
    s = hm.sizes(hm.parse([]))
    assert len(hm.role_names(s)) == 8 and hm.unpruned_calls(s) == 8 * 3 + 1
    # 3 models + skip: q = 1/4; kept proposers 2 * 3/4 + (1/4)^2, times (3/4) for the synthesiser
    assert hm.uniform_calls(s, 3) == pytest.approx(8 * 0.75 * (1.5 + 1 / 16 + 1) + 1)
    assert s["test"] >= 150


def test_the_items_are_a_seeded_sample_across_subjects():
    hm = load_script()
    test = hm.items("test", 150)
    assert len(test) == 150 and len({e.meta["subject"] for e in test}) >= 40
    assert set(e.id for e in hm.items("test", 50)) < set(e.id for e in test)  # a larger sample extends a smaller
    train = {e.id for e in hm.items("train", 96)} | {e.id for e in hm.items("valid", 16)}
    assert not train & {e.id for e in test}


def test_dry_run_prints_the_estimate_and_runs_nothing(tmp_path, capsys):
    hm = load_script()
    (tmp_path / "pool.yaml").write_text(FAKE_POOL)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "timing.json").write_text(json.dumps({"s_per_call": {"dear": {"cot": 2.0, "role": 4.0}}}))
    hm.main(["--dry-run", "--pool", str(tmp_path / "pool.yaml"), "--out", str(tmp_path / "out"), "--test-size", "10",
             "--iterations", "4", "--batch-size", "2", "--val-every", "2", "--val-size", "3", "--stage2-size", "5",
             "--k-dags", "2", "--train-size", "20"])
    out = capsys.readouterr().out
    # training: 4 x 2 + 2 validations x 3 = 14 stage-1 episodes + 5 x 2 stage-2 episodes, 25 calls each at most
    assert "| train-ckpt | to do | 24 | 25 / " in out and "| 600 |" in out
    assert "| eval-full-dear | to do | 10 | 9 / 9.0 | 90 | 90 | 4.0 max, 4.0 exp (role) |" in out
    assert "| eval-sc-dear | to do | 10 | 5 / 5.0 | 50 | 50 | 2.0 max" in out
    assert "s/call from timing.json" in out
    assert not (tmp_path / "out" / "runs").exists() and not (tmp_path / "out" / "ckpt").exists()


def test_measure_writes_timing_that_the_estimate_uses(tmp_path, capsys):
    hm = load_script()
    (tmp_path / "pool.yaml").write_text(FAKE_POOL)
    hm.main(["--measure", "2", "--pool", str(tmp_path / "pool.yaml"), "--out", str(tmp_path), "--roles",
             "Critic,Doctor"])
    timing = json.loads((tmp_path / "timing.json").read_text())
    assert set(timing["s_per_call"]) == {"cheap", "dear"} and set(timing["s_per_call"]["dear"]) == {"cot", "role"}
    assert timing["completion_tokens_per_call"]["dear"]["cot"] > 0
    out = capsys.readouterr().out
    assert "s/call from timing.json" in out and not (tmp_path / "runs").exists()


def test_smoke_plan_on_a_scripted_pool_runs_every_stage_then_skips_them(tmp_path, capsys):
    hm = load_script()
    (tmp_path / "pool.yaml").write_text(FAKE_POOL)
    out = tmp_path / "out"
    args = ["--smoke", "--pool", str(tmp_path / "pool.yaml"), "--embedder", "hash-64", "--out", str(out), "--no-cache"]
    hm.main(args)
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert runs == ["cot-cheap", "cot-dear", "full-dear", "hieramas", "hieramas-alpha0", "hieramas-no-graph",
                    "hieramas-no-selection", "random-dear", "sc-dear"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["systems"]["full-dear"]["calls_per_item"] == 3 + 1 - 1  # 3 roles agree: consensus, no decision
    assert summary["systems"]["sc-dear"]["calls_per_item"] == 2
    assert {p["other"] for p in summary["paired"]} == {"full-dear", summary["best_single_cot"]}
    assert summary["training"]["ckpt"]["stage1"]["episodes"] == 4
    alpha = json.loads((out / "ckpt-alpha0" / "config.json").read_text())["config"]["reward"]["alpha"]
    assert alpha == 0.0 and json.loads((out / "ckpt" / "config.json").read_text())["config"]["reward"]["alpha"] == 0.5
    assert (out / "accuracy_cost.png").is_file() and (out / "stage1-ckpt.png").is_file()
    assert summary["topologies"]["ckpt"]["queries"] == 2
    meta = json.loads((out / "runs" / "hieramas" / "meta.json").read_text())
    assert meta["config"]["sample"] == 2 and json.loads((out / "ckpt" / "config.json").read_text())["config"]["sample"]
    capsys.readouterr()

    hm.main(args)  # everything finished: every stage is skipped, the report is rewritten
    err = capsys.readouterr().err
    assert "train-ckpt: done, skipped" in err and "eval-hieramas-alpha0: done, skipped" in err

    # the per-run report script reads the same folder
    spec = importlib.util.spec_from_file_location("hieramas_policy_report", SCRIPT.with_name("hieramas_policy_report.py"))
    rep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rep)
    rep.main(["--ckpt", str(out / "ckpt"), "--pool", str(tmp_path / "pool.yaml"), "--test-size", "2",
              "--candidates", "5"])
    printed = capsys.readouterr().out
    assert "stage 1: 2 iterations, 4 training + 1 validation episodes" in printed
    assert "test topologies" in printed and "2 queries:" in printed and (out / "ckpt" / "stage1.png").is_file()


@pytest.mark.engine
def test_smoke_on_the_engine(tmp_path, smollm_path, monkeypatch, capsys):
    pytest.importorskip("sentence_transformers")
    monkeypatch.setenv("MASTUNE_THREADS", "1")
    hm = load_script()
    out = tmp_path / "out"
    hm.main(["--smoke", "--out", str(out), "--no-cache", "--only", "train-ckpt,eval-cot-smol-cheap,eval-hieramas"])
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["systems"]) == {"cot-smol-cheap", "hieramas"}
    h = summary["systems"]["hieramas"]
    assert h["n"] == 2 and h["errors"] == 0 and h["calls_per_item"] > 0 and h["cost_per_item"] > 0
    log = [json.loads(l) for l in (out / "ckpt" / "stage1" / "log.jsonl").read_text().splitlines()]
    assert len(log) == 2 and all(r["calls"] > 0 for r in log)
    assert set(log[-1]["prefs"]) == {"Knowledgeable Expert", "Critic", "Doctor"}
