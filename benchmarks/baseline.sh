#!/usr/bin/env bash
# The baseline table (issue: benchmarks, graders, sandbox, harness).
# cot for every local model on GSM8K test (100) and HumanEval+ test (40);
# self-consistency (n=5) and the full graph with the strongest local model on
# the same items. Resumable: re-run to continue. Then `mastune report`.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/results/baseline}
GSM=${GSM:-100}
HE=${HE:-40}
BEST=${BEST:-qwen2.5-coder-1.5b}
run() { mastune eval "$@" --concurrency "${CONC:-4}"; }
for m in smollm2-135m gemma3-270m qwen2.5-coder-0.5b qwen2.5-coder-1.5b; do
  run --system cot --model "$m" --task gsm8k --limit "$GSM" --out "$OUT/gsm8k-cot-$m"
  run --system cot --model "$m" --task humaneval-plus --limit "$HE" --out "$OUT/humaneval-cot-$m"
done
run --system self-consistency --model "$BEST" --task gsm8k --limit "$GSM" --out "$OUT/gsm8k-sc5-$BEST"
run --system full --model "$BEST" --task gsm8k --limit "$GSM" --out "$OUT/gsm8k-full-$BEST"
run --system self-consistency --model "$BEST" --task humaneval-plus --limit "$HE" --out "$OUT/humaneval-sc5-$BEST"
run --system full --model "$BEST" --task humaneval-plus --limit "$HE" --out "$OUT/humaneval-full-$BEST"
mastune report "$OUT"/gsm8k-* --plot "$OUT/gsm8k.png" --markdown "$OUT/gsm8k.md" --title "GSM8K test (first $GSM)"
mastune report "$OUT"/humaneval-* --plot "$OUT/humaneval.png" --markdown "$OUT/humaneval.md" --title "HumanEval+ test (first $HE)"
