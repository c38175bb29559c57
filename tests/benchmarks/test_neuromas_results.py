"""The NeuroMAS results driver: its plan, stage bookkeeping and report (the runs themselves need the engine)."""
import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "neuromas_results.py"


def load_script():
    spec = importlib.util.spec_from_file_location("neuromas_results", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def args(tmp_path, **kw):
    base = dict(task="navigate", backbone="smollm2-135m", episodes=32, test_size=6, val_size=4, lr=1e-4,
                max_tokens=64, seed=0, out=tmp_path, train_args=[])
    return argparse.Namespace(**{**base, **kw})


def test_dry_run_plans_every_run_with_the_same_budget(tmp_path):
    out = subprocess.run([sys.executable, str(SCRIPT), "--task", "navigate", "--episodes", "48", "--out", str(tmp_path),
                          "--dry-run", "--", "--group-size", "2"], capture_output=True, text=True, check=True).stdout
    trains = [line for line in out.splitlines() if " train neuromas " in line]
    assert len(trains) == 4 and all("--episodes 48" in t and t.endswith("--group-size 2") for t in trains)
    assert any("--single-llm --layers 1,1" in t for t in trains)
    grown = [t for t in trains if "n5-grown" in t]
    assert grown and f"--grow-from {tmp_path / 'train' / 'n3'}" in grown[0] and "--layers 2,2" in grown[0]
    assert "eval --system cot --model smollm2-135m" in out and not (tmp_path / "train").exists()
    bad = subprocess.run([sys.executable, str(SCRIPT), "--task", "navigate", "--out", str(tmp_path), "--only", "n7"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown runs ['n7']" in bad.stderr


def test_a_run_counts_as_trained_only_when_its_log_reaches_the_configured_steps(tmp_path):
    mod = load_script()
    a = args(tmp_path)
    folder = tmp_path / "train" / "n3"
    folder.mkdir(parents=True)
    assert not mod.trained(a, "n3")
    (folder / "config.json").write_text(json.dumps({"config": {"steps": 2}}))
    (folder / "log.jsonl").write_text(json.dumps({"step": 0}) + "\n")
    assert not mod.trained(a, "n3")  # killed after step 0: the stage resumes
    (folder / "log.jsonl").write_text(json.dumps({"step": 0}) + "\n" + json.dumps({"step": 1}) + "\n")
    assert mod.trained(a, "n3")


def test_report_reads_against_single_llm_rl_and_the_constant_answer(tmp_path, monkeypatch):
    mod = load_script()
    a = args(tmp_path)
    ids = [f"q{i}" for i in range(6)]
    monkeypatch.setattr(mod, "constant_answer", lambda a: ("False", {i: i in ("q0", "q1", "q2") for i in ids}))
    outcomes = {"single": [1, 0, 0, 0, 0, 0], "n3": [1, 1, 1, 1, 1, 0]}
    for run, correct in outcomes.items():
        d = tmp_path / "eval" / run
        d.mkdir(parents=True)
        (d / "meta.json").write_text(json.dumps({"config": {"system": "neuromas", "task": "navigate"}}))
        (d / "results.jsonl").write_text("".join(json.dumps({"id": i, "status": "ok", "correct": bool(c), "calls": 3})
                                                 + "\n" for i, c in zip(ids, correct)))
    mod.report(a)
    text = (tmp_path / "summary.md").read_text()
    assert "'False', 3/6 = 50.0%" in text
    assert "| single | n3 | 6 | 1 | 5 | 0 | 4 |" in text  # paired against single-LLM RL
    assert "| n3 | 6 | 2 | 0 |" in text  # n3 right where the constant is wrong on q3, q4
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["n3"]["correct"] == 5 and summary["single"]["accuracy"] == 1 / 6


def test_constant_answer_names_the_option_text_only_where_it_is_the_same_on_every_item(tmp_path):
    mod = load_script()
    name, const = mod.constant_answer(args(tmp_path, task="navigate", test_size=40))
    letter, text = name.split(" ")
    assert (letter, text) in (("A", "(True)"), ("B", "(False)")) and len(const) == 40  # navigate: A. True / B. False
    assert sum(const.values()) >= 20  # the majority of a two-way split
    mcq, _ = mod.constant_answer(args(tmp_path, task="mmlu_redux", test_size=40))
    assert mcq in ("A", "B", "C", "D")  # option texts differ per item: the letter alone
