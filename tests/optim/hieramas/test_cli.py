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
