"""Informative tokens per hour: the RL trainer (optim/rl) against the wave-2 NeuroMAS REINFORCE loop.

    python3 benchmarks/rl_speed.py [--steps 3] [--questions 4] [--group 8] [--max-tokens 256]
                                   [--out benchmarks/results/rl/speed.txt]

Both loops train the single-model policy (one node) of Qwen2.5-Coder-0.5B on GSM8K train questions
with the same group size and token budget, sampling on the embedded engine, for the same number of
steps, one after the other in this process (run it on an idle machine). What teaches is a sampled
token of a reply whose advantage is non-zero; for each loop the script prints episodes/hour,
informative completion tokens/hour and where the time went (sampling, learning, serving the new
adapter), beside two measured limits: the engine's plain batched decode of the base model (same slots,
same budget) and the learner's fp32 matmul rate. Each loop runs its own recipe: the old one as the
wave-2 runs had it (REINFORCE, rank 8 on attention, T 0.7, truncated replies graded wrong), the new one
with its defaults (clip loss, 2 epochs, rank 16 on all linear layers, T 1.0, truncated replies masked,
dynamic sampling, shared-prompt scoring). Validation is left out of both (its cost is per item and
set by the interval: the figure is the training loop's). The last line is `speedup X.XX`, the ratio
of informative tokens/hour, new over old.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import torch

from mastune.llm.threads import budget
from mastune.optim.neuromas import NeuroMASConfig, train_network
from mastune.optim.neuromas.engine import EngineSampler, PLAIN_SAMPLING, adapter_lm
from mastune.optim.neuromas.train import build_policy as old_policy
from mastune.optim.rl import RLConfig, build_policy, train_rl
from mastune.tasks.datasets import load_task

BACKBONE = "qwen2.5-coder-0.5b"


async def plain_decode(gguf: str, slots: int, max_tokens: int, questions) -> float:
    """Completion tokens/s of the base model, `slots` concurrent sampled streams, no adapter."""
    from mastune.optim.neuromas.episode import node_messages, answer_format
    from mastune.graph.layernet import layered_network

    net = layered_network(())
    node = net.node("out")
    lm = adapter_lm(gguf, n_parallel=slots)
    msgs = [node_messages(node, q.question, [], answer_format(q)) for q in questions]
    await lm.chat(msgs[0], max_tokens=4, temperature=0.0, use_cache=False)  # load outside the clock
    t0 = time.perf_counter()
    outs = await asyncio.gather(*(lm.chat(msgs[i % len(msgs)], max_tokens=max_tokens, temperature=1.0, seed=i,
                                          use_cache=False, **PLAIN_SAMPLING) for i in range(slots)))
    dt = time.perf_counter() - t0
    await lm.close()
    return sum(o.usage.completion_tokens for o in outs) / dt


def matmul_gflops(n: int = 1024, reps: int = 8) -> float:
    torch.set_num_threads(budget().learner_threads())
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9


def summarise(name: str, log: list[dict], keys: dict[str, str]) -> dict:
    total = sum(r["time_s"] for r in log)
    eps = sum(r.get("n", 0) or 0 for r in log) or log[-1]["episodes"]
    informative = sum(keys["informative"](r) for r in log)
    comp = sum(r["completion_tokens"] for r in log)
    out = {"loop": name, "steps": len(log), "episodes": eps, "completion_tokens": comp,
           "informative_tokens": informative, "time_s": round(total, 1),
           "episodes_per_hour": round(eps * 3600 / total, 1),
           "informative_tokens_per_hour": round(informative * 3600 / total),
           "sample_s": round(sum(r["sample_s"] for r in log), 1),
           "learn_s": round(sum(keys["learn"](r) for r in log), 1),
           "sync_s": round(sum(keys["sync"](r) for r in log), 1),
           "truncated": round(sum(keys["truncated"](r) for r in log) / len(log), 3)}
    out["sample_tok_s"] = round(comp / out["sample_s"], 1)
    return out


async def run(a: argparse.Namespace, tmp: Path) -> list[str]:
    train = load_task("gsm8k", split="train", seed=0)
    lines = [f"# rl_speed: {BACKBONE}, GSM8K train, {a.steps} steps x {a.questions} questions x {a.group} samples, "
             f"max {a.max_tokens} tokens, {a.slots} engine slots"]
    # ---- the wave-2 loop ----
    old_cfg = NeuroMASConfig(backbone=BACKBONE, task="gsm8k", layers=(), steps=a.steps,
                             questions_per_step=a.questions, group_size=a.group, max_tokens=a.max_tokens,
                             val_size=0, concurrency=a.slots, lr=1e-4)
    pol = old_policy(old_cfg)
    sampler = EngineSampler(old_cfg.backbone_file, tmp / "old" / "engine", n_parallel=a.slots)
    await sampler.sync(pol)
    res = await train_network(old_cfg, train, [], tmp / "old", policy=pol, sampler=sampler, progress=False)
    await sampler.aclose()
    for r in res.log:
        r["truncated"] = None
    old = summarise("wave-2 NeuroMAS REINFORCE", res.log, {
        "informative": lambda r: r["nodes"]["out"]["tokens"], "learn": lambda r: r["update_s"],
        "sync": lambda r: 0.0, "truncated": lambda r: 0.0})
    old["note"] = "learn_s includes serving the new adapter; truncated replies are graded wrong (not counted)"
    del pol, res
    # ---- the RL trainer ----
    cfg = RLConfig(backbone=BACKBONE, task="gsm8k", steps=a.steps, questions_per_step=a.questions,
                   group_size=a.group, max_tokens=a.max_tokens, eval_size=0, probes=0, n_parallel=a.slots)
    pol = build_policy(cfg)
    sampler = EngineSampler(cfg.backbone_file, tmp / "new" / "engine", n_parallel=a.slots, report_tokens=True,
                             prompt_reuse=False)
    await sampler.sync(pol)
    res = await train_rl(cfg, train, [], tmp / "new", policy=pol, sampler=sampler, progress=False)
    await sampler.aclose()
    new = summarise("optim/rl", res.log, {
        "informative": lambda r: r["informative_tokens"], "learn": lambda r: r["learn_s"],
        "sync": lambda r: r["sync_s"], "truncated": lambda r: r["truncated"]})
    new["logprob_gap"] = [r["logprob_gap"] for r in res.log]
    new["logprob_gap_abs"] = [r["logprob_gap_abs"] for r in res.log]
    new["retokenise_mismatch"] = [r["retokenise_mismatch"] for r in res.log]
    new["draws"] = [r["draws"] for r in res.log]
    del pol, res
    # ---- limits ----
    decode = await plain_decode(cfg.backbone_file, a.slots, a.max_tokens, train[:a.slots])
    gflops = matmul_gflops()
    lines += [json.dumps(old), json.dumps(new),
              f"limits: plain batched decode {decode:.1f} tok/s ({a.slots} streams, base model); "
              f"fp32 matmul {gflops:.1f} GFLOP/s ({budget().learner_threads()} threads)",
              f"sampling at {old['sample_tok_s'] / decode:.0%} (old) and {new['sample_tok_s'] / decode:.0%} (new) "
              "of plain decode",
              f"speedup {new['informative_tokens_per_hour'] / max(1, old['informative_tokens_per_hour']):.2f}"]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--questions", type=int, default=4)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--slots", type=int, default=8)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/rl/speed.txt"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lines = asyncio.run(run(a, Path(tmp)))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
