"""NeuroMAS rollout speed: the engine sampler vs transformers generation, on the same episodes.

    PYTHONPATH=src MASTUNE_THREADS=1 python3 benchmarks/neuromas_sampling.py [--questions 4 --group 4] [--layers 1,1]

Both samplers run the same network with *trained-like* per-node adapters: every
node's LoRA B is drawn non-zero (N(0, --b-std), seeded per node), so each node is
a different model and the engine must serve each request with its own adapter.
- engine: EngineSampler, the training path: `sync` exports the adapters (peft),
  converts them to GGUF LoRA and reloads the engine (timed on its own: it runs
  once per update), then every node call selects its adapter per request;
  two arms: `engine-full` evaluates every prompt in full (the engine before prompt
  reuse), `engine-reuse` reuses a slot's prompt cache under the adapter that computed
  it and waits for a busy slot computing its group's shared prefix (llm/slots.py);
  `engine-reuse-ngram` adds llama.cpp's prompt-lookup speculative decoding (each
  position still sampled from the target distribution, so the samples' law is the same);
- transformers: `policy.model.generate` under each node's adapter (TransformersSampler,
  the training fallback: one sequence at a time, no batching across calls).
A step's episodes as training draws them (optim/neuromas/train.py): --questions
questions x --group samples each, seeds (seed, step, question, sample), at most
--concurrency episodes at once. Every arm runs the same episodes (same questions,
seeds); with --rounds R each round is another step's questions and the arms run in
a rotated order, so a load change on the machine hits every arm.
Sampling only: the update is the same torch code either way. Issue target: >= 10x
episodes per hour. `--untrained` keeps B = 0 (every node is the backbone). torch
gets as many threads as the engine (MASTUNE_THREADS, else all cores): same CPUs.
Sampled lengths differ between the paths (other random draws), so tokens/s is
printed too: it is the ratio at equal lengths.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from dataclasses import dataclass

import torch

from mastune.graph.layernet import layered_network, network_name, node_ids, parse_layers
from mastune.models.pull import pull
from mastune.optim.neuromas import AdapterPolicy, TransformersSampler, forward
from mastune.optim.neuromas.engine import EngineSampler
from mastune.optim.neuromas.episode import bounded
from mastune.optim.seeds import stable_int
from mastune.tasks import load_task


@dataclass
class Tally:
    seconds: float = 0.0
    completion: int = 0
    prompt: int = 0
    evaluated: int = 0
    episodes: int = 0

    def add(self, seconds: float, eps) -> None:
        calls = [c.sample for e in eps for c in e.calls]
        self.seconds += seconds
        self.episodes += len(eps)
        self.completion += sum(c.completion_tokens for c in calls)
        self.prompt += sum(c.prompt_tokens for c in calls)
        self.evaluated += sum(c.prompt_tokens if c.prompt_evaluated is None else c.prompt_evaluated for c in calls)

    @property
    def per_hour(self) -> float:
        return self.episodes * 3600 / self.seconds


async def run(sampler, network, jobs, temperature: float, max_tokens: int, concurrency: int):
    t0 = time.perf_counter()
    eps = await bounded([forward(network, sampler, ex, temperature=temperature, max_tokens=max_tokens, seed=seed)
                         for ex, seed in jobs], concurrency)
    return time.perf_counter() - t0, eps


def perturb(policy: AdapterPolicy, std: float) -> None:
    """Every node's LoRA B ~ N(0, std), seeded by the node: distinct, non-zero adapters."""
    with torch.no_grad():
        for node in policy.nodes:
            g = torch.Generator().manual_seed(stable_int("bench", node) % (2**31))
            for p in policy.parameters(node):
                if p.shape[-1] == policy.lora.rank and p.shape[0] != policy.lora.rank:  # B: [out, r]
                    p.copy_(torch.randn(p.shape, generator=g) * std)


def line(name: str, t: Tally) -> str:
    return (f"{name:14s} {t.seconds:7.1f} s  {t.episodes:3d} episodes  {t.per_hour:6.0f} episodes/hour  "
            f"{t.completion:5d} new tokens ({t.completion / t.seconds:5.1f}/s)  prompt tokens {t.prompt:6d}, "
            f"evaluated {t.evaluated:6d}")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--layers", default="1,1")
    ap.add_argument("--questions", type=int, default=4, help="questions per step (train default 4)")
    ap.add_argument("--group", type=int, default=4, help="samples per question (train default 4)")
    ap.add_argument("--concurrency", type=int, default=8, help="episodes at once (train default 8)")
    ap.add_argument("--n-parallel", type=int, default=8, help="engine slots (the optimiser's default: 8)")
    ap.add_argument("--max-tokens", type=int, default=200)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--rounds", type=int, default=1, help="steps; the arms' order rotates per round")
    ap.add_argument("--arms", default="engine-reuse,transformers,engine-full")
    ap.add_argument("--b-std", type=float, default=0.02, help="std of every node's LoRA B (trained-like adapters)")
    ap.add_argument("--untrained", action="store_true", help="keep B = 0 (every node is the backbone)")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("MASTUNE_THREADS") or 0) or os.cpu_count() or 1)
    layers = parse_layers(args.layers)
    network = layered_network(layers)
    train = load_task("navigate", split="train")
    gguf = pull(args.model)
    t0 = time.perf_counter()
    policy = AdapterPolicy(gguf, node_ids(layers), device="cpu")
    print(f"(transformers load of the GGUF: {time.perf_counter() - t0:.1f} s)")
    if not args.untrained:
        perturb(policy, args.b_std)
    arms = args.arms.split(",")
    print(f"{network_name(layers)} on {args.model}, {args.rounds} step(s) of {args.questions} navigate questions x "
          f"group {args.group}, concurrency {args.concurrency}, {args.n_parallel} engine slots, max_tokens "
          f"{args.max_tokens}, T={args.temperature}, threads {torch.get_num_threads()}, adapters: "
          f"{'B = 0' if args.untrained else f'B ~ N(0, {args.b_std}) per node'}; arms in order {arms} (rotated per round)")

    tallies = {a: Tally() for a in arms}
    with tempfile.TemporaryDirectory() as work:
        engines = {}
        for a in arms:
            if a.startswith("engine"):
                engines[a] = EngineSampler(gguf, f"{work}/{a}", n_parallel=args.n_parallel, ctx_per_slot=2048,
                                           prompt_reuse=a.startswith("engine-reuse"),
                                           speculative="ngram" if a.endswith("-ngram") else "")
                await engines[a].sync(policy)
                await run(engines[a], network, [(train[-1], 0)], args.temperature, 4, 1)  # load outside the timing
        if "engine-reuse" in engines:  # an update: new weights to serve; sync = export + convert, then reload
            e = engines["engine-reuse"]
            perturb(policy, args.b_std * 1.01) if not args.untrained else None
            t0 = time.perf_counter()
            await e.sync(policy)
            t1 = time.perf_counter()
            await e.sample(policy.nodes[0], [{"role": "user", "content": "hi"}], 0.0, 1)  # the reload: on a first call
            sync_s, export_s = time.perf_counter() - t0, t1 - t0
            for a, other in engines.items():
                if other is not e:
                    await other.sync(policy)
        for r in range(args.rounds):
            rng = random.Random(stable_int(0, r))
            batch = rng.sample(list(train[:-1]), args.questions)
            jobs = [(ex, stable_int(0, r, ex.id, g)) for ex in batch for g in range(args.group)]
            order = arms[r % len(arms):] + arms[:r % len(arms)]
            for a in order:
                sampler = engines.get(a) or TransformersSampler(policy)
                waits = sampler.lm.engine().router.waits if a in engines else 0
                seconds, eps = await run(sampler, network, jobs, args.temperature, args.max_tokens, args.concurrency)
                tallies[a].add(seconds, eps)
                extra = f", router waits {sampler.lm.engine().router.waits - waits}" if a in engines else ""
                print(f"  round {r}: {line(a, _one(seconds, eps))}{extra}",
                      flush=True)
        for e in engines.values():
            await e.aclose()
    print("totals:")
    for a in arms:
        print("  " + line(a, tallies[a]))
    if "engine-reuse" in engines:
        step = args.questions * args.group
        t = tallies["engine-reuse"]
        print(f"  per update (engine-reuse): export + convert {export_s:.2f} s, + reload {sync_s - export_s:.2f} s "
              f"= {sync_s:.2f} s; a step of {step} episodes then samples at "
              f"{step * 3600 / (t.seconds / args.rounds + sync_s):.0f} episodes/hour")
    if "transformers" in tallies:
        h = tallies["transformers"]
        for a in engines:
            t = tallies[a]
            step_s = t.seconds / args.rounds + (sync_s if a == "engine-reuse" and "engine-reuse" in engines else 0)
            print(f"  {a} / transformers, episodes per hour: {t.per_hour / h.per_hour:.1f}x sampling only"
                  + (f", {h.seconds / args.rounds / step_s:.1f}x with the per-update sync" if a == "engine-reuse" else "")
                  + f"; new tokens per second: {(t.completion / t.seconds) / (h.completion / h.seconds):.1f}x")


def _one(seconds, eps) -> Tally:
    t = Tally()
    t.add(seconds, eps)
    return t


if __name__ == "__main__":
    asyncio.run(main())
