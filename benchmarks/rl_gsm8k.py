"""The proof run: single-model RL of Qwen2.5-Coder-0.5B on GSM8K against Direct, resumable stage by stage.

    python3 benchmarks/rl_gsm8k.py --dry-run                 # the plan: episodes, calls, hours
    python3 benchmarks/rl_gsm8k.py --stage direct            # Direct on the test items (greedy)
    python3 benchmarks/rl_gsm8k.py --stage train [--steps 16] # the pilot (~1,000 episodes), then more
    python3 benchmarks/rl_gsm8k.py --stage rl                # the trained adapter on the same items
    python3 benchmarks/rl_gsm8k.py --stage report            # paired table + exact McNemar

Every stage is a `mastune` command that resumes where it stopped, so a killed stage is re-run as is.
Direct is the training run's own start.pt: the backbone with a zero adapter, the same node prompt
("think step by step ... \\boxed{}") and the same token budget as the trained arm, evaluated greedily.
Folders: benchmarks/results/rl/gsm8k-qwen05/{train,eval/direct,eval/rl,report.md}.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent / "results" / "rl" / "gsm8k-qwen05"
TRAIN = ROOT / "train"
ITEMS = 300  # test items of the seed-0 split, the same for every arm
MAX_TOKENS = 512
RECIPE = ["--task", "gsm8k", "--backbone", "qwen2.5-coder-0.5b", "--max-tokens", str(MAX_TOKENS),
          "--eval-max-tokens", str(MAX_TOKENS), "--eval-size", "100", "--eval-every", "8"]


def mastune(*args: str) -> None:
    cmd = [sys.executable, "-m", "mastune.cli.main", *args]
    print("$ mastune " + " ".join(args), flush=True)
    subprocess.run(cmd, check=True)


def evaluate(checkpoint: Path, out: Path) -> None:
    mastune("eval", "--system", "neuromas", "--checkpoint", str(checkpoint), "--task", "gsm8k", "--split", "test",
            "--limit", str(ITEMS), "--max-tokens", str(MAX_TOKENS), "--out", str(out), "--no-cache")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stage", choices=("train", "direct", "rl", "report"))
    ap.add_argument("--steps", type=int, default=16, help="training steps so far (raise it to extend the run)")
    ap.add_argument("--dry-run", action="store_true")
    a = ap.parse_args()
    if a.dry_run or a.stage is None:
        mastune("train", "rl", *RECIPE, "--steps", str(a.steps), "--out", str(TRAIN), "--dry-run")
        print(json.dumps({"evaluation": {"arms": ["direct", "rl"], "items": ITEMS, "calls": 2 * ITEMS,
                                         "max_tokens": MAX_TOKENS,
                                         "hours_at_37_tok_s": round(2 * ITEMS * 300 / 37 / 3600, 1)}}))
        return
    if a.stage == "train":
        mastune("train", "rl", *RECIPE, "--steps", str(a.steps), "--out", str(TRAIN))
    elif a.stage == "direct":
        if not (TRAIN / "start.pt").is_file():
            mastune("train", "rl", *RECIPE, "--steps", "1", "--out", str(TRAIN))  # writes start.pt first
        evaluate(TRAIN / "start.pt", ROOT / "eval" / "direct")
    elif a.stage == "rl":
        evaluate(TRAIN / "best.pt", ROOT / "eval" / "rl")
    else:
        mastune("report", str(ROOT / "eval" / "rl"), str(ROOT / "eval" / "direct"), "--markdown",
                str(ROOT / "report.md"))


if __name__ == "__main__":
    main()
