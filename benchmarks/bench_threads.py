"""The thread budget vs static thread splits found by hand, in one run.

    python3 benchmarks/bench_threads.py [--tokens 48] [--requests 3] [--static 1,2] [--cases a,b,c]

(a) one process, a pool of 3 engines (smollm2-135m, qwen2.5-coder-0.5b and a
    second smollm2-135m engine) driven concurrently, each with sequential greedy
    generations of --tokens tokens (EOS ignored);
(b) two processes side by side, one qwen2.5-coder-0.5b engine each;
(c) one process, two engines (smollm2-135m, qwen2.5-coder-0.5b) in phases as a
    mixed-pool supernode runs them: both engines generate at once (proposers),
    then the 0.5B alone (a synthesiser), --requests rounds.
Each case runs with the budget (MASTUNE_THREADS unset; with solo instances, the
default, and without: MASTUNE_SOLO_ENGINE=0) and with every static
MASTUNE_THREADS in --static, each in fresh processes, and prints
aggregate decode tok/s and budget / best static. Engine loads are not timed, nor is
settling (an engine reloaded into its new share: in (a) when the next engine
loads, in (b) on a warm-up call once both processes are up; its time is
printed as settle_s). Target: ratio >= 0.9.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")
PROMPT = "Write a long story about a lighthouse keeper, number {i}."


def _lm(name: str, model: str, ctx: int):
    from mastune.llm.embedded import EmbeddedLM

    return EmbeddedLM(name, model, n_parallel=1, ctx_per_slot=ctx)


async def _drive(lm, requests: int, tokens: int, offset: int) -> int:
    done = 0
    for i in range(requests):
        out = await lm.chat([{"role": "user", "content": PROMPT.format(i=offset + i)}], max_tokens=tokens,
                            use_cache=False, ignore_eos=True)
        done += out.usage.completion_tokens
    return done


def child_pool(tokens: int, requests: int) -> dict:
    """Case (a): 3 engines in this process, driven at once."""
    lms = [_lm("smollm-a", "smollm2-135m", 1024), _lm("qwen-0.5b", "qwen2.5-coder-0.5b", 1024),
           _lm("smollm-b", "smollm2-135m", 1536)]  # another ctx: a separate engine on the same file
    engines = [lm.engine() for lm in lms]  # load all first (not timed)

    async def run() -> tuple[int, float]:
        start = time.perf_counter()
        counts = await asyncio.gather(*[_drive(lm, requests, tokens, 100 * k) for k, lm in enumerate(lms)])
        return sum(counts), time.perf_counter() - start

    toks, wall = asyncio.run(run())
    return {"tokens": toks, "wall_s": wall, "threads": [e.threads for e in engines],
            "reloads": [e.reloads for e in engines], "solo_requests": [e.solo_requests for e in engines]}


def child_phases(tokens: int, requests: int) -> dict:
    """Case (c): proposers on both engines at once, then a synthesiser on the 0.5B alone."""
    small, big = _lm("smollm", "smollm2-135m", 1024), _lm("qwen-0.5b", "qwen2.5-coder-0.5b", 1024)
    engines = [small.engine(), big.engine()]

    async def one(lm, i: int, n: int) -> int:
        out = await lm.chat([{"role": "user", "content": PROMPT.format(i=i)}], max_tokens=n, use_cache=False,
                            ignore_eos=True)
        return out.usage.completion_tokens

    async def run() -> tuple[int, float]:
        start, done = time.perf_counter(), 0
        for r in range(requests):
            done += sum(await asyncio.gather(one(small, 10 * r, tokens), one(big, 10 * r + 1, tokens)))
            done += await one(big, 10 * r + 2, 2 * tokens)
        return done, time.perf_counter() - start

    toks, wall = asyncio.run(run())
    return {"tokens": toks, "wall_s": wall, "threads": [e.threads for e in engines],
            "reloads": [e.reloads for e in engines], "solo_requests": [e.solo_requests for e in engines]}


def run_phases(threads: int | str | None, a: argparse.Namespace) -> dict:
    return _run_child("phases", threads, a)


def _wait(path: str) -> None:
    while not os.path.exists(path):
        time.sleep(0.05)


def child_proc(tokens: int, requests: int, go: str) -> dict:
    """Case (b): one engine; settles once both processes are up, computes on the parent's go."""
    lm = _lm("qwen-0.5b", "qwen2.5-coder-0.5b", 1024)
    engine = lm.engine()
    print("loaded", flush=True)
    _wait(go + ".settle")
    time.sleep(1.1)  # past the re-check interval: the warm-up call sees the other process
    t0 = time.perf_counter()
    asyncio.run(_drive(lm, 1, 1, 0))
    settle_s = time.perf_counter() - t0
    print("settled", flush=True)
    _wait(go)
    start = time.perf_counter()
    toks = asyncio.run(_drive(lm, requests, tokens, os.getpid()))
    return {"tokens": toks, "wall_s": time.perf_counter() - start, "threads": engine.threads,
            "reloads": engine.reloads, "settle_s": round(settle_s, 2)}


def _env(threads: int | str | None) -> dict:
    """None: the budget; "nosolo": the budget without solo instances; N: static threads."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("MASTUNE_THREADS", None)
    env.pop("MASTUNE_SOLO_ENGINE", None)
    if threads == "nosolo":
        env["MASTUNE_SOLO_ENGINE"] = "0"
    elif threads:
        env["MASTUNE_THREADS"] = str(threads)
    return env


def _result(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def run_pool(threads: int | str | None, a: argparse.Namespace) -> dict:
    return _run_child("pool", threads, a)


def _run_child(kind: str, threads: int | str | None, a: argparse.Namespace) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--tokens", str(a.tokens),
                          "--requests", str(a.requests)], env=_env(threads), capture_output=True, text=True,
                         check=True).stdout
    r = _result(out)
    r["tok_s"] = r["tokens"] / r["wall_s"]
    return r


def run_procs(threads: int | str | None, a: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as d:
        go = os.path.join(d, "go")
        kids = [subprocess.Popen([sys.executable, __file__, "--child", "proc", "--tokens", str(a.tokens),
                                  "--requests", str(a.requests), "--go", go], env=_env(threads),
                                 stdout=subprocess.PIPE, text=True) for _ in range(2)]
        for k in kids:
            assert k.stdout.readline().strip() == "loaded"
        Path(go + ".settle").touch()
        for k in kids:
            assert k.stdout.readline().strip() == "settled"
        start = time.perf_counter()
        Path(go).touch()
        outs = [_result(k.communicate()[0]) for k in kids]
        wall = time.perf_counter() - start
    return {"tok_s": sum(o["tokens"] for o in outs) / wall, "wall_s": wall,
            "threads": [o["threads"] for o in outs], "reloads": [o["reloads"] for o in outs],
            "settle_s": [o["settle_s"] for o in outs],
            "per_process_tok_s": [round(o["tokens"] / o["wall_s"], 1) for o in outs]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=48)
    ap.add_argument("--requests", type=int, default=3)
    ap.add_argument("--static", default="1,2", help="static MASTUNE_THREADS values to compare with")
    ap.add_argument("--cases", default="a,b,c", help="which of the cases a, b, c to run")
    ap.add_argument("--child", choices=["pool", "proc", "phases"])
    ap.add_argument("--go")
    a = ap.parse_args()
    if a.child in ("pool", "phases"):
        print(json.dumps((child_pool if a.child == "pool" else child_phases)(a.tokens, a.requests)))
        return
    if a.child == "proc":
        print(json.dumps(child_proc(a.tokens, a.requests, a.go)))
        return
    statics = [int(x) for x in a.static.split(",") if x]
    print(f"cores: {len(os.sched_getaffinity(0))}; {a.requests} requests x {a.tokens} tokens per engine")
    cases = {"a": ("(a) 3 engines, one process", run_pool), "b": ("(b) 2 processes, 1 engine each", run_procs),
             "c": ("(c) 2 engines in phases (together, then the 0.5B alone)", run_phases)}
    for case, fn in [cases[c] for c in a.cases.split(",") if c]:
        rows = {}
        names = {None: "budget", "nosolo": "budget, no solo"}
        for t in [None, "nosolo", *statics]:  # budgets first, statics after: same noise window, one run
            rows[names.get(t, f"MASTUNE_THREADS={t}")] = fn(t, a)
        best_name = max((k for k in rows if not k.startswith("budget")), key=lambda k: rows[k]["tok_s"])
        print(case)
        for k, r in rows.items():
            extra = {x: r[x] for x in ("threads", "reloads", "solo_requests", "settle_s", "per_process_tok_s") if x in r}
            print(f"  {k:18s} {r['tok_s']:7.1f} tok/s aggregate  {extra}")
        for k in names.values():
            print(f"  {k} / best static ({best_name}): {rows[k]['tok_s'] / rows[best_name]['tok_s']:.2f}")


if __name__ == "__main__":
    main()
