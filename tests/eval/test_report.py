import json

import pytest

from mastune.errors import ConfigError
from mastune.eval import ResultsFile, markdown_table, paired, paired_markdown, plot, summarize
from mastune.eval.report import point_labels
from mastune.eval.stats import mcnemar_exact, pareto_front, wilson_interval


def test_wilson_interval():
    lo, hi = wilson_interval(50, 100)
    assert lo == pytest.approx(0.404, abs=1e-3) and hi == pytest.approx(0.596, abs=1e-3)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(0, 10)[1] > 0.2
    assert wilson_interval(0, 0) == (0.0, 0.0)


def test_mcnemar_exact():
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)  # all 6 discordant items one way: 2 * 0.5**6
    assert mcnemar_exact(6, 0) == mcnemar_exact(0, 6)
    assert mcnemar_exact(3, 3) == 1.0 and mcnemar_exact(0, 0) == 1.0
    # 12 vs 14 discordant items: P(X <= 12), X ~ Bin(26, 1/2), doubled
    assert mcnemar_exact(12, 14) == pytest.approx(0.8450, abs=1e-4)
    assert mcnemar_exact(1, 10) < 0.05 < mcnemar_exact(3, 10)
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


def test_pareto_front():
    pts = [(1.0, 0.5), (2.0, 0.4), (3.0, 0.7), (0.5, 0.1), (3.0, 0.6)]
    assert pareto_front(pts) == [3, 0, 2]


def make_run(root, name, outcomes, cost=0.01):
    d = root / name
    d.mkdir()
    (d / "meta.json").write_text(json.dumps({"config": {"system": name, "task": "gsm8k", "model": "m"}}))
    rf = ResultsFile(d / "results.jsonl")
    for i, (ok, parsed) in enumerate(outcomes):
        rf.append({"id": str(i), "status": "ok", "correct": ok, "parsed": parsed, "calls": 2, "wall_s": 1.0,
                   "usage": {"cost": cost, "prompt_tokens": 10, "completion_tokens": 5}})
    rf.append({"id": "x", "status": "error", "error": "boom", "usage": {}})
    return d


def test_summarize_table_and_plot(tmp_path):
    a = make_run(tmp_path, "cheap", [(True, True), (False, False), (False, True), (True, True)], cost=0.001)
    b = make_run(tmp_path, "dear", [(True, True)] * 3 + [(False, True)], cost=0.1)
    sa, sb = summarize(a), summarize(b)
    assert (sa.n, sa.correct, sa.unparsed, sa.errors) == (4, 2, 1, 1)
    assert sa.calls == 8 and sa.tokens == 60 and sb.accuracy == 0.75
    md = markdown_table([sa, sb])
    assert "| cheap |" in md and "50.0%" in md and "75.0%" in md
    png = plot([sa, sb], tmp_path / "p.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_paired_counts_only_items_both_runs_answered(tmp_path):
    # same item ids 0..4; "b" has one item fewer, and its error record is ignored like a's
    a = make_run(tmp_path, "a", [(True, True), (True, True), (False, True), (False, True), (True, True)])
    b = make_run(tmp_path, "b", [(False, True), (True, True), (True, True), (False, True)])
    c = paired(summarize(a), summarize(b))
    assert (c.base, c.other, c.n) == ("a", "b", 4)
    assert (c.base_correct, c.other_correct, c.base_only, c.other_only) == (2, 2, 1, 1)
    assert c.p_value == 1.0
    md = paired_markdown([c])
    assert "| a | b | 4 | 2 | 2 | 1 | 1 | 1.000 |" in md


def test_runs_on_the_same_point_share_one_label(tmp_path):
    a = summarize(make_run(tmp_path, "method", [(True, True), (False, True)]))
    b = summarize(make_run(tmp_path, "ablation", [(False, True), (True, True)]))  # same accuracy and cost
    c = summarize(make_run(tmp_path, "other", [(True, True), (True, True)]))
    assert sorted(point_labels([a, b, c]).values()) == ["method =\nablation", "other"]


def test_not_a_run_folder(tmp_path):
    with pytest.raises(ConfigError, match="meta.json"):
        summarize(tmp_path)


def test_report_command_pairs_the_first_run_with_the_others(tmp_path):
    from typer.testing import CliRunner

    from mastune.cli.main import app

    a = make_run(tmp_path, "method", [(True, True)] * 3 + [(False, True)])
    b = make_run(tmp_path, "baseline", [(False, True)] * 3 + [(True, True)])
    md = tmp_path / "r.md"
    r = CliRunner().invoke(app, ["report", str(a), str(b), "--plot", str(tmp_path / "p.png"), "--markdown", str(md)],
                           env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "paired against method" in r.output
    assert "| method | baseline | 4 | 3 | 1 | 3 | 1 | 0.625 |" in md.read_text()
    r = CliRunner().invoke(app, ["report", str(a), str(tmp_path / "nowhere"), "--plot", str(tmp_path / "q.png")])
    assert r.exit_code == 1 and "meta.json" in r.output


def test_runs_with_the_same_folder_name_are_told_apart_by_their_path(tmp_path):
    """Two experiments' eval/single folders must not both read "single" in the paired table."""
    from mastune.eval import run_labels

    a, b, c = tmp_path / "lr3e-4" / "eval" / "single", tmp_path / "lr1e-4" / "eval" / "single", tmp_path / "x" / "direct"
    assert run_labels([a, b, c]) == ["lr3e-4/eval/single", "lr1e-4/eval/single", "direct"]
    assert run_labels([a, c]) == ["single", "direct"]
    from typer.testing import CliRunner

    from mastune.cli.main import app

    for d in ("one", "two"):
        (tmp_path / d).mkdir()
    runs = [make_run(tmp_path / d, "single", [(True, True), (False, True)]) for d in ("one", "two")]
    md = tmp_path / "r.md"
    r = CliRunner().invoke(app, ["report", *map(str, runs), "--plot", str(tmp_path / "p.png"), "--markdown", str(md)],
                           env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "| one/single | two/single | 2 |" in md.read_text()
