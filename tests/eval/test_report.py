import json

import pytest

from mastune.errors import ConfigError
from mastune.eval import ResultsFile, markdown_table, plot, summarize
from mastune.eval.stats import pareto_front, wilson_interval


def test_wilson_interval():
    lo, hi = wilson_interval(50, 100)
    assert lo == pytest.approx(0.404, abs=1e-3) and hi == pytest.approx(0.596, abs=1e-3)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(0, 10)[1] > 0.2
    assert wilson_interval(0, 0) == (0.0, 0.0)


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


def test_not_a_run_folder(tmp_path):
    with pytest.raises(ConfigError, match="meta.json"):
        summarize(tmp_path)
