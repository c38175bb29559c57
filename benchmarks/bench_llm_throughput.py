"""Throughput through mastune's LLM layer vs the raw engine, in one run.

    python3 benchmarks/bench_llm_throughput.py [--model qwen2.5-coder-0.5b] [--tokens 128] [--repeats 2]

Both paths use the same loaded engine (8 parallel slots). Generation ignores
EOS so every request decodes exactly --tokens tokens. Raw and layer runs are
interleaved so machine noise hits both alike. Targets: layer/raw >= 0.95;
aggregate at 8 concurrent / single >= 1.6 (2 cores).
"""
from __future__ import annotations

import argparse
import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from mastune.llm.embedded import EmbeddedLM, EngineSpec, get_engine
from mastune.models.pull import pull


def request(i: int, tokens: int) -> dict:
    return {
        "messages": [{"role": "user", "content": f"Write a long story about a lighthouse keeper, number {i}."}],
        "max_tokens": tokens,
        "temperature": 0.0,
        "ignore_eos": True,
    }


def raw_run(engine, n: int, tokens: int, offset: int) -> float:
    with ThreadPoolExecutor(n) as ex:
        start = time.perf_counter()
        outs = list(ex.map(engine.complete, [request(offset + i, tokens) for i in range(n)]))
        wall = time.perf_counter() - start
    return sum(o["usage"]["completion_tokens"] for o in outs) / wall


async def layer_run(lm: EmbeddedLM, n: int, tokens: int, offset: int) -> float:
    reqs = [request(offset + i, tokens) for i in range(n)]
    start = time.perf_counter()
    outs = await asyncio.gather(
        *[lm.chat(r["messages"], max_tokens=tokens, use_cache=False, ignore_eos=True) for r in reqs]
    )
    wall = time.perf_counter() - start
    return sum(o.usage.completion_tokens for o in outs) / wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    path = str(pull(args.model))
    lm = EmbeddedLM(args.model, path, n_parallel=8, ctx_per_slot=1024)
    engine = get_engine(EngineSpec(path, 8, 1024))
    engine.complete(request(0, 8))  # warm-up
    results: dict[tuple[str, int], list[float]] = {}
    offset = 1000
    for _ in range(args.repeats):
        for n in (1, 8):
            offset += n
            results.setdefault(("raw", n), []).append(raw_run(engine, n, args.tokens, offset))
            results.setdefault(("layer", n), []).append(asyncio.run(layer_run(lm, n, args.tokens, offset)))
    best = {k: max(v) for k, v in results.items()}
    print(f"model {args.model}, {args.tokens} tokens per request, best of {args.repeats}")
    for n in (1, 8):
        print(f"  {n} concurrent: raw {best[('raw', n)]:.1f} tok/s, layer {best[('layer', n)]:.1f} tok/s, "
              f"layer/raw {best[('layer', n)] / best[('raw', n)]:.3f}")
    print(f"  aggregate 8/single: raw {best[('raw', 8)] / best[('raw', 1)]:.2f}, "
          f"layer {best[('layer', 8)] / best[('layer', 1)]:.2f}")


if __name__ == "__main__":
    main()
