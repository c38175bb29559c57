"""`mastune train hieramas` on the scripted pool (the lead wires it under `mastune train`)."""
import json

import typer
from typer.testing import CliRunner

import mastune.cli.train_hieramas as cli
from mastune.tasks.base import Task

from .fakes import examples
from .test_stage1 import fake_pool


def app():
    a = typer.Typer()
    a.command("hieramas")(cli.hieramas)
    a.command("other")(lambda: None)  # two commands: typer then keeps the sub-command name
    return a


def test_train_both_stages_then_resume(tmp_path, monkeypatch):
    pool = fake_pool()
    monkeypatch.setattr(cli, "load_pool", lambda spec: pool)
    data = {"train": examples(6), "valid": examples(2, start=100)}
    monkeypatch.setattr(cli, "get_task", lambda task, path=None, split=None, seed=0, limit=None:
                        Task(task, "math", data[split][:limit], "fake"))

    schedule = ["--temp-start", "3", "--entropy-weight", "0"]  # not the defaults: must be saved and checked

    def args(iterations=2, *extra):
        return ["hieramas", "--task", "gsm8k", "--out", str(tmp_path), "--iterations", str(iterations),
                "--batch-size", "2", "--embedder", "hash-64", "--k-dags", "3", "--decision-model", "good",
                "--no-skip", "--no-cache", *extra]

    r = CliRunner().invoke(app(), args(2, "--stage2-size", "4", *schedule))
    assert r.exit_code == 0, r.output
    assert "stage 1: 2 iterations" in r.output and "stage 2: 12 graphs from 4 queries" in r.output
    assert (tmp_path / "selector.pt").is_file() and (tmp_path / "classifier.pt").is_file()
    r = CliRunner().invoke(app(), args(2, "--stage", "2", *schedule))  # labels the other 2 queries, refits
    assert r.exit_code == 0, r.output
    assert "stage 2: 18 graphs from 6 queries" in r.output
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["config"]["iterations"] == 2 and saved["pool_models"] == ["good", "wrong", "pricey"]
    assert (saved["config"]["temp_start"], saved["config"]["temp_end"], saved["config"]["entropy_beta"]) == (3, 0.8, 0)

    r = CliRunner().invoke(app(), args(2, "--stage", "1"))  # the schedule is part of the run's settings
    assert r.exit_code == 1 and "temp_start: run has 3.0, now 2.0" in " ".join(r.output.split())  # rich wraps
    r = CliRunner().invoke(app(), args(4, "--stage", "1", *schedule))  # extend to 4 iterations
    assert r.exit_code == 0, r.output
    lines = (tmp_path / "stage1" / "log.jsonl").read_text().splitlines()
    assert [json.loads(l)["iteration"] for l in lines] == [0, 1, 2, 3]

    r = CliRunner().invoke(app(), args(2, "--seed", "5", *schedule))
    assert r.exit_code == 1 and "seed: run has 0, now 5" in r.output
    r = CliRunner().invoke(app(), args(2, "--temp-end", "0"))
    assert r.exit_code == 1 and "sampling temperatures must be > 0" in r.output
    r = CliRunner().invoke(app(), args(2, "--stage", "3"))
    assert r.exit_code == 1 and "--stage must be one of 1, 2, all" in r.output


def test_final_reward_only_ablation_and_the_new_training_options(tmp_path, monkeypatch):
    pool = fake_pool()
    monkeypatch.setattr(cli, "load_pool", lambda spec: pool)
    data = {"train": examples(6), "valid": examples(2, start=100)}
    monkeypatch.setattr(cli, "get_task", lambda task, path=None, split=None, seed=0, limit=None:
                        Task(task, "math", data[split][:limit], "fake"))

    def args(alpha, *extra):
        return ["hieramas", "--task", "gsm8k", "--out", str(tmp_path), "--iterations", "2", "--batch-size", "3",
                "--embedder", "hash-64", "--k-dags", "3", "--decision-model", "good", "--no-skip", "--no-cache",
                "--node-reward-weight", alpha, "--steps-per-batch", "2", "--baseline", "ema", "--lr", "0.05",
                "--roles", "Inspector, Math Solver", "--val-every", "1", "--test-fraction", "0.34",
                "--prompt-layout", "transcript", *extra]

    r = CliRunner().invoke(app(), args("0"))
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "6 training + 4 validation episodes" in out and "training episodes/hour" in out
    assert "uniform ln(options) = 1.099" in out  # 3 models, skip not allowed
    assert "held-out (test): 2 queries" in out and "per-query ROC-AUC" in out
    saved = json.loads((tmp_path / "config.json").read_text())["config"]
    assert saved["reward"]["alpha"] == 0.0 and saved["roles"] == ["Math Solver", "Inspector"]
    assert (saved["steps_per_batch"], saved["baseline"], saved["lr"]) == (2, "ema", 0.05)
    assert saved["runtime"]["prompt_layout"] == "transcript"
    log = [json.loads(l) for l in (tmp_path / "stage1" / "log.jsonl").read_text().splitlines()]
    assert [len(x["losses"]) for x in log] == [2, 2] and set(log[0]["prefs"]) == {"Math Solver", "Inspector"}

    r = CliRunner().invoke(app(), args("0.5", "--stage", "1"))  # the final-reward-only run is not resumed as α 0.5
    assert r.exit_code == 1 and "reward: run has" in r.output
    r = CliRunner().invoke(app(), args("1.5"))
    assert r.exit_code == 1 and "must be in [0, 1]" in r.output
    r = CliRunner().invoke(app(), args("0", "--baseline", "median"))
    assert r.exit_code == 1 and "baseline must be one of" in r.output


def test_sample_spreads_the_training_items_over_mmlus_subjects():
    first = cli.load_split("mmlu-redux", None, "train", 0, 50, sample=False)
    sample = cli.load_split("mmlu-redux", None, "train", 0, 50, sample=True)
    subjects = lambda exs: {e.meta["subject"] for e in exs}  # noqa: E731
    assert len(first) == len(sample) == 50
    assert len(subjects(first)) <= 2 and len(subjects(sample)) >= 20  # the file is sorted by subject
    small = cli.load_split("mmlu-redux", None, "train", 0, 20, sample=True)
    assert {e.id for e in small} < {e.id for e in sample}  # a larger sample extends a smaller one
