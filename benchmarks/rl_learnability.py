"""Does the RL machinery learn? A known-answer task on SmolLM2-135M through the embedded engine.

    python3 benchmarks/rl_learnability.py [--steps 30] [--out DIR]

Trains one LoRA adapter with `mastune.optim.rl` (engine sampler: per-request GGUF adapter,
re-exported after every update) to name one particular fruit among five (optim/rl/learnability.py),
and measures greedy success on 40 held-out items before and after. Prints one line per step and a
last line `learnability before X.XX after Y.YY` (target: before < 0.20, after >= 0.80).
"""
from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path


from mastune.optim.neuromas.engine import EngineSampler
from mastune.optim.neuromas.train import evaluate
from mastune.graph.layernet import layered_network
from mastune.optim.rl import RLConfig, build_policy, train_rl
from mastune.optim.rl.learnability import fruit_items, fruit_reward
from mastune.optim.rl.plain import PlainEpisodes

CONFIG = dict(task="fruit", backbone="smollm2-135m", prompt="plain", rank=8, questions_per_step=8, group_size=8,
              epochs=2, lr=2e-3, warmup_steps=2, temperature=0.7, max_tokens=24, eval_max_tokens=24,
              eval_size=40, eval_every=3, probes=2, probe_every=5, n_parallel=8, logprob_batch=16, max_redraws=1)


async def run(steps: int, out: Path, *, questions: int = 8, eval_items: int = 40) -> tuple[float, float, list]:
    """(greedy success before, after, the training log)."""
    cfg = RLConfig(**{**CONFIG, "steps": steps, "questions_per_step": questions, "eval_size": eval_items})
    train, held = fruit_items(64), fruit_items(eval_items, offset=10_000)
    policy = build_policy(cfg)
    sampler = EngineSampler(cfg.backbone_file, out / "engine", n_parallel=cfg.n_parallel, report_tokens=True,
                            prompt_reuse=False)
    try:
        await sampler.sync(policy)
        before, _ = await evaluate(layered_network(()), PlainEpisodes(sampler, 8), held, reward=fruit_reward,
                                   max_tokens=cfg.eval_max_tokens)
        t0 = time.perf_counter()

        def show(step: int, r: dict) -> None:
            ev = r.get("eval") or {}
            print(f"step {step:3d} reward {r['reward'] if r['reward'] is not None else float('nan'):.2f} "
                  f"trunc {r['truncated']:.2f} informative {r['informative_groups']}/{r['groups']} "
                  f"gap {r['logprob_gap'] if r['logprob_gap'] is not None else float('nan'):+.3f} "
                  f"kl {r.get('kl_start', float('nan')):.3f} {time.perf_counter() - t0:5.0f}s"
                  + (f" eval {ev['accuracy']:.2f}" if ev else ""), flush=True)

        res = await train_rl(cfg, train, held, out / "run", policy=policy, sampler=sampler, reward=fruit_reward,
                             progress=False, on_step=show)
        return before["accuracy"], res.log[-1]["eval"]["accuracy"], res.log
    finally:
        await sampler.aclose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--out", type=Path, default=None, help="run folder (default: a temporary one)")
    a = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        before, after, _ = asyncio.run(run(a.steps, a.out or Path(tmp)))
    print(f"learnability before {before:.2f} after {after:.2f}")


if __name__ == "__main__":
    main()
