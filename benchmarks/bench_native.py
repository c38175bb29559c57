"""Prefill and decode tok/s of one model under two xllamacpp builds, in one run.

    MASTUNE_THREADS=1 PYTHONPATH=src python3 benchmarks/bench_native.py --native-python VENV/bin/python

The prebuilt wheel is compiled for a portable x86-64 (AVX2); a source build with
GGML_NATIVE=ON uses every feature of the CPU it is built on (AVX-512, VNNI, BF16
here). See README, "Optional: a native engine build", for how to make the venv.
Each build runs in its own interpreter (this one for the wheel, --native-python for
the native build), alternating --rounds times so background load hits both alike.
A child loads the model once (1 slot), then measures
  prefill: a ~--prompt-tokens prompt (a HieraMAS synthesiser call from the committed
           traces, repeated to length) with the prompt cache off, max_tokens=1;
  decode:  --decode-tokens greedy tokens after a short prompt;
from the engine's own timings (prompt_per_second, predicted_per_second).
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRACES = "results/hieramas/runs/hieramas-no-selection/traces/*.json"


def long_prompt(n_chars: int) -> list[dict]:
    for f in sorted(glob.glob(str(HERE / TRACES))):
        for call in json.loads(Path(f).read_text())["calls"]:
            if call["slot"] == "synthesiser":
                text = call["messages"][-1]["content"]
                return [call["messages"][0], {"role": "user", "content": (text * (1 + n_chars // len(text)))[:n_chars]}]
    raise SystemExit(f"no synthesiser call found under {HERE / TRACES}")


def child(args: argparse.Namespace) -> None:
    import xllamacpp

    p = xllamacpp.CommonParams()
    p.model.path = args.gguf
    p.n_parallel = 1
    p.n_ctx = 4096
    p.cpuparams.n_threads = p.cpuparams_batch.n_threads = args.threads
    p.verbosity = -1
    server = xllamacpp.Server(p)
    msgs = long_prompt(args.prompt_tokens * 4)  # ~4 characters per token
    prefill = []
    for _ in range(args.reps):
        t = server.handle_chat_completions({"messages": msgs, "max_tokens": 1, "temperature": 0.0,
                                            "cache_prompt": False})["timings"]
        prefill.append((t["prompt_n"], t["prompt_per_second"]))
    t = server.handle_chat_completions({
        "messages": [{"role": "user", "content": "Write the numbers from 1 to 300, separated by commas."}],
        "max_tokens": args.decode_tokens, "temperature": 0.0, "cache_prompt": False})["timings"]
    print(json.dumps({"system_info": xllamacpp.get_system_info().strip(), "prefill": prefill,
                      "decode": [t["predicted_n"], t["predicted_per_second"]]}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--native-python", required=True, help="python of the venv holding the native xllamacpp build")
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("MASTUNE_THREADS", "0")) or os.cpu_count())
    ap.add_argument("--prompt-tokens", type=int, default=500)
    ap.add_argument("--decode-tokens", type=int, default=64)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--gguf", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    from mastune.models.pull import pull

    gguf = str(pull(args.model))
    builds = {"wheel": sys.executable, "native": args.native_python}
    got: dict[str, list[dict]] = {b: [] for b in builds}
    for r in range(args.rounds):
        for build, python in builds.items():
            cmd = [python, __file__, "--child", "--native-python", args.native_python, "--gguf", gguf,
                   "--threads", str(args.threads), "--prompt-tokens", str(args.prompt_tokens),
                   "--decode-tokens", str(args.decode_tokens), "--reps", str(args.reps)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            got[build].append(json.loads(out))
            print(f"round {r + 1} {build}: {out}", flush=True)
    print(f"\n{args.model}, {args.threads} thread(s), prompt ~{got['wheel'][0]['prefill'][0][0]} tokens, "
          f"{args.decode_tokens} decoded; median over {args.rounds} rounds x {args.reps} prefills")
    print("| build | CPU features (llama.cpp system info) | prefill tok/s | decode tok/s |")
    print("|---|---|---|---|")
    med = {}
    for build, runs in got.items():
        pre = statistics.median(tps for run in runs for _, tps in run["prefill"])
        dec = statistics.median(run["decode"][1] for run in runs)
        med[build] = (pre, dec)
        feats = runs[0]["system_info"].replace("|", "/")
        print(f"| {build} | {feats} | {pre:.1f} | {dec:.1f} |")
    print(f"| native / wheel | | {med['native'][0] / med['wheel'][0]:.2f}x | {med['native'][1] / med['wheel'][1]:.2f}x |")


if __name__ == "__main__":
    main()
