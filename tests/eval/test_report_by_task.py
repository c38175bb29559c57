"""Issue 40, point 3: `mastune report` on runs of several tasks: one table, comparisons and plot per
task, and never a pairing across tasks ("0 shared items, McNemar p = 1.000")."""
import json

from typer.testing import CliRunner

from mastune.cli.main import app
from mastune.eval import ResultsFile, summarize
from mastune.eval.report import by_task, markdown_report, task_plot_path


def make_run(root, name, task, outcomes, cost=0.01):
    d = root / name
    d.mkdir()
    (d / "meta.json").write_text(json.dumps({"config": {"system": name, "task": task, "model": "m"}}))
    rf = ResultsFile(d / "results.jsonl")
    for i, ok in enumerate(outcomes):
        rf.append({"id": f"{task}/{i}", "status": "ok", "correct": ok, "parsed": True, "calls": 1, "wall_s": 1.0,
                   "usage": {"cost": cost, "prompt_tokens": 10, "completion_tokens": 5}})
    return d


def test_runs_are_grouped_by_task_in_order_of_appearance(tmp_path):
    runs = [summarize(make_run(tmp_path, n, t, [True, False])) for n, t in
            (("a", "gsm8k"), ("b", "navigate"), ("c", "gsm8k"))]
    assert {t: [s.name for s in g] for t, g in by_task(runs).items()} == {"gsm8k": ["a", "c"], "navigate": ["b"]}
    assert task_plot_path("out/report.png", "gsm8k", 1).name == "report.png"
    named = task_plot_path("out/report.png", "mmlu-redux:college_physics", 2).name
    assert named == "report-mmlu-redux_college_physics.png"
    md = markdown_report(runs)
    assert "## gsm8k" in md and "## navigate" in md and "not paired" in md
    assert "| a | c |" in md and "| a | b |" not in md


def test_report_command_gives_each_task_its_table_and_plot(tmp_path):
    a = make_run(tmp_path, "cot-gsm8k", "gsm8k", [True, True, False, False])
    b = make_run(tmp_path, "cot-navigate", "navigate", [True, False, True, False])
    c = make_run(tmp_path, "full-gsm8k", "gsm8k", [True, False, False, False])
    md = tmp_path / "r.md"
    r = CliRunner().invoke(app, ["report", str(a), str(b), str(c), "--plot", str(tmp_path / "p.png"),
                                 "--markdown", str(md)], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "Runs of different tasks answer different items, so they are not paired" in out
    assert "runs on gsm8k" in out and "runs on navigate" in out
    assert "gsm8k: paired against cot-gsm8k" in out and "paired against cot-navigate" not in out
    for task in ("gsm8k", "navigate"):
        assert (tmp_path / f"p-{task}.png").read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "p.png").exists()
    text = md.read_text()
    assert "| cot-gsm8k | full-gsm8k | 4 | 2 | 1 | 1 | 0 | 1.000 |" in text
    assert "| cot-gsm8k | cot-navigate |" not in text  # no pairing across tasks


def test_one_task_keeps_the_plain_report(tmp_path):
    a = make_run(tmp_path, "x", "gsm8k", [True, False])
    b = make_run(tmp_path, "y", "gsm8k", [False, False])
    r = CliRunner().invoke(app, ["report", str(a), str(b), "--plot", str(tmp_path / "p.png")], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert (tmp_path / "p.png").is_file() and "not paired" not in r.output
