"""How far did training move each NeuroMAS node away from the backbone?

    python3 benchmarks/neuromas_adapter_drift.py benchmarks/results/neuromas/gsm8k-qwen05/train/n3/state.pt [...]

For every node of each checkpoint (best.pt or state.pt of `mastune train neuromas`) it prints, over
the adapted modules: the LoRA update's size ||dW||_F = ||B A|| * alpha / r against the backbone
weight's ||W||_F (mean and max of the ratio), and max |B|. B starts at 0 and Adam moves each entry by
about lr per step whatever the gradient's size, so max |B| near (non-zero steps) x lr says the
adapters moved as far as the optimiser's stride allows, no further: the learning rate and the
number of updates, not the reward, bound what a run can learn. Backbone weights are read from the
run's own GGUF (dequantised; the row order llama.cpp uses for q/k leaves the norm unchanged).
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
from pathlib import Path

import numpy as np
import torch

from mastune.jsonl import read_jsonl
from mastune.llm.lora import MODULES
from mastune.optim.neuromas.engine import resolve_backbone
from mastune.optim.neuromas.checkpoint import read_network
from mastune.optim.neuromas.lora import lora_b_max

_KEY = re.compile(r"layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_A(?:\.\w+)?\.weight$")


def base_norms(gguf_file: Path) -> dict[str, float]:
    from gguf import GGUFReader
    from gguf.quants import dequantize

    out = {}
    for t in GGUFReader(str(gguf_file)).tensors:
        if t.name.startswith("blk.") and t.name.endswith(".weight"):
            out[t.name] = float(np.linalg.norm(dequantize(t.data, t.tensor_type)))
    return out


def nonzero_steps(run: Path, upto: int | None) -> int | None:
    log = run / "log.jsonl"
    if not log.is_file():
        return None
    return sum(1 for r in read_jsonl(log) if (upto is None or r["step"] <= upto)
               and any(not s.get("skipped") for s in r.get("nodes", {}).values()))


def drift(path: Path, norms_of: dict[str, dict[str, float]]) -> None:
    blob = read_network(path)
    meta = blob["meta"]
    bb = meta["backbone"]
    if bb not in norms_of:
        norms_of[bb] = base_norms(Path(resolve_backbone(bb)))
    norms = norms_of[bb]
    scale = meta["alpha"] / meta["rank"]
    step = (meta.get("info") or {}).get("step")
    cfg = path.parent / "config.json"
    lr = json.loads(cfg.read_text())["config"].get("lr") if cfg.is_file() else None
    n = nonzero_steps(path.parent, step)
    print(f"{path}: backbone {bb}, rank {meta['rank']}, alpha {meta['alpha']}, after step {step}, "
          f"{n} steps with an update, lr {lr}" + (f" -> Adam stride bound ~{n * lr:.1e}" if n and lr else ""))
    for node, st in blob["adapters"].items():
        ratios = []
        for ka, a in st.items():
            m = _KEY.search(ka)
            if not m:
                continue
            b = st[ka.replace("lora_A", "lora_B")].float()
            d = float(torch.linalg.matrix_norm(b @ a.float())) * scale
            ratios.append(d / norms[f"blk.{m.group(1)}.{MODULES[m.group(2)]}.weight"])
        print(f"  {node:6s} ||dW||/||W|| mean {statistics.mean(ratios):.2%}  max {max(ratios):.2%}  "
              f"max|B| {lora_b_max(st.items()):.2e}  ({len(ratios)} modules)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoints", nargs="+", type=Path, help="best.pt / state.pt files of NeuroMAS runs")
    args = ap.parse_args()
    torch.set_num_threads(1)
    norms_of: dict[str, dict[str, float]] = {}
    for p in args.checkpoints:
        drift(p, norms_of)


if __name__ == "__main__":
    main()
