"""The Ray runner on one local Ray cluster shared by these tests (num_cpus=2, usage stats off).

The cluster is the session fixture `ray_cluster` (tests/conftest.py). Scripted `backend: fake` pools travel to the workers as config; the same eval
through the local and the Ray runner gives the same records; a worker killed
by its pid mid-run loses nothing and duplicates nothing; a killed driver
resumes. Without Ray, `--runner ray` says how to install it.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mastune.cli.main import app
from mastune.errors import ConfigError
from mastune.eval import EvalConfig, ResultsFile, evaluate
from mastune.llm.pool import Pool
from mastune.rollout import Job, LocalRunner
from mastune.rollout.ray_runner import StaleVersion, Worker, share_limits
from mastune.systems import resolve_spec
from mastune.tasks.base import Example

SRC = str(Path(__file__).resolve().parents[2] / "src")


def fake_pool(latency_s: float = 0.0, n: int = 8) -> dict:
    """Item i answers 2i when i is even (correct), -1 when odd (wrong); item 5 fails (an LLMError)."""
    rules = [{"contains": "double 5", "error": "engine exploded"}]
    rules += [{"contains": f"double {i}", "reply": f"so \\boxed{{{2 * i if i % 2 == 0 else -1}}}"} for i in range(n)]
    return {"models": [{"name": "m", "backend": "fake", "fake": {"rules": rules, "latency_s": latency_s}}]}


def examples(n: int) -> list[Example]:
    return [Example(f"t/{i}", f"double {i}", str(2 * i), "math") for i in range(n)]


def records(out: Path) -> list[dict]:
    return list(ResultsFile(out / "results.jsonl").records())


def comparable(rec: dict) -> dict:
    """A record without its timings (they differ from run to run)."""
    rec = {k: v for k, v in rec.items() if k != "wall_s"}
    rec["usage"] = {k: v for k, v in rec["usage"].items() if k != "latency_s"}
    return rec


async def run_eval(tmp_path: Path, name: str, runner, pool: dict, n: int) -> list[dict]:
    spec = resolve_spec("cot", model="m", pool=pool)
    cfg = EvalConfig(system="cot", task="t", out=str(tmp_path / name), model="m")
    await evaluate(cfg, spec, examples(n), pool=Pool.from_dict(pool), runner=runner)
    return sorted((comparable(r) for r in records(tmp_path / name)), key=lambda r: r["id"])


async def test_ray_eval_gives_the_local_runners_records(ray_cluster, tmp_path):
    pool = fake_pool()
    local = await run_eval(tmp_path, "local", LocalRunner(Pool.from_dict(pool), 4), pool, 8)
    from mastune.rollout.ray_runner import RayRunner

    with RayRunner(pool, workers=2, concurrency=2, cpus_per_worker=0.5) as runner:
        remote = await run_eval(tmp_path, "ray", runner, pool, 8)
        assert len(set(runner.worker_pids())) == 2 and os.getpid() not in runner.worker_pids()
    assert remote == local
    ray_meta = json.loads((tmp_path / "ray" / "meta.json").read_text())
    assert ray_meta["runner"] == {"kind": "ray", "workers": 2, "address": None, "concurrency": 2, "threads": 1}
    assert json.loads((tmp_path / "local" / "meta.json").read_text())["runner"] == {
        "kind": "local", "workers": 1, "concurrency": 4}
    assert [r["status"] for r in remote].count("error") == 1 and "engine exploded" in remote[5]["error"]
    assert {r["id"] for r in remote if r.get("correct")} == {"t/0", "t/2", "t/4", "t/6"}


async def test_a_killed_worker_loses_and_duplicates_nothing(ray_cluster, tmp_path, settled):
    from mastune.rollout.ray_runner import RayRunner

    n = 12
    pool = fake_pool(latency_s=0.4, n=n)
    with RayRunner(pool, workers=2, concurrency=2, cpus_per_worker=0.5) as runner:
        victim = runner.worker_pids()[0]
        spec = resolve_spec("cot", model="m", pool=pool)
        cfg = EvalConfig(system="cot", task="t", out=str(tmp_path / "run"), model="m")
        killed = []

        def progress(summary, total):  # after the first result: both workers have items in flight
            if summary.n + summary.errors >= 1 and not killed:
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)

        summary = await evaluate(cfg, spec, examples(n), pool=Pool.from_dict(pool), runner=runner, progress=progress)
        assert killed and runner.lost >= 1  # the victim's in-flight items were re-dispatched
        assert victim not in await settled(runner.worker_pids)  # Ray restarted it (it may still be restarting)
    recs = records(tmp_path / "run")
    ids = [r["id"] for r in recs]
    assert sorted(ids) == sorted(f"t/{i}" for i in range(n))  # every item exactly once
    assert [r["id"] for r in recs if r["status"] == "error"] == ["t/5"]  # its own error, not a lost worker
    assert (summary.n, summary.errors) == (n - 1, 1)


def cli_args(tmp_path: Path, address: str, latency_s: float, n: int) -> list[str]:
    pool_file = tmp_path / "pool.json"  # JSON is YAML
    pool_file.write_text(json.dumps(fake_pool(latency_s, n)))
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"question": f"double {i}", "answer": f"#### {2 * i}"}) + "\n"
                            for i in range(n)))
    return ["eval", "--system", "cot", "--model", "m", "--task", "gsm8k", "--data-path", str(data), "--split", "all",
            "--pool", str(pool_file), "--out", str(tmp_path / "run"), "--no-cache", "--runner", "ray",
            "--ray-address", address, "--workers", "2", "--concurrency", "1"]


def test_resume_after_the_driver_is_killed_keeps_finished_items(ray_cluster, tmp_path):
    n = 10
    args = cli_args(tmp_path, ray_cluster, 0.5, n)
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    driver = subprocess.Popen([sys.executable, "-m", "mastune.cli.main", *args], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = tmp_path / "run" / "results.jsonl"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and driver.poll() is None:
        if results.is_file() and len(results.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    driver.kill()
    driver.wait()
    finished = {r["id"] for r in records(tmp_path / "run")}  # the loader names items gsm8k/<row>
    assert 2 <= len(finished) < n, "the driver should have been killed mid-run"

    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert f"resumed {len(finished - {'gsm8k/5'})}" in r.output  # an error is retried, not resumed
    latest = ResultsFile(results).latest()
    assert sorted(latest) == sorted(f"gsm8k/{i}" for i in range(n))
    ok = [i for i, rec in latest.items() if rec["status"] == "ok"]
    assert len(ok) == n - 1  # item 5 fails by script
    oks = [rec["id"] for rec in records(tmp_path / "run") if rec["status"] == "ok"]
    assert len(oks) == len(set(oks))  # no finished item was run again


def test_without_ray_the_runner_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    args = cli_args(tmp_path, "auto", 0.0, 2)
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 1
    assert "pip install 'mastune[ray]'" in r.output
    assert not (tmp_path / "run" / "results.jsonl").exists()


def test_remote_concurrency_limits_are_shared_by_the_workers():
    pool = {"models": [
        {"name": "vllm", "backend": "openai", "base_url": "http://h:8000/v1", "model_id": "q", "max_concurrency": 32},
        {"name": "sglang", "backend": "openai", "base_url": "http://h:30000/v1", "model_id": "q"},  # default 4
        {"name": "local", "backend": "embedded", "model": "smollm2-135m", "max_concurrency": 4},
    ]}
    shared = {m["name"]: m["max_concurrency"] for m in share_limits(pool, 4)["models"]}
    assert shared == {"vllm": 8, "sglang": 1, "local": 4}  # a local engine is each worker's own
    assert share_limits(pool, 1) == pool and share_limits(None, 4) is None
    assert [m["max_concurrency"] for m in share_limits(pool, 64)["models"]][:2] == [1, 1]


async def test_a_worker_reloads_a_newer_version_and_refuses_an_older_one(tmp_path, monkeypatch):
    monkeypatch.setenv("MASTUNE_THREADS", "1")  # a Worker sets it for its process: restored after the test
    pool = fake_pool()
    worker = Worker(pool, workers=1, threads=1)
    spec = resolve_spec("cot", model="m", pool=pool)

    async def run(version):
        import pickle

        from mastune.rollout.ray_runner import RunEnv

        return pickle.loads(await worker.run(Job(spec, examples(1)[0], None, version), RunEnv()))

    first = await run(1)
    built = worker.system(spec)
    assert first.ok and worker.version == 1
    assert (await run(1)).ok and worker.system(spec) is built  # same version: the built system is kept
    assert (await run(2)).ok and worker.version == 2 and worker.system(spec) is not built  # newer: rebuilt
    stale = await run(1)
    assert isinstance(stale.error, StaleVersion) and "version 2" in str(stale.error) and worker.version == 2
    assert (await run(None)).ok  # unversioned jobs (eval) are never refused


async def test_the_ray_runner_refuses_live_systems_and_reports_build_errors(ray_cluster):
    from mastune.rollout.ray_runner import RayRunner

    with pytest.raises(ConfigError, match="live models"):
        RayRunner({"m": object()})
    with RayRunner(fake_pool(), workers=1, concurrency=1, cpus_per_worker=0.5) as runner:
        with pytest.raises(ConfigError, match="not in the pool"):
            runner.system(resolve_spec("cot", model="nope", pool=fake_pool()))
        with pytest.raises(ConfigError, match="specs"):
            runner.system(object())


@pytest.mark.engine
async def test_eval_on_the_embedded_engine_with_two_workers(ray_cluster, smollm_path, tmp_path):
    from mastune.rollout.ray_runner import RayRunner

    pool = {"models": [{"name": "smollm2-135m", "backend": "embedded", "model": "smollm2-135m", "n_parallel": 2,
                        "ctx_per_slot": 1024}]}
    spec = resolve_spec("cot", model="smollm2-135m", options={"max_tokens": 24}, pool=pool)
    exs = [Example(f"t/{i}", f"What is {i} + {i}?", str(2 * i), "math") for i in range(4)]
    cfg = EvalConfig(system="cot", task="t", out=str(tmp_path / "run"), model="smollm2-135m")
    with RayRunner(pool, workers=2, concurrency=2, cpus_per_worker=1) as runner:
        summary = await evaluate(cfg, spec, exs, pool=Pool.from_dict(pool), runner=runner)
    recs = records(tmp_path / "run")
    assert sorted(r["id"] for r in recs) == [f"t/{i}" for i in range(4)]
    assert all(r["status"] == "ok" and r["reply"] and r["calls"] == 1 for r in recs), recs
    assert summary.n == 4 and all(r["usage"]["completion_tokens"] > 0 for r in recs)


# ---- the same runner under `traces generate` and HieraMAS training

TEAM = [  # one scripted model answering per role (read from the role's system prompt)
    {"contains": "leader of a group of experts", "reply": "1. A mathematician specialised in algebra."},
    {"contains": "review other experts", "reply": "Looks right. [Agree]"},
    {"contains": "experienced evaluator", "reply": "Correctness: 1\nAdvice: none\nRecruiting suggestion: none"},
    {"contains": "double 3", "reply": "The sum is \\boxed{-1}"},  # wrong: not kept
    {"contains": "solve the task together", "reply": "The sum is \\boxed{4}"},
]


def test_traces_generate_on_ray_keeps_what_the_local_runner_keeps(ray_cluster, tmp_path):
    pool_file = tmp_path / "team.json"
    pool_file.write_text(json.dumps({"models": [{"name": "m", "backend": "fake", "fake": {"rules": TEAM}}]}))
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"question": f"double {i}", "answer": "#### 4"}) + "\n" for i in range(4)))
    base = ["traces", "generate", "--task", "gsm8k", "--data-path", str(data), "--split", "all", "--pool",
            str(pool_file), "--model", "m", "--no-ceo", "--max-turn", "1", "--no-cache"]
    kept = {}
    for kind in ("local", "ray"):
        extra = ["--runner", "ray", "--ray-address", ray_cluster, "--workers", "2"] if kind == "ray" else []
        r = CliRunner().invoke(app, [*base, "--out", str(tmp_path / kind), *extra])
        assert r.exit_code == 0, r.output
        latest = ResultsFile(tmp_path / kind / "traces.jsonl").latest()
        assert sorted(latest) == [f"gsm8k/{i}" for i in range(4)] and all(v["status"] == "ok" for v in latest.values())
        kept[kind] = {i: (v["filters"], v["grade"], [c["output"] for c in v["trace"]["calls"]])
                      for i, v in latest.items()}
    assert kept["ray"] == kept["local"]
    for kind, workers in (("local", 1), ("ray", 2)):  # traces/meta.json says how they were produced
        meta = json.loads((tmp_path / kind / "meta.json").read_text())
        assert meta["runner"]["kind"] == kind and meta["runner"]["workers"] == workers
        assert meta["runners"] == [meta["runner"]]
    assert meta["runner"]["address"] == ray_cluster
    assert [i for i, (f, _, _) in kept["ray"].items() if not f["kept"]] == ["gsm8k/3"]


def add_examples(n: int, start: int = 0) -> list[Example]:
    out = []
    for i in range(start, start + n):  # the questions of tests/optim/hieramas/fakes.py
        a, b = 3 + 7 * i, 11 + 5 * i
        out.append(Example(f"add/{i}", f"What is {a} + {b}?", str(a + b), "math"))
    return out


def adding_pool(questions: list[Example]) -> dict:
    """HieraMAS's scripted pool as config: good (right, cheap), wrong (off by one, cheaper), pricey (right, 100x)."""
    def entry(name, offset, price):
        rules = [{"contains": ex.question, "reply": f"Adding up gives \\boxed{{{int(ex.answer) + offset}}}."}
                 for ex in questions]
        return {"name": name, "backend": "fake", "fake": {"rules": rules}, "price": {"input": price, "output": price},
                "profile": f"scripted model {name}"}
    return {"models": [entry("good", 0, 1.0), entry("wrong", 1, 0.5), entry("pricey", 0, 100.0)]}


async def test_hieramas_training_on_ray_follows_the_local_trajectory(ray_cluster, tmp_path):
    pytest.importorskip("torch")
    from mastune.optim.hieramas import HashEmbedder, RewardConfig, SelectorConfig, TrainConfig, train_stage1
    from mastune.optim.hieramas.episode import RuntimeOptions
    from mastune.rollout.ray_runner import RayRunner

    train, val = add_examples(6), add_examples(2, start=100)
    pool_cfg = adding_pool(train + val)
    cfg = TrainConfig(task="gsm8k", embedder="hash-64", iterations=3, batch_size=3, lr=0.01, temp_start=2.0,
                      temp_end=0.5, val_every=3, n_dags=4, concurrency=4, runtime=RuntimeOptions(decision_model="good"),
                      reward=RewardConfig(ref_tokens=1000), selector=SelectorConfig(allow_skip=False))
    local = await train_stage1(cfg, Pool.from_dict(pool_cfg), train, val, tmp_path / "local",
                               embedder=HashEmbedder(64), progress=False)
    with RayRunner(pool_cfg, workers=2, concurrency=2, cpus_per_worker=0.5) as runner:
        remote = await train_stage1(cfg, Pool.from_dict(pool_cfg), train, val, tmp_path / "ray",
                                    embedder=HashEmbedder(64), progress=False, runner=runner)
        # The iterations' jobs carried their version: the last batch (3 jobs on 4 slots, 2 per worker)
        # reached both workers, so both now refuse iteration 0's jobs and accept iteration 2's.
        spec = resolve_spec("cot", model="good", pool=pool_cfg)
        stale = await runner.map([Job(spec, train[0], None, 0) for _ in range(4)])
        current = await runner.map([Job(spec, train[0], None, 2) for _ in range(4)])
    assert all(isinstance(o.error, StaleVersion) for o in stale) and all(o.ok for o in current)
    clocks = {"time_s", "episodes_s", "val_s"}  # wall-clock times differ, everything else must not
    strip = lambda log: [{k: v for k, v in r.items() if k not in clocks} for r in log]  # noqa: E731
    assert strip(remote.log) == strip(local.log) and len(remote.log) == 3
    assert remote.best == local.best and remote.best["n"] == 2
    saved = {k: json.loads((tmp_path / k / "config.json").read_text()) for k in ("local", "ray")}
    assert saved["local"]["runner"]["kind"] == "local" and saved["ray"]["runner"]["kind"] == "ray"
    assert saved["ray"]["runner"]["workers"] == 2 and saved["ray"]["runners"] == [saved["ray"]["runner"]]


@pytest.mark.parametrize("command", [["eval"], ["traces", "generate"], ["train", "hieramas"], ["train", "neuromas"]],
                         ids=" ".join)
def test_each_rollout_command_offers_the_runner_flags(command):
    r = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert all(flag in r.output for flag in ("--runner", "--ray-address", "--workers"))


def test_ray_flags_without_the_ray_runner_or_an_unknown_runner_are_refused(tmp_path):
    args = cli_args(tmp_path, "auto", 0.0, 2)
    local = [a for a in args if a not in ("ray", "--runner")]  # --ray-address/--workers stay, --runner is local
    r = CliRunner().invoke(app, local)
    assert r.exit_code == 1 and "options of --runner ray" in r.output
    r = CliRunner().invoke(app, [*args[: args.index("--runner")], "--runner", "dask"])
    assert r.exit_code == 1 and "unknown runner 'dask'" in r.output
