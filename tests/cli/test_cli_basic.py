import json

import pytest
from typer.testing import CliRunner

from mastune.cli.main import app

runner = CliRunner()


def test_models_list_shows_pool():
    r = runner.invoke(app, ["models", "list"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    for name in ("smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"):
        assert name in r.output
    assert "MB" in r.output and "PyPI" in r.output
    import xllamacpp

    # the engine line names the build's compiled CPU features, as llama.cpp reports them
    assert "engine: xllamacpp" in r.output and ("AVX2" in r.output) == ("AVX2 = 1" in xllamacpp.get_system_info())


def test_models_pull_unknown_fails_clearly():
    r = runner.invoke(app, ["models", "pull", "no-such-model"])
    assert r.exit_code == 1
    assert "unknown model" in r.output


def test_bad_pool_config_fails_clearly(tmp_path):
    bad = tmp_path / "pool.yaml"
    bad.write_text("models:\n  - {name: a, backend: openai}\n")
    r = runner.invoke(app, ["run", "hi", "--pool", str(bad)])
    assert r.exit_code == 1 and "base_url" in r.output


@pytest.mark.engine
def test_run_single_model_prints_answer_and_usage(smollm_path, tmp_path):
    r = runner.invoke(
        app,
        ["run", "What is 2+2?", "--model", "smollm2-135m", "--max-tokens", "16", "--json"],
    )
    assert r.exit_code == 0, r.output
    rec = json.loads(r.output.strip().splitlines()[-1])
    assert rec["answer"].strip()
    assert rec["usage"]["calls"] == 1 and rec["usage"]["completion_tokens"] > 0
    r2 = runner.invoke(app, ["run", "What is 2+2?", "--model", "smollm2-135m", "--max-tokens", "16"])
    assert r2.exit_code == 0 and "prompt tok" in r2.output


def test_eval_refuses_limit_with_sample(tmp_path):
    r = runner.invoke(app, ["eval", "--system", "cot", "--task", "gsm8k", "--limit", "2", "--sample", "2",
                            "--out", str(tmp_path / "run")])
    assert r.exit_code == 1 and "not both" in r.output
    assert not (tmp_path / "run" / "results.jsonl").exists()


def test_train_sft_install_hint_keeps_the_extra_name(monkeypatch, tmp_path):
    # rich read "[sft]" as markup and printed "pip install 'mastune'"
    import sys

    monkeypatch.setitem(sys.modules, "mastune.optim.sft", None)
    data = tmp_path / "sft.jsonl"
    data.write_text("")
    res = runner.invoke(app, ["train", "sft", "--data", str(data), "--base", str(tmp_path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert "mastune[sft]" in res.output


def test_help_names_every_registered_task_kind_and_the_ray_extra():
    from mastune.systems import kinds
    from mastune.tasks.datasets.registry import task_names

    r = runner.invoke(app, ["eval", "--help"], env={"COLUMNS": "400"})
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    for name in task_names():
        assert name in text
    for kind in kinds():
        assert kind == "graph" or kind in text
    assert "mastune[ray]" in text  # rich markup would drop an unescaped [ray]
    r = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "400"})
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    for kind in kinds():
        assert kind == "graph" or kind in text
    assert "hieramas / neuromas: the trained checkpoint" in text  # --checkpoint names both trained kinds
