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
