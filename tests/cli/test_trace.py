import json

from typer.testing import CliRunner

from mastune.agents import Trace
from mastune.cli.trace import app
from mastune.llm import FakeLM
from mastune.systems import load_system


async def make_trace(tmp_path, name="hieramas-fixed", **overrides):
    lm = FakeLM("m", fn=lambda m, r: "thinking... \\boxed{12}")
    result = await load_system(name, {"m": lm}, model="m", **overrides).run("What is 3*4?", "math")
    path = tmp_path / "trace.json"
    result.trace.to_json(path)
    return result, path


async def test_trace_json_round_trip(tmp_path):
    result, path = await make_trace(tmp_path)
    loaded = Trace.from_json(path)
    assert loaded.to_dict() == json.loads(path.read_text())
    assert loaded.topology == result.trace.topology
    assert [(c.node, c.slot, c.model, c.output) for c in loaded.calls] == [
        (c.node, c.slot, c.model, c.output) for c in result.trace.calls]
    assert loaded.nodes["decision"].note == "consensus" and loaded.extracted_answer == "12"
    assert loaded.usage.total_tokens == result.usage.total_tokens


async def test_trace_show_renders_and_draws(tmp_path):
    _, path = await make_trace(tmp_path, assignments={"Inspector": {"proposers": ["m"], "synthesiser": "skip"}})
    image = tmp_path / "out.png"
    res = CliRunner().invoke(app, ["show", str(path), "--image", str(image)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    for text in ("mathematical_analyst", "supernode", "synthesiser", "skipped", "consensus", "total:"):
        assert text in res.output
    assert image.is_file() and image.read_bytes()[:4] == b"\x89PNG"


async def test_trace_show_default_image_path_and_bad_file(tmp_path):
    _, path = await make_trace(tmp_path, name="debate", agents=2, rounds=2)
    res = CliRunner().invoke(app, ["show", str(path), "--no-calls"])
    assert res.exit_code == 0, res.output
    assert path.with_suffix(".png").is_file()
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    res = CliRunner().invoke(app, ["show", str(bad), "--no-image"])
    assert res.exit_code == 1


async def test_a_collab_trace_has_roles_not_a_made_up_topology_and_shows(tmp_path, team):
    from mastune.systems.collab import CollabTrace, build_collab_system

    t = team(evaluator="Correctness: 1\nAdvice: -\nRecruiting suggestion: -")
    result = await build_collab_system(t.pool, ceo=True, model="m", max_turn=1).run("What is 2 + 2?", "math")
    trace = result.trace
    assert trace.topology is None and trace.roles == ["ceo", "recruiter", "solver", "critics", "evaluator"]
    assert list(trace.nodes) == trace.roles and trace.nodes["solver"].answer == "4"
    path = tmp_path / "collab.json"
    trace.to_json(path)
    again = CollabTrace.from_dict(json.loads(path.read_text()))
    assert again.to_dict() == trace.to_dict()
    res = CliRunner().invoke(app, ["show", str(path)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    for text in ("recruiter", "critics", "evaluator", "no drawing", "total:"):
        assert text in res.output
    assert not path.with_suffix(".png").exists()
