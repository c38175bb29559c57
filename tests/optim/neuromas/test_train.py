"""End to end on the tiny model with transformers sampling: 2 steps, checkpoint, resume, load, grow."""
import json

import pytest
import torch

from mastune.agents.prompts import family
from mastune.errors import ConfigError
from mastune.optim.checkpoint import CheckpointError
from mastune.optim.neuromas import NeuroMASConfig, load_trained, train_network
from mastune.optim.neuromas.train import BEST_FILE, LOG_FILE, STATE_FILE

from .fakes import tf_example

MCQ = family("mcq").format


def parity(example, reply):
    """A reward that varies with what the random model writes, so every step has something to learn."""
    return float(len(reply) % 2 == 0)


def cfg_for(tiny_model, **kw):
    base = dict(backbone=tiny_model, task="toy", layers=(1,), rank=4, steps=2, questions_per_step=2, group_size=2,
                lr=5e-3, max_tokens=5, eval_max_tokens=4, val_every=1, concurrency=2)
    return NeuroMASConfig(**{**base, **kw})


TRAIN = [tf_example(i) for i in range(4)]
VALID = [tf_example(10 + i) for i in range(2)]


def states(policy):
    return {n: policy.adapter_state(n) for n in policy.nodes}


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[n][k], b[n][k]) for n in a for k in a[n])


async def test_two_steps_write_log_and_checkpoints_then_resume_and_load(tiny_model, tmp_path):
    out = tmp_path / "run"
    res = await train_network(cfg_for(tiny_model), TRAIN, VALID, out, reward=parity, progress=False)
    log = [json.loads(line) for line in (out / LOG_FILE).read_text().splitlines()]
    assert [r["step"] for r in log] == [0, 1]
    for r in log:
        assert set(r["nodes"]) == {"h1_0", "out"}
        assert {"reward", "accuracy", "tokens", "episodes_per_hour", "episodes_per_hour_total", "val"} <= set(r)
        assert r["tokens"] > 0 and r["episodes_per_hour"] > 0 and r["val"]["n"] == 2
        for s in r["nodes"].values():
            assert {"logprob", "grad_norm", "tokens"} <= set(s)
            assert s["skipped"] or s["prompt_mismatch"] == 0  # the transformers sampler scores what it sampled
    assert log[-1]["episodes"] == 2 * 2 * 2
    assert any(s["grad_norm"] > 0 for r in log for s in r["nodes"].values())
    assert (out / BEST_FILE).is_file() and (out / STATE_FILE).is_file()
    saved = json.loads((out / "config.json").read_text())
    assert saved["nodes"] == ["h1_0", "out"] and len(saved["backbone_sha256"]) == 64

    # loading the best checkpoint gives a network that runs
    policy, network, meta = load_trained(out, answer_format=MCQ)
    assert meta.layers == [1] and network.ids == ["h1_0", "out"]
    assert meta.info["step"] in (0, 1) and meta.info["val"]["n"] == 2
    with pytest.raises(CheckpointError, match="prompt fingerprint"):
        load_trained(out, answer_format=family("math").format)

    # a finished run asked for more steps continues where it stopped
    more = await train_network(cfg_for(tiny_model, steps=3), TRAIN, VALID, out, reward=parity, progress=False)
    assert [r["step"] for r in more.log] == [0, 1, 2]
    assert [r["step"] for r in (json.loads(x) for x in (out / LOG_FILE).read_text().splitlines())] == [0, 1, 2]


async def test_resume_after_a_kill_equals_an_uninterrupted_run(tiny_model, tmp_path):
    straight = await train_network(cfg_for(tiny_model), TRAIN, [], tmp_path / "a", reward=parity, progress=False)
    killed = tmp_path / "b"
    await train_network(cfg_for(tiny_model, steps=1), TRAIN, [], killed, reward=parity, progress=False)
    with (killed / LOG_FILE).open("a") as f:
        f.write('{"step": 1, "half a line')  # the kill cut a log line short
    resumed = await train_network(cfg_for(tiny_model), TRAIN, [], killed, reward=parity, progress=False)
    assert same(states(straight.policy), states(resumed.policy))
    assert [r["reward"] for r in resumed.log] == [r["reward"] for r in straight.log]


async def test_resume_with_other_settings_is_refused(tiny_model, tmp_path, another_writer):
    out = tmp_path / "run"
    await train_network(cfg_for(tiny_model, steps=1), TRAIN, [], out, reward=parity, progress=False)
    with pytest.raises(CheckpointError, match="lr: run has 0.005, now 0.01"):
        await train_network(cfg_for(tiny_model, steps=2, lr=1e-2), TRAIN, [], out, reward=parity, progress=False)
    with pytest.raises(CheckpointError, match="data: run has"):
        await train_network(cfg_for(tiny_model, steps=2), TRAIN[:3], [], out, reward=parity, progress=False)
    with another_writer(out):
        with pytest.raises(ConfigError, match="another process"):
            await train_network(cfg_for(tiny_model, steps=2), TRAIN, [], out, reward=parity, progress=False)


async def test_grow_from_a_trained_small_network(tiny_model, tmp_path):
    small = await train_network(cfg_for(tiny_model, layers=(1,)), TRAIN, VALID, tmp_path / "small", reward=parity,
                                progress=False)
    small_best, _, _ = load_trained(tmp_path / "small")
    big_cfg = cfg_for(tiny_model, layers=(2,), steps=1, grow_from=str(tmp_path / "small" / BEST_FILE))
    # a constant reward teaches nothing, so after its step the big network is exactly the grown one
    big = await train_network(big_cfg, TRAIN, [], tmp_path / "big", reward=lambda e, r: 1.0, progress=False)
    growth = json.loads((tmp_path / "big" / "config.json").read_text())["growth"]
    assert growth["mapping"] == {"h1_0": "h1_0", "out": "out"} and growth["new_nodes"] == ["h1_1"]
    assert growth["from_layers"] == [1] and small.log
    for n in ("h1_0", "out"):
        assert all(torch.equal(v, small_best.adapter_state(n)[k]) for k, v in big.policy.adapter_state(n).items())
    # the small network did train (some B != 0), so the identity above is not just zeros == zeros
    assert any(torch.count_nonzero(v) for n in ("h1_0", "out") for k, v in small_best.adapter_state(n).items()
               if "lora_B" in k)
    new_b = {k: v for k, v in big.policy.adapter_state("h1_1").items() if "lora_B" in k}
    assert new_b and all(torch.count_nonzero(v) == 0 for v in new_b.values())
    grown_meta = load_trained(tmp_path / "big")[2]
    assert grown_meta.info["growth"]["mapping"] == growth["mapping"]
    # growing into layers the small network does not fit is refused
    with pytest.raises(ConfigError, match="cannot grow"):
        await train_network(cfg_for(tiny_model, layers=(), steps=1, grow_from=big_cfg.grow_from), TRAIN, [],
                            tmp_path / "bad", reward=parity, progress=False)


def test_navigate_splits_for_training():
    from mastune.optim.neuromas import load_splits
    from mastune.tasks.datasets import data_dir_candidates

    if not data_dir_candidates():
        pytest.skip("shared benchmark data not found")
    train, valid = load_splits(NeuroMASConfig(task="navigate", train_size=30, val_size=10))
    assert len(train) == 30 and len(valid) == 10
    assert {e.id for e in train}.isdisjoint(e.id for e in valid)
    full_train, _ = load_splits(NeuroMASConfig(task="navigate", val_size=None))
    assert len(full_train) == 500 and [e.id for e in full_train[:30]] == [e.id for e in train]
