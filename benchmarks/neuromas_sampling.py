"""NeuroMAS rollout speed: the engine sampler vs transformers generation, on the same episodes.

    PYTHONPATH=src MASTUNE_THREADS=1 python3 benchmarks/neuromas_sampling.py [--questions 8] [--layers 1,1]

Both samplers run the same network with *trained-like* per-node adapters: every
node's LoRA B is drawn non-zero (N(0, --b-std), seeded per node), so each node is
a different model and the engine must serve each request with its own adapter.
- engine: EngineSampler, the training path: `sync` exports the adapters (peft),
  converts them to GGUF LoRA and reloads the engine (timed on its own: it runs
  once per update), then every node call selects its adapter per request;
- transformers: `policy.model.generate` under each node's adapter (TransformersSampler).
Sampling only: the update is the same torch code either way. Issue target: >= 10x
episodes per hour. `--untrained` keeps B = 0 (every node is the backbone). torch
gets as many threads as the engine (MASTUNE_THREADS, else all cores): same CPUs.
The episodes run concurrently, as a training step runs them (the engine batches
them; transformers generation holds the policy's lock, one sequence at a time).
Sampled lengths differ between the paths (other random draws), so tokens/s is
printed too: it is the ratio at equal lengths.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time

import torch

from mastune.graph.layernet import layered_network, network_name, node_ids, parse_layers
from mastune.models.pull import pull
from mastune.optim.neuromas import AdapterPolicy, TransformersSampler, forward
from mastune.optim.neuromas.engine import EngineSampler
from mastune.optim.seeds import stable_int
from mastune.tasks import load_task


PROMPT_TOKENS: dict[str, int] = {}  # sampler name -> prompt tokens of its last timed run


async def run(sampler, network, examples, temperature: float, max_tokens: int) -> tuple[float, int]:
    t0 = time.perf_counter()
    eps = await asyncio.gather(*(forward(network, sampler, ex, temperature=temperature, max_tokens=max_tokens,
                                         seed=i) for i, ex in enumerate(examples)))
    PROMPT_TOKENS[type(sampler).__name__] = sum(c.sample.prompt_tokens for e in eps for c in e.calls)
    return time.perf_counter() - t0, sum(c.sample.completion_tokens for e in eps for c in e.calls)


def perturb(policy: AdapterPolicy, std: float) -> None:
    """Every node's LoRA B ~ N(0, std), seeded by the node: distinct, non-zero adapters."""
    with torch.no_grad():
        for node in policy.nodes:
            g = torch.Generator().manual_seed(stable_int("bench", node) % (2**31))
            for p in policy.parameters(node):
                if p.shape[-1] == policy.lora.rank and p.shape[0] != policy.lora.rank:  # B: [out, r]
                    p.copy_(torch.randn(p.shape, generator=g) * std)


def line(name: str, seconds: float, tokens: int, n: int, prompt: int) -> str:
    return (f"{name:13s} {seconds:7.1f} s  {tokens:5d} tokens  {tokens / seconds:6.1f} tok/s  "
            f"{n * 3600 / seconds:8.0f} episodes/hour  ({prompt} prompt tokens evaluated)")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--layers", default="1,1")
    ap.add_argument("--questions", type=int, default=8, help="episodes run at once (a training step's batch)")
    ap.add_argument("--n-parallel", type=int, default=8, help="engine slots")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--b-std", type=float, default=0.02, help="std of every node's LoRA B (trained-like adapters)")
    ap.add_argument("--untrained", action="store_true", help="keep B = 0 (every node is the backbone)")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("MASTUNE_THREADS") or 0) or os.cpu_count() or 1)
    layers = parse_layers(args.layers)
    network = layered_network(layers)
    examples = load_task("navigate", split="train")[: args.questions]
    gguf = pull(args.model)
    t0 = time.perf_counter()
    policy = AdapterPolicy(gguf, node_ids(layers), device="cpu")
    print(f"(transformers load of the GGUF: {time.perf_counter() - t0:.1f} s)")
    if not args.untrained:
        perturb(policy, args.b_std)
    print(f"{network_name(layers)} on {args.model}, {len(examples)} navigate questions, max_tokens {args.max_tokens}, "
          f"T={args.temperature}, torch threads {torch.get_num_threads()}, adapters: {'B = 0' if args.untrained else f'B ~ N(0, {args.b_std}) per node'}")

    with tempfile.TemporaryDirectory() as work:
        engine = EngineSampler(gguf, work, n_parallel=args.n_parallel, ctx_per_slot=2048)
        await engine.sync(policy)  # first sync parses the base GGUF once (cached per file)
        await run(engine, network, examples[:1], args.temperature, 4)  # load the engine outside the timing
        perturb(policy, args.b_std * 1.01) if not args.untrained else None  # an update: new weights to serve
        t0 = time.perf_counter()
        await engine.sync(policy)
        await run(engine, network, examples[:1], args.temperature, 1)  # the reload happens on the first call
        sync_s = time.perf_counter() - t0
        e_s, e_tok = await run(engine, network, examples, args.temperature, args.max_tokens)
        await engine.aclose()
    print(line("engine:", e_s, e_tok, len(examples), PROMPT_TOKENS["EngineSampler"]))
    print(f"   per update: export + convert + reload {sync_s:.2f} s "
          f"(a step of {len(examples)} episodes then takes {e_s + sync_s:.1f} s: "
          f"{len(examples) * 3600 / (e_s + sync_s):.0f} episodes/hour)")

    h_s, h_tok = await run(TransformersSampler(policy), network, examples, args.temperature, args.max_tokens)
    print(line("transformers:", h_s, h_tok, len(examples), PROMPT_TOKENS["TransformersSampler"]))
    print(f"engine / transformers, episodes per hour: {h_s / e_s:.1f}x sampling only, "
          f"{h_s / (e_s + sync_s):.1f}x with the per-update sync; "
          f"tokens per second: {(e_tok / e_s) / (h_tok / h_s):.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
