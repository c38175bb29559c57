"""Grade every task's canonical solution as if it were a model's reply.

A sound grader must pass all of them (HumanEval+: 164/164 with every plus
input). Expected outputs go to a fresh temporary cache unless --keep-cache,
so the time printed includes computing them.

    PYTHONPATH=src python3 benchmarks/canonical_sweep.py                       # HumanEval+
    PYTHONPATH=src python3 benchmarks/canonical_sweep.py --task mbpp-plus --data-path MbppPlus.jsonl
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time


async def sweep(task: str, data_path: str | None, concurrency: int, limit: int | None, plus: bool) -> int:
    from mastune.tasks.code import grade_code, task_calls
    from mastune.tasks.datasets import load_task

    examples = load_task(task, path=data_path)[:limit]
    sem = asyncio.Semaphore(concurrency)
    failures: list[tuple[str, str]] = []
    n_inputs = 0

    async def one(ex):
        nonlocal n_inputs
        async with sem:
            n_inputs += len(task_calls(ex, plus))
            try:
                g = await grade_code(ex, f"```python\n{ex.meta['reference']}\n```", plus=plus)
                ok, why = g.correct, g.detail
            except Exception as e:  # a grading error is a failure of the sweep too
                ok, why = False, f"{type(e).__name__}: {e}"
            if not ok:
                failures.append((ex.id, why))
                print(f"FAIL {ex.id}: {why[:300]}", flush=True)

    t0 = time.monotonic()
    await asyncio.gather(*(one(ex) for ex in examples))
    dt = time.monotonic() - t0
    passed = len(examples) - len(failures)
    print(f"{task}: canonical solutions passed {passed}/{len(examples)} "
          f"({n_inputs} inputs, {'base+plus' if plus else 'base only'}) in {dt:.1f} s")
    return 0 if not failures else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="humaneval-plus")
    ap.add_argument("--data-path", default=None)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--base-only", action="store_true")
    ap.add_argument("--keep-cache", action="store_true", help="use the user's cache of expected outputs")
    a = ap.parse_args()
    if a.concurrency < 1:
        ap.error("--concurrency must be >= 1")
    with tempfile.TemporaryDirectory(prefix="mastune-sweep-") as tmp:
        if not a.keep_cache:
            os.environ["MASTUNE_CACHE_DIR"] = tmp
        return asyncio.run(sweep(a.task, a.data_path, a.concurrency, a.limit, not a.base_only))


if __name__ == "__main__":
    sys.exit(main())
