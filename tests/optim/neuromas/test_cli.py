"""`mastune train neuromas` flags -> NeuroMASConfig (via --print-config: nothing is loaded or trained)."""
import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mastune.cli.main import app
from mastune.optim import get_optimiser
from mastune.optim.neuromas import NeuroMASConfig
from mastune.optim.neuromas.optimiser import NeuroMASOptimiser

runner = CliRunner()


def config(*args):
    r = runner.invoke(app, ["train", "neuromas", "--out", "unused", "--print-config", *args])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output.strip().splitlines()[-1])
    return NeuroMASConfig.from_dict(out["config"]), out["sampler"]


def test_flags_map_onto_the_config(tiny_model):
    cfg, sampler = config("--backbone", tiny_model, "--task", "mmlu-redux", "--layers", "2,2", "--rank", "4",
                          "--alpha", "16", "--targets", "q_proj,v_proj", "--lr", "3e-4", "--questions-per-step", "3",
                          "--group-size", "5", "--baseline", "ema", "--temperature", "0.9", "--max-tokens", "64",
                          "--eval-max-tokens", "100", "--train-size", "30", "--val-size", "7", "--val-every", "2",
                          "--seed", "3", "--split-seed", "4", "--concurrency", "6", "--steps", "11",
                          "--device", "cpu", "--grow-from", "ckpt/small")
    assert sampler == "transformers"  # an HF folder: no engine
    assert cfg.backbone == tiny_model and cfg.task == "mmlu-redux" and cfg.layers == (2, 2)
    assert (cfg.rank, cfg.alpha, cfg.target_modules, cfg.lr) == (4, 16.0, ("q_proj", "v_proj"), 3e-4)
    assert (cfg.questions_per_step, cfg.group_size, cfg.baseline, cfg.temperature) == (3, 5, "ema", 0.9)
    assert (cfg.max_tokens, cfg.eval_max_tokens, cfg.train_size, cfg.val_size, cfg.val_every) == (64, 100, 30, 7, 2)
    assert (cfg.seed, cfg.split_seed, cfg.concurrency, cfg.steps, cfg.device) == (3, 4, 6, 11, "cpu")
    assert cfg.grow_from == "ckpt/small"


def test_defaults_episode_budget_and_pool_model_backbone(smollm_path, tmp_path):
    cfg, sampler = config("--backbone", "smollm2-135m", "--episodes", "33")
    # a pool model is recorded by name (a saved run names no path of this machine) and found again
    assert sampler == "engine" and cfg.backbone == "smollm2-135m"
    assert cfg.backbone_file == str(Path(smollm_path).resolve())
    cfg.save(tmp_path)
    assert str(Path(smollm_path).parent) not in (tmp_path / "config.json").read_text()
    # a run saved with the file's path (before names were recorded) still resumes
    assert cfg.differences(dataclasses.replace(cfg, backbone=str(Path(smollm_path).resolve()))) == []
    assert cfg.differences(dataclasses.replace(cfg, backbone="qwen2.5-coder-0.5b")) != []
    assert cfg.layers == (1, 1) and cfg.rank == 8 and cfg.target_modules == ("q_proj", "k_proj", "v_proj", "o_proj")
    assert cfg.steps == 3  # ceil(33 / (4 questions x 4 samples))
    assert (cfg.max_tokens, cfg.eval_max_tokens, cfg.baseline) == (200, 200, "loo")


def test_grow_from_a_run_folder_means_its_best_network(tiny_model, tmp_path):
    cfg, _ = config("--backbone", tiny_model, "--layers", "2,2", "--grow-from", str(tmp_path))
    assert cfg.grow_from == str(tmp_path / "best.pt")


def test_single_llm_baseline_is_one_node_with_matched_rank(tiny_model):
    cfg, _ = config("--backbone", tiny_model, "--layers", "2,2", "--rank", "4", "--single-llm")
    assert cfg.layers == () and cfg.rank == 4 * 5  # NeuroMAS-5: five adapters of rank 4 -> one of rank 20


@pytest.mark.parametrize("args, message", [
    (["--episodes", "8", "--steps", "2"], "not both"),
    (["--single-llm", "--grow-from", "x"], "cannot --grow-from"),
    (["--sampler", "engine"], "serves a .gguf backbone"),
    (["--baseline", "loo", "--group-size", "1"], "group_size >= 2"),
    (["--layers", "0,1"], "layer"),
])
def test_bad_flags_fail_clearly(tiny_model, args, message):
    r = runner.invoke(app, ["train", "neuromas", "--out", "unused", "--print-config", "--backbone", tiny_model, *args])
    assert r.exit_code == 1 and message in r.output, r.output


def test_registered_as_an_optimiser():
    assert get_optimiser("neuromas") is NeuroMASOptimiser
