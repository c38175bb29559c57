"""`mastune eval` + `mastune report` end to end on the real engine (smallest model)."""
import json

import pytest
from typer.testing import CliRunner

from mastune.cli.main import app

pytestmark = pytest.mark.engine


def test_eval_then_resume_then_report(smollm_path, tmp_path):
    runner = CliRunner()
    out = tmp_path / "run"
    args = ["eval", "--system", "cot", "--model", "smollm2-135m", "--task", "gsm8k", "--limit", "2",
            "--max-tokens", "24", "--out", str(out), "--no-cache"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 2
    meta = json.loads((out / "meta.json").read_text())
    assert meta["models"]["smollm2-135m"]["sha256"]
    assert len(meta["split"]["used_ids"]) == 2 and meta["split"]["seed"] == 0
    r = runner.invoke(app, args[:8] + ["3"] + args[9:])  # extend to 3 items: 2 resumed
    assert r.exit_code == 0, r.output
    assert "resumed 2" in r.output
    assert "eval 3/3 acc" in r.output  # off a terminal, progress comes as plain lines (nohup logs)
    assert len((out / "results.jsonl").read_text().splitlines()) == 3
    r = runner.invoke(app, ["report", str(out), "--plot", str(tmp_path / "p.png"), "--markdown", str(tmp_path / "r.md")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "p.png").exists() and "| run |" in (tmp_path / "r.md").read_text()
