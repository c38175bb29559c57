"""Issue 40, point 4: small traps a new user walks into, each now a clear message."""
import json
import struct

import pytest
from typer.testing import CliRunner

from mastune.cli.main import app

runner = CliRunner()


def text(r) -> str:
    return " ".join(r.output.split())


def gsm8k_file(tmp_path, n=4):
    p = tmp_path / "g.jsonl"
    p.write_text("\n".join(json.dumps({"question": f"double {i}", "answer": f"#### {2 * i}"}) for i in range(n)))
    return p


def test_limit_zero_is_refused_not_an_empty_run(tmp_path):
    out = tmp_path / "run"
    r = runner.invoke(app, ["eval", "--system", "cot", "--task", "gsm8k", "--data-path", str(gsm8k_file(tmp_path)),
                            "--split", "all", "--limit", "0", "--out", str(out)])
    assert r.exit_code == 1 and "--limit must be at least 1, got 0" in text(r)
    assert not out.exists()
    r = runner.invoke(app, ["traces", "generate", "--task", "gsm8k", "--limit", "0", "--out", str(tmp_path / "t")])
    assert r.exit_code == 1 and "--limit must be at least 1, got 0" in text(r)


@pytest.mark.parametrize("command", [["run", "hi"], ["eval", "--task", "gsm8k", "--out", "unused"]])
def test_an_unknown_system_lists_every_kind_and_graph_system(command, tmp_path):
    from mastune.systems import builtin_systems

    r = runner.invoke(app, [*command, "--system", "no-such-system"], env={"COLUMNS": "400"})
    assert r.exit_code == 1, r.output
    said = text(r)
    assert "unknown system 'no-such-system'" in said
    for name in ("collab", "hieramas", "neuromas", *builtin_systems()):
        assert name in said, name


def test_a_pool_entry_naming_a_missing_gguf_says_the_file_is_missing(tmp_path):
    missing = tmp_path / "models" / "mine.gguf"
    pool = tmp_path / "pool.yaml"
    pool.write_text(f"models:\n  - {{name: mine, model: {missing}}}\n")
    r = runner.invoke(app, ["run", "hi", "--pool", str(pool), "--model", "mine"], env={"COLUMNS": "400"})
    assert r.exit_code == 1, r.output
    said = text(r)
    assert f"GGUF file {missing} does not exist" in said
    assert "unknown model" not in said and "pass a path to a .gguf" not in said


# ---- train neuromas: a folder's config is read before the backbone loads

def tiny_gguf(tmp_path):
    """A GGUF header with no tensors: enough for the flags (it is never loaded in these tests)."""
    p = tmp_path / "backbone.gguf"
    p.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 0))
    return str(p)


@pytest.fixture
def no_model_load(monkeypatch):
    """The backbone must not be loaded: fail loudly if training starts."""
    from mastune.optim.neuromas import optimiser

    def load(*a, **k):
        raise AssertionError("the backbone was loaded")

    monkeypatch.setattr(optimiser, "build_policy", load)
    monkeypatch.setattr("mastune.optim.neuromas.load_splits", lambda cfg: ([object()], []))


def neuromas(tmp_path, out, *extra):
    return runner.invoke(app, ["train", "neuromas", "--task", "navigate", "--backbone", tiny_gguf(tmp_path),
                               "--out", str(out), *extra], env={"COLUMNS": "400"})


def saved_run(tmp_path, out, layers="1,1", steps=3):
    from mastune.cli.train_neuromas import neuromas_config

    cfg = neuromas_config(task="navigate", backbone=tiny_gguf(tmp_path), layers=layers, grow_from=None, episodes=None,
                          steps=steps, rank=8, alpha=None, targets="q_proj,k_proj,v_proj,o_proj", lr=1e-4,
                          questions_per_step=4, group_size=4, baseline="loo", temperature=0.7, max_tokens=200,
                          eval_max_tokens=200, train_size=None, val_size=50, val_every=5, seed=0, split_seed=0,
                          concurrency=8, device="auto", single_llm=False)
    out.mkdir(parents=True, exist_ok=True)
    cfg.save(out)
    return cfg


def test_train_neuromas_refuses_another_config_before_loading_the_model(tmp_path, no_model_load):
    out = tmp_path / "n3"
    saved_run(tmp_path, out, layers="1,1")
    r = neuromas(tmp_path, out, "--layers", "2,2")
    assert r.exit_code == 1, r.output
    assert "holds a run with other settings" in text(r) and "layers" in text(r)
    assert "backbone was loaded" not in r.output


def test_train_neuromas_says_a_finished_run_is_finished_without_loading(tmp_path, no_model_load):
    import torch

    from mastune.optim.checkpoint import atomic_save
    from mastune.optim.neuromas.checkpoint import FORMAT_VERSION, KIND

    out = tmp_path / "n3"
    saved_run(tmp_path, out, steps=3)
    atomic_save({"meta": {"kind": KIND, "format_version": FORMAT_VERSION}, "adapters": {}, "step": 3,
                 "episodes": 48, "best": {"accuracy": 0.5}, "t": torch.zeros(1)}, out / "state.pt")
    r = neuromas(tmp_path, out, "--steps", "3")
    assert r.exit_code == 0, r.output
    assert "already holds a finished run: 3 of 3 steps, 48 episodes" in text(r)
    assert "nothing to train" in text(r)
    # more steps than it has: training goes on (here: the stand-in load says the model would load)
    r = neuromas(tmp_path, out, "--steps", "4")
    assert "backbone was loaded" in str(r.exception)


def test_train_neuromas_says_when_episodes_are_rounded_up_to_whole_steps(tmp_path):
    r = neuromas(tmp_path, tmp_path / "o", "--episodes", "4", "--print-config")
    assert r.exit_code == 0, r.output
    assert "note: --episodes 4 runs 16 episodes: 1 whole step(s) of 4 questions x 4 samples" in text(r)
    cfg = json.loads(r.stdout.strip().splitlines()[-1])["config"]
    assert cfg["steps"] == 1
    r = neuromas(tmp_path, tmp_path / "o", "--episodes", "32", "--print-config")
    assert "note:" not in r.output  # a whole number of steps: nothing to say
