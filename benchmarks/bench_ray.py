"""Ray runner throughput: the same eval with the local runner and with Ray at 1 and 2 workers.

    PYTHONPATH=src python3 benchmarks/bench_ray.py [--items 40] [--max-tokens 128] [--concurrency 2]

The eval: `cot` on the first N GSM8K test items, SmolLM2-135M, greedy, no
call cache. Every runner gets one engine thread per engine (MASTUNE_THREADS=1)
and `--concurrency` items in flight per engine (= its parallel slots). Start-up
(Ray, the actors) and model load are timed apart: each runner first answers
one warm-up item per worker (not among the N), then the N items are timed.
Targets: Ray at 1 worker >= 0.9x the local runner (the runner's overhead is
small); 2 workers >= 1.7x 1 worker when each worker has its own core (this
machine has 2: anything else running on it lowers the second figure).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time

os.environ["MASTUNE_THREADS"] = "1"  # before any engine exists (the local runner's is in this process)
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from mastune.eval import EvalConfig, evaluate  # noqa: E402
from mastune.llm.pool import Pool  # noqa: E402
from mastune.rollout import Job, LocalRunner, RayRunner  # noqa: E402
from mastune.rollout.ray_runner import connect  # noqa: E402
from mastune.systems import resolve_spec  # noqa: E402
from mastune.tasks.datasets import get_task  # noqa: E402


async def measure(name: str, runner, spec, warm, items, pool) -> dict:
    t0 = time.perf_counter()
    runner.system(spec)  # Ray: actors start and build the system (the engine loads on its first call)
    await runner.map([Job(spec, ex) for ex in warm])  # one item per worker: every engine loaded
    startup = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as out:
        cfg = EvalConfig(system="cot", task="gsm8k", out=out, model="smollm2-135m")
        t0 = time.perf_counter()
        summary = await evaluate(cfg, spec, items, pool=pool, runner=runner)
        wall = time.perf_counter() - t0
    return {"name": name, "startup_s": startup, "wall_s": wall, "items_per_s": len(items) / wall,
            "correct": summary.correct, "errors": summary.errors}


async def main(args: argparse.Namespace) -> None:
    pool_cfg = {"models": [{"name": "smollm2-135m", "backend": "embedded", "model": "smollm2-135m",
                            "n_parallel": args.concurrency, "ctx_per_slot": 2048}]}
    pool = Pool.from_dict(pool_cfg)
    spec = resolve_spec("cot", model="smollm2-135m", options={"max_tokens": args.max_tokens}, pool=pool_cfg)
    examples = get_task("gsm8k", split="all").examples
    warm, items = examples[-2:], examples[: args.items]

    rows = [await measure("local", LocalRunner(pool, args.concurrency), spec, warm[:1], items, pool)]
    t0 = time.perf_counter()
    connect()  # a local Ray instance on this machine's cores (timed apart: a cluster is started once)
    ray_start = time.perf_counter() - t0
    for workers in (1, 2):
        with RayRunner(pool, workers=workers, concurrency=args.concurrency, threads=1) as runner:
            rows.append(await measure(f"ray x{workers}", runner, spec, warm[:workers], items, pool))

    print(f"cot, smollm2-135m, greedy, no call cache, {len(items)} GSM8K items, {args.max_tokens} max tokens, "
          f"{args.concurrency} in flight per engine, 1 engine thread each; {os.cpu_count()} cores")
    print(f"ray.init (local instance): {ray_start:.1f} s")
    print(f"{'runner':<8} {'start+load s':>12} {'wall s':>8} {'items/s':>8} {'correct':>8} {'errors':>7}")
    for r in rows:
        print(f"{r['name']:<8} {r['startup_s']:>12.1f} {r['wall_s']:>8.1f} {r['items_per_s']:>8.3f} "
              f"{r['correct']:>8} {r['errors']:>7}")
    local, one, two = (r["items_per_s"] for r in rows)
    print(f"ray x1 / local = {one / local:.2f}  (target >= 0.90)")
    print(f"ray x2 / ray x1 = {two / one:.2f}  (target >= 1.70 with a free core per worker)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--items", type=int, default=40)
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--concurrency", type=int, default=2)
    asyncio.run(main(p.parse_args()))
