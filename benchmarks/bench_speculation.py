"""N-gram prompt-lookup speculation on real calls replayed from committed traces.

    MASTUNE_THREADS=1 PYTHONPATH=src python3 benchmarks/bench_speculation.py --per-kind 3

Replays the messages of synthesiser / decision calls (HieraMAS traces) and critic /
evaluator / solver calls (collab traces) greedily on one engine without speculation and
one with `speculative: ngram`, alternating per call (A then B) so background load hits
both alike. Reports per call kind: decode tok/s of each (the engine's own
`timings.predicted_*`, prefill excluded: it is the same work in both), the speed-up,
the drafted-token acceptance rate, and whether every greedy output was identical.
Prints one JSON line per call and the table at the end.
"""
from __future__ import annotations

import argparse
import glob
import json
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = {  # call kind -> (trace glob, how the call is named in the trace)
    "synthesiser": ("results/hieramas/runs/hieramas-no-selection/traces/*.json", "slot", "synthesiser"),
    "decision": ("results/hieramas/runs/*/traces/*.json", "slot", "decision"),
    "critic": ("results/collab/runs/gsm8k/collab/traces/*.json", "node", "critics"),
    "evaluator": ("results/collab/runs/gsm8k/collab/traces/*.json", "node", "evaluator"),
    "solver": ("results/collab/runs/gsm8k/collab/traces/*.json", "node", "solver"),
}


def replay_calls(kind: str, n: int) -> list[dict]:
    pattern, field, name = SOURCES[kind]
    out = []
    for f in sorted(glob.glob(str(HERE / pattern))):
        for call in json.loads(Path(f).read_text())["calls"]:
            if call.get(field) == name:
                out.append(call)
                break  # one call per trace: n different items
        if len(out) >= n:
            break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--per-kind", type=int, default=3)
    ap.add_argument("--kinds", default=",".join(SOURCES))
    ap.add_argument("--max-tokens", type=int, default=256)
    args = ap.parse_args()

    from mastune.llm.embedded import EngineSpec, get_engine
    from mastune.models.pull import pull

    path = str(pull(args.model))
    engines = {mode: get_engine(EngineSpec(path, 1, 4096, speculative=mode)) for mode in ("", "ngram")}
    stats: dict[str, dict] = defaultdict(lambda: {"": [0, 0.0], "ngram": [0, 0.0], "draft": [0, 0], "same": True, "n": 0})
    for kind in args.kinds.split(","):
        for call in replay_calls(kind, args.per_kind):
            req = {"messages": call["messages"], "temperature": 0.0,
                   "max_tokens": min(args.max_tokens, int(call.get("max_tokens") or args.max_tokens))}
            texts = {}
            for mode, eng in engines.items():
                resp = eng.complete(dict(req), route=False)
                t = resp["timings"]
                texts[mode] = resp["choices"][0]["message"]["content"]
                stats[kind][mode][0] += t["predicted_n"]
                stats[kind][mode][1] += t["predicted_ms"] / 1000
                if mode:
                    stats[kind]["draft"][0] += t.get("draft_n", 0)
                    stats[kind]["draft"][1] += t.get("draft_n_accepted", 0)
                print(json.dumps({"kind": kind, "mode": mode or "plain", "prompt_n": t["prompt_n"],
                                  "predicted_n": t["predicted_n"], "decode_tok_s": round(t["predicted_per_second"], 1),
                                  "draft_n": t.get("draft_n", 0), "accepted": t.get("draft_n_accepted", 0)}), flush=True)
            stats[kind]["same"] &= texts[""] == texts["ngram"]
            stats[kind]["n"] += 1
    print(f"\nmodel {args.model}, greedy, max_tokens <= {args.max_tokens}, replayed from benchmarks/results traces")
    print("| call kind | calls | plain tok/s | ngram tok/s | speed-up | drafts accepted | outputs identical |")
    print("|---|---|---|---|---|---|---|")
    for kind, s in stats.items():
        plain, spec = s[""][0] / max(s[""][1], 1e-9), s["ngram"][0] / max(s["ngram"][1], 1e-9)
        acc = s["draft"][1] / s["draft"][0] if s["draft"][0] else 0.0
        print(f"| {kind} | {s['n']} | {plain:.1f} | {spec:.1f} | {spec / plain:.2f}x | {acc:.0%} of {s['draft'][0]} "
              f"| {'yes' if s['same'] else 'NO'} |")


if __name__ == "__main__":
    main()
