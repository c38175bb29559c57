"""What serving new adapter weights costs (the NeuroMAS loop: train a step, sample again).

    python3 benchmarks/bench_lora_reload.py [--model smollm2-135m] [--rank 8] [--rounds 3]

Per round: random LoRA weights for every attention/MLP tensor are converted to
a GGUF adapter (peft_to_gguf from a state dict) and written atomically over
the served file; the next call loads a new engine with them. Prints conversion
time, the first call after the rewrite vs a steady call (the difference is the
reload), and checks that the reply changed (never a stale cached one).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from mastune import settings
from mastune.llm.cache import CallCache
from mastune.llm.embedded import EmbeddedLM
from mastune.llm.lora import MODULES, _base_info, peft_to_gguf
from mastune.models.pull import pull

ASK = [{"role": "user", "content": "Write one sentence about the sea."}]


def random_state_dict(base: str, rank: int, seed: int) -> dict:
    _, shapes, _, _ = _base_info(base)
    rng = np.random.default_rng(seed)
    sd = {}
    inv = {v: k for k, v in MODULES.items()}
    for name, (n_in, n_out) in shapes.items():
        parts = name.split(".")
        if parts[0] != "blk" or parts[2] not in inv:
            continue
        kind = "self_attn" if parts[2].startswith("attn") else "mlp"
        key = f"base_model.model.model.layers.{parts[1]}.{kind}.{inv[parts[2]]}"
        sd[f"{key}.lora_A.weight"] = rng.normal(0, 1 / np.sqrt(n_in), (rank, n_in)).astype(np.float32)
        sd[f"{key}.lora_B.weight"] = rng.normal(0, 0.2, (n_out, rank)).astype(np.float32)
    return sd


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    base = str(pull(a.model))
    with tempfile.TemporaryDirectory() as d, settings.context(cache=CallCache(Path(d) / "calls.sqlite")):
        live = Path(d) / "node.gguf"
        peft_to_gguf(random_state_dict(base, a.rank, 0), base, live, lora_alpha=2 * a.rank)
        lm = EmbeddedLM("node", a.model, n_parallel=1, ctx_per_slot=1024, adapters={"node": str(live)},
                        adapter="node")
        last = (await lm.chat(ASK, max_tokens=16)).text
        print(f"{a.model}, rank {a.rank}, adapter file {live.stat().st_size / 1e6:.1f} MB")
        for r in range(1, a.rounds + 1):
            weights = random_state_dict(base, a.rank, r)  # stands in for a training step
            t0 = time.perf_counter()
            peft_to_gguf(weights, base, live, lora_alpha=2 * a.rank)  # atomic
            convert = time.perf_counter() - t0
            t0 = time.perf_counter()
            first = (await lm.chat(ASK, max_tokens=16)).text
            after = time.perf_counter() - t0
            t0 = time.perf_counter()
            await lm.chat(ASK, max_tokens=16, use_cache=False)
            steady = time.perf_counter() - t0
            print(f"round {r}: convert {convert:.2f}s, first call {after:.2f}s vs steady {steady:.2f}s "
                  f"(reload ~{after - steady:.2f}s), reply changed: {first != last}")
            last = first
        os.sync()


if __name__ == "__main__":
    asyncio.run(main())
