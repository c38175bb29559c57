"""NeuroMAS rollout speed: transformers generation vs the embedded engine, on the same episodes.

    PYTHONPATH=src MASTUNE_THREADS=1 python3 benchmarks/neuromas_sampling.py [--questions 4] [--layers 1,1]

Both samplers run the *untrained* network, where every adapter has LoRA B = 0, so
every node is exactly the backbone: transformers samples from the HF copy of the
GGUF weights (the policy the learner scores), the engine serves the same GGUF file
(one shared model). It measures sampling only (the update is the same torch code
either way). Per-node adapters on the engine come with per-request GGUF LoRA
serving; then the engine path is what training uses (issue target: >= 10x).
"""
from __future__ import annotations

import argparse
import asyncio
import time

from mastune.graph.layernet import layered_network, network_name, node_ids, parse_layers
from mastune.llm.pool import Pool
from mastune.models.pull import pull
from mastune.optim.neuromas import AdapterPolicy, LMSampler, TransformersSampler, forward
from mastune.tasks import load_task


async def run(sampler, network, examples, temperature: float, max_tokens: int) -> tuple[float, int]:
    t0 = time.perf_counter()
    eps = await asyncio.gather(*(forward(network, sampler, ex, temperature=temperature, max_tokens=max_tokens,
                                         seed=i) for i, ex in enumerate(examples)))
    return time.perf_counter() - t0, sum(c.sample.completion_tokens for e in eps for c in e.calls)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--layers", default="1,1")
    ap.add_argument("--questions", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--temperature", type=float, default=0.7)
    args = ap.parse_args()
    layers = parse_layers(args.layers)
    network = layered_network(layers)
    examples = load_task("navigate", split="train")[: args.questions]
    gguf = pull(args.model)
    print(f"{network_name(layers)} on {args.model}, {len(examples)} navigate questions, "
          f"max_tokens {args.max_tokens}, T={args.temperature}")

    pool = Pool.default()
    engine = LMSampler(shared=pool[args.model])
    await run(engine, network, examples[:1], args.temperature, 4)  # load the engine outside the timing
    e_s, e_tok = await run(engine, network, examples, args.temperature, args.max_tokens)
    await pool.aclose()
    print(f"engine:       {e_s:7.1f} s  {e_tok} tokens  {e_tok / e_s:6.1f} tok/s  "
          f"{len(examples) * 3600 / e_s:8.0f} episodes/hour")

    t0 = time.perf_counter()
    policy = AdapterPolicy(gguf, node_ids(layers))
    print(f"(transformers load of the GGUF: {time.perf_counter() - t0:.1f} s)")
    h_s, h_tok = await run(TransformersSampler(policy), network, examples, args.temperature, args.max_tokens)
    print(f"transformers: {h_s:7.1f} s  {h_tok} tokens  {h_tok / h_s:6.1f} tok/s  "
          f"{len(examples) * 3600 / h_s:8.0f} episodes/hour")
    print(f"engine / transformers, episodes per hour: {h_s / e_s:.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
