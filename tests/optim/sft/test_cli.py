"""`traces generate|export` and `train sft` through typer, on a scripted team and a local data file."""
import json

import typer
from typer.testing import CliRunner

from mastune.cli import train_sft, traces_cmd

runner = CliRunner()


def app():
    a = typer.Typer()
    a.add_typer(traces_cmd.traces_app, name="traces")
    train = typer.Typer()
    train.command("sft")(train_sft.sft)

    @train.callback()
    def _t():
        """train"""

    a.add_typer(train, name="train")
    return a


def test_generate_then_export(team, tmp_path, monkeypatch):
    t = team(critic="[Agree]", evaluator="Correctness: 1\nAdvice: -\nRecruiting suggestion: -")
    monkeypatch.setattr("mastune.llm.pool.Pool.load", classmethod(lambda cls, spec: t.pool))
    data = tmp_path / "gsm8k.jsonl"
    data.write_text("".join(json.dumps({"question": f"Q{i}: 2+2?", "answer": f"so\n#### {4 + (i == 2)}"}) + "\n"
                            for i in range(3)))
    out = tmp_path / "traces"
    res = runner.invoke(app(), ["traces", "generate", "--task", "gsm8k", "--data-path", str(data), "--split", "all",
                                "--out", str(out), "--model", "m", "--ceo", "--max-turn", "1", "--limit", "3",
                                "--no-cache"])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary == {"total": 3, "errors": 0, "consensus": 3, "format": 3, "correct": 2, "kept": 2}
    assert "kept" in res.output
    first = json.loads((out / "traces.jsonl").read_text().splitlines()[0])
    assert first["trace"]["system"] == "collab-ceo" and first["trace"]["collab"]["decisions"]

    res = runner.invoke(app(), ["traces", "export", "--in", str(out), "--format", "sharegpt"])
    assert res.exit_code == 0, res.output
    assert "from 2 questions" in res.output and (out / "sft.jsonl").is_file() and (out / "m500.jsonl").is_file()

    res = runner.invoke(app(), ["traces", "export", "--in", str(out), "--format", "alpaca"])
    assert res.exit_code == 2


def test_export_without_traces_says_what_to_do(tmp_path):
    res = runner.invoke(app(), ["traces", "export", "--in", str(tmp_path)])
    assert res.exit_code == 1 and "traces generate" in res.output


def test_sft_missing_data_is_a_clean_error(tmp_path):
    res = runner.invoke(app(), ["train", "sft", "--data", str(tmp_path / "none.jsonl"), "--base", "x",
                                "--out", str(tmp_path / "a")])
    assert res.exit_code == 1 and "traces export" in res.output
