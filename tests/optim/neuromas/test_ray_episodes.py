"""NeuroMAS training episodes on Ray workers (ray_episodes.py): the learner on the driver, versions on every job.

On the session's local Ray cluster (tests/conftest.py `ray_cluster`): a seeded run with a scripted
sampler gives the local runner's per-step records; a job made with an older version is refused by
its worker and remade with the current one; and end to end on SmolLM2-135M through the CLI.
"""
from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from mastune.cli.main import app
from mastune.errors import ConfigError, MastuneError
from mastune.graph.layernet import layered_network
from mastune.optim.neuromas import NeuroMASConfig, train_network
from mastune.optim.neuromas.episodes import EpisodeRequest
from mastune.optim.neuromas.ray_episodes import Adapters, EpisodeJob, EpisodeWorker, Version, digest_of
from mastune.optim.neuromas.train import build_policy
from mastune.rollout.ray_runner import StaleVersion

from . import fakes
from .fakes import ScriptedOnWorker, ScriptedSampler, state_export, tf_example

SCRIPTS = {"h1_0": ["left", "right", "around"], "out": ["The answer is A", "The answer is B", "no idea"]}
TRAIN = [tf_example(i, "A" if i % 2 else "B") for i in range(4)]
VALID = [tf_example(10 + i) for i in range(2)]
TIMINGS = ("sample_s", "update_s", "time_s", "episodes_per_hour", "episodes_per_hour_total")


@pytest.fixture
def workers_see_the_fakes(ray_cluster):
    """The test's sampler factory travels to the workers by value (test modules are not importable there)."""
    import ray

    ray.cloudpickle.register_pickle_by_value(fakes)
    yield ray_cluster
    ray.cloudpickle.unregister_pickle_by_value(fakes)


def ray_source(**kw):
    from mastune.optim.neuromas.ray_episodes import RayEpisodes

    opts = dict(make_sampler=ScriptedOnWorker(SCRIPTS), export=state_export, workers=2, concurrency=2,
                cpus_per_worker=0.5)
    return RayEpisodes(**{**opts, **kw})


def cfg_for(tiny_model, **kw):
    base = dict(backbone=tiny_model, task="toy", layers=(1,), rank=4, steps=3, questions_per_step=2, group_size=2,
                lr=5e-2, max_tokens=5, eval_max_tokens=4, val_every=1, concurrency=2)
    return NeuroMASConfig(**{**base, **kw})


def strip(log):
    return [{k: v for k, v in r.items() if k not in TIMINGS} for r in log]


async def test_ray_training_gives_the_local_runners_records(tiny_model, workers_see_the_fakes, tmp_path):
    cfg = cfg_for(tiny_model)
    local = await train_network(cfg, TRAIN, VALID, tmp_path / "local", sampler=ScriptedSampler(SCRIPTS),
                                progress=False)
    with ray_source() as source:  # 2 steps, then a new driver resumes for the third
        policy = build_policy(cfg)
        await source.sync(policy, 0)  # what compile does before training: the fresh adapters
        await train_network(cfg_for(tiny_model, steps=2), TRAIN, VALID, tmp_path / "ray", policy=policy,
                            episodes=source, progress=False)
        assert source.syncs == 3 and source.rejected == 0  # fresh, then after each of the 2 updates
    with ray_source() as source:
        policy = build_policy(cfg)
        await source.sync(policy, 0)
        remote = await train_network(cfg, TRAIN, VALID, tmp_path / "ray", policy=policy, episodes=source,
                                     progress=False)
        states = source.worker_states()
    assert len(remote.log) == 3 and strip(remote.log) == strip(local.log)
    # the scripted rewards vary, so the adapters moved and every step published a new version
    assert any(s["grad_norm"] > 0 for r in remote.log for s in r["nodes"].values())
    assert source.syncs == 3 and source.rejected == 0  # fresh, the resumed state (step 2), after update 3
    assert len({s["pid"] for s in states}) == 2
    assert all(s["loads"] >= 1 for s in states)  # both workers sampled
    assert max(s["loaded"].step for s in states) == 3  # the last validation ran on the last update's adapters
    saved = {k: json.loads((tmp_path / k / "config.json").read_text()) for k in ("local", "ray")}
    assert saved["local"]["runner"] == {"kind": "local", "workers": 1, "concurrency": 2}
    assert saved["ray"]["runner"] == {"kind": "ray", "workers": 2, "address": None, "concurrency": 2, "threads": 1}


async def test_a_stale_job_is_refused_and_remade_with_the_current_version(workers_see_the_fakes):
    network = layered_network((1,))
    request = EpisodeRequest(tf_example(1), 0.7, 8, seed=5)
    with ray_source(make_sampler=ScriptedOnWorker(SCRIPTS, tag=True), export=lambda w: {"h1_0": w, "out": w}) as src:
        await src.sync(b"weights of step 0", 0)
        old = src.adapters
        await src.run(network, [request, request])  # one on each worker: both load step 0
        await src.sync(b"weights of step 1", 1)
        now = await src.run(network, [request, request])
        assert [s["loaded"].step for s in src.worker_states()] == [1, 1]
        ep = await src.submit(network, request, old)  # a job made before the update
        assert src.rejected == 1  # its worker refused it ...
        assert ep.info["policy_version"] == {"step": 1, "resync": 0, "digest": src.adapters.version.digest}
        assert [c.sample.text for c in ep.calls] == [c.sample.text for c in now[0].calls]  # ... it ran on step 1
        assert [s["loaded"].step for s in src.worker_states()] == [1, 1] and src.syncs == 2
        await src.sync(b"weights of step 1", 1)  # the same weights again: no new version
        assert src.syncs == 2
        await src.sync(b"regrown weights at step 1", 1)  # other weights at the same step: a resync, newer
        assert src.adapters.version.key == (1, 1)
        with pytest.raises(ConfigError, match="went back"):
            await src.sync(b"x", 0)


async def test_a_killed_worker_loses_no_episode(workers_see_the_fakes, settled):
    import asyncio
    import os
    import signal

    network = layered_network((1,))
    requests = [EpisodeRequest(tf_example(i), 0.7, 8, seed=i) for i in range(8)]
    with ray_source(make_sampler=ScriptedOnWorker(SCRIPTS, latency_s=0.3), export=lambda w: {"h1_0": w, "out": w}) as src:
        await src.sync(b"step 0", 0)
        await src.run(network, requests[:2])  # both workers up, step 0 loaded
        victim = src.worker_states()[0]["pid"]
        running = asyncio.ensure_future(src.run(network, requests))
        for _ in range(200):  # kill it only once it has episodes in flight (a fixed sleep raced under load)
            if any(s["pid"] == victim and s["running"] for s in src.worker_states()):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the victim worker never had an episode in flight")
        os.kill(victim, signal.SIGKILL)
        eps = await running
        assert src.lost >= 1 and victim not in {s["pid"] for s in await settled(src.worker_states)}  # restarted by Ray
    assert [e.example_id for e in eps] == [r.example.id for r in requests]  # every episode, once, in order
    local = ScriptedSampler(SCRIPTS)
    from mastune.optim.neuromas.episode import forward

    for ep, r in zip(eps, requests):  # the seeded samples do not depend on which worker ran them
        want = await forward(network, local, r.example, temperature=r.temperature, max_tokens=8, seed=r.seed)
        assert [c.sample.text for c in ep.calls] == [c.sample.text for c in want.calls]


def version(step, data, resync=0):
    blobs = {"h1_0": data, "out": data}
    return Adapters(Version(step, resync, digest_of(blobs)), blobs, ".bin")


async def test_a_worker_loads_newer_versions_refuses_older_ones_and_checks_digests(monkeypatch):
    monkeypatch.setenv("MASTUNE_THREADS", "1")  # the worker sets it for its process
    worker = EpisodeWorker(ScriptedOnWorker(SCRIPTS, tag=True))
    network, request = layered_network((1,)), EpisodeRequest(tf_example(1), 0.7, 8, seed=1)
    v0, v1 = version(0, b"zero"), version(1, b"one")
    first = await worker.run(EpisodeJob(network, request, v0))
    assert first.rejected is None and worker.loaded == v0.version and worker.loads == 1
    assert (await worker.run(EpisodeJob(network, request, v0))).rejected is None and worker.loads == 1  # kept
    newer = await worker.run(EpisodeJob(network, request, v1))
    assert newer.rejected is None and worker.loaded == v1.version and worker.loads == 2
    assert newer.episode.calls[0].sample.text != first.episode.calls[0].sample.text  # other weights, other tag
    stale = await worker.run(EpisodeJob(network, request, v0))
    assert isinstance(stale.rejected, StaleVersion) and stale.episode is None and worker.loaded == v1.version
    clash = version(1, b"another one")  # same version number, other bytes
    assert isinstance((await worker.run(EpisodeJob(network, request, clash))).rejected, StaleVersion)
    forged = Adapters(Version(2, 0, v1.version.digest), {"h1_0": b"two", "out": b"two"}, ".bin")
    with pytest.raises(MastuneError, match="do not match its digest"):
        await worker.run(EpisodeJob(network, request, forged))
    assert worker.loaded == v1.version


def test_the_ray_runner_needs_the_engine_sampler(tiny_model, tmp_path):
    from mastune.optim.neuromas.optimiser import NeuroMASOptimiser

    with pytest.raises(ConfigError, match="embedded engine"):
        NeuroMASOptimiser(cfg_for(tiny_model), sampler="transformers", runner="ray")
    with pytest.raises(ConfigError, match="options of --runner ray"):
        NeuroMASOptimiser(cfg_for(tiny_model), sampler="transformers", workers=2)


@pytest.mark.engine
@pytest.mark.slow  # ~70 s on 2 shared cores: the driver dequantises the GGUF, each worker loads an engine
def test_train_on_two_ray_workers_with_the_engine(ray_cluster, smollm_path, tmp_path):
    out = tmp_path / "n2"
    r = CliRunner().invoke(app, [
        "train", "neuromas", "--task", "navigate", "--backbone", "smollm2-135m", "--layers", "1", "--out", str(out),
        "--steps", "1", "--questions-per-step", "1", "--group-size", "2", "--max-tokens", "8",
        "--eval-max-tokens", "8", "--train-size", "2", "--val-size", "0", "--concurrency", "1", "--lr", "1e-3",
        "--device", "cpu", "--runner", "ray", "--ray-address", ray_cluster, "--workers", "2"])
    assert r.exit_code == 0, r.output
    assert "1 steps, 2 episodes" in r.output and "Ray workers" in r.output
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in log] == [0] and log[0]["completion_tokens"] > 0
    for node in ("h1_0", "out"):
        st = log[0]["nodes"][node]
        assert st["skipped"] or st["prompt_mismatch"] == 0  # the workers' engine prompts are the scorer's
    saved = json.loads((out / "config.json").read_text())
    assert saved["runner"]["kind"] == "ray" and saved["runner"]["workers"] == 2
    assert sorted(p.name for p in (out / "engine" / "gguf").iterdir()) == ["h1_0.gguf", "out.gguf"]
    assert (out / "best.pt").is_file()


def test_the_cli_refuses_ray_flags_without_ray_and_says_how_to_install_it(tmp_path, monkeypatch):
    backbone = tmp_path / "model.gguf"
    backbone.write_bytes(b"GGUF")  # never loaded: the runner is checked first
    base = ["train", "neuromas", "--task", "navigate", "--backbone", str(backbone), "--out", str(tmp_path / "o"),
            "--train-size", "2", "--val-size", "0"]
    r = CliRunner().invoke(app, [*base, "--workers", "2"])
    assert r.exit_code == 1 and "options of --runner ray" in r.output
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    r = CliRunner().invoke(app, [*base, "--runner", "ray"])
    assert r.exit_code == 1 and "pip install 'mastune[ray]'" in r.output
    assert not (tmp_path / "o" / "config.json").exists()
