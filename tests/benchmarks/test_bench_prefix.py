"""The prefix benchmark's layout switch and table (the runs themselves need the engine)."""
import importlib.util
import json
from pathlib import Path

import pytest

from mastune.agents import prompts as agent_prompts
from mastune.systems.collab import prompts as collab_prompts

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_prefix.py"


def load_script():
    spec = importlib.util.spec_from_file_location("bench_prefix", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def restore_prompts(monkeypatch):
    monkeypatch.setattr(agent_prompts, "PROMPTS_PATH", agent_prompts.PROMPTS_PATH)
    monkeypatch.setattr(collab_prompts, "PROMPTS_PATH", collab_prompts.PROMPTS_PATH)
    yield
    for fn in (agent_prompts._data, agent_prompts.family, collab_prompts._data):
        fn.cache_clear()


def test_before_layout_renders_the_previous_prompts(restore_prompts):
    load_script().use_layout("before")
    old = agent_prompts.messages("role", question="Q?", family_name="math", role="Inspector")
    assert old[0]["content"].startswith("You are the Inspector in a team")  # role first: no shared prefix
    critic = collab_prompts.render("critic", question="Q?", family_name="math", expert="a critic.", solution="s")
    assert critic[0]["content"].startswith("You are a critic.") and "Proposed solution:" in critic[1]["content"]


def test_after_layout_is_the_current_one(restore_prompts):
    load_script().use_layout("after")
    new = agent_prompts.messages("role", question="Q?", family_name="math", role="Inspector")
    assert "Inspector" not in new[0]["content"]


def test_table_compares_evaluated_tokens_per_item(tmp_path):
    mod = load_script()
    for layout, evaluated in (("before", [1000, 1200]), ("after", [500, 600])):
        (tmp_path / layout).mkdir()
        (tmp_path / layout / "full.jsonl").write_text("".join(
            json.dumps({"id": f"q{i}", "model": "m", "prompt_tokens": 1200, "prompt_evaluated": e,
                        "prompt_cached": 1200 - e, "wall_s": 10.0, "correct": i == 0}) + "\n"
            for i, e in enumerate(evaluated)))
    table = mod.table(tmp_path, ["full"], "m")
    assert "| full | before | 2 | 1200 | 1100 | 8% | 10.0 | 1/2 |" in table
    assert "| full | after vs before | | | -50% |" in table


def test_transcript_layout_sets_the_graph_systems_prompt_layout(monkeypatch):
    mod = load_script()
    seen = {}

    def fake_build_system(spec, pool):
        seen[spec.config.get("name", spec.kind)] = spec.config.get("prompt_layout")
        return None

    monkeypatch.setattr("mastune.systems.build_system", fake_build_system)
    _, route, layout = mod.LAYOUTS["transcript"]
    mod.build("full", "qwen2.5-coder-0.5b", route, 256, layout)
    mod.build("collab", "qwen2.5-coder-0.5b", route, 256, layout)  # collab has no prompt_layout: not passed
    assert route and seen["full"] == "transcript" and seen["collab"] is None
    _, route, layout = mod.LAYOUTS["after"]
    mod.build("full", "qwen2.5-coder-0.5b", route, 256, layout)
    assert seen["full"] == "text"


def test_paired_counts_compare_the_same_items(tmp_path):
    mod = load_script()
    rows = {"after": [(900, True), (800, False), (700, False), (600, True)],
            "transcript": [(300, True), (200, True), (100, False)]}  # q3 not finished: left out
    for layout, recs in rows.items():
        (tmp_path / layout).mkdir()
        (tmp_path / layout / "full.jsonl").write_text("".join(
            json.dumps({"id": f"q{i}", "model": "m", "prompt_tokens": 1000, "prompt_evaluated": e,
                        "prompt_cached": 1000 - e, "wall_s": 2.0 if layout == "after" else 1.0, "correct": c,
                        "answer": str(i if c else -1)}) + "\n"
            for i, (e, c) in enumerate(recs)))
    out = mod.paired(tmp_path, ["full"], "m", "after", "transcript")
    # items q0-q2: evaluated 800 vs 200; correct 1/3 vs 2/3; both 1, only after 0, only transcript 1, neither 1
    # s/item 2.0 vs 1.0; same extracted answer on q0 (both right) and q2 (both wrong): 2 of 3
    assert "| full | 3 | 800 | 200 | -75% | 2.0 | 1.0 | 1/3 | 2/3 | 1 | 0 | 1 | 1 | 2/3 |" in out
    assert "| full | transcript vs after | | | -75% |" not in out  # that row is the table's, over all items
    table = mod.table(tmp_path, ["full"], "m")
    assert "| full | transcript vs after | | | -73% | | 2.00x faster | |" in table  # 200 vs 750 per item
