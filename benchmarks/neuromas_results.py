"""NeuroMAS against its baselines on one task and backbone, same episode budget: train, evaluate, report.

    python3 benchmarks/neuromas_results.py --task "mmlu-redux:college_physics,professional_medicine,abstract_algebra" \\
        --backbone smollm2-135m --episodes 320 --out benchmarks/results/neuromas/mmlu3-smollm2
    python3 benchmarks/neuromas_results.py ... --dry-run        # the plan and its size, nothing run
    python3 benchmarks/neuromas_results.py ... --only n3,single # some stages (one writer per folder)

Runs (every one resumable: re-run the same command after a kill; finished stages are skipped):
    direct        the backbone with no adapter: `cot` (chain of thought, greedy, --max-tokens)
    single        single-LLM RL: one node whose adapter rank gives it the NeuroMAS-3 network's
                  trainable parameter count (`train neuromas --single-llm --layers 1,1`)
    n3            NeuroMAS-3, layers 1,1, from scratch
    n5            NeuroMAS-5, layers 2,2, from scratch
    n5-grown      NeuroMAS-5 grown from the trained n3 (its adapters kept, new nodes at B = 0),
                  then trained with the same episode budget again
Every trained run gets --episodes, the same training questions (seeded train split),
best-on-validation, and is evaluated greedy on the first --test-size test items.
Continuing on another machine: the run folders' *.pt files are git-ignored (tens of MB), so
before a machine goes away commit what the next one needs with `git add -f`: state.pt and
best.pt of a run still training (it resumes exactly: same draws, optimiser moments, baseline and
best-so-far), and n3's best.pt while n5-grown has yet to grow from it. Add them by name, once, in the last commit
of a session (`git add -f train/<run>/state.pt train/<run>/best.pt`, never the folder: its engine/
copies are 40+ MB more): a submission's diffs are capped (256 MiB, a rewritten binary counts old and
new), and a 5-node state.pt is 66 MB, so committing it at every step makes the whole session's
submission too big to land.
Writes under --out: train/<run>/ (the training folders), eval/<run>/ (mastune eval run
folders), summary.md / summary.json (accuracy with 95% CI, McNemar against single-LLM RL
and against the best constant answer), curves.png (training reward vs episodes).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from mastune.eval import markdown_table, paired, paired_markdown, summarize
from mastune.eval.stats import mcnemar_exact, wilson_interval
from mastune.jsonl import read_jsonl
from mastune.tasks.selection import select_examples

RUNS = ("direct", "single", "n3", "n5", "n5-grown")
TRAINED = {"single": ["--single-llm", "--layers", "1,1"], "n3": ["--layers", "1,1"], "n5": ["--layers", "2,2"],
           "n5-grown": ["--layers", "2,2"]}
CALLS = {"direct": 1, "single": 1, "n3": 3, "n5": 5, "n5-grown": 5}


def mastune(*args: str) -> list[str]:
    return [sys.executable, "-m", "mastune.cli.main", *args]


def train_cmd(a: argparse.Namespace, run: str) -> list[str]:
    cmd = mastune("train", "neuromas", "--task", a.task, "--backbone", a.backbone, *TRAINED[run],
                  "--out", str(a.out / "train" / run), "--episodes", str(a.episodes), "--val-size", str(a.val_size),
                  "--seed", str(a.seed), "--lr", str(a.lr), "--max-tokens", str(a.max_tokens),
                  "--eval-max-tokens", str(a.max_tokens))
    if run == "n5-grown":
        cmd += ["--grow-from", str(a.out / "train" / "n3")]
    return cmd + a.train_args


def eval_cmd(a: argparse.Namespace, run: str) -> list[str]:
    common = ["--task", a.task, "--split", "test", "--limit", str(a.test_size), "--max-tokens", str(a.max_tokens),
              "--out", str(a.out / "eval" / run)]
    if run == "direct":
        return mastune("eval", "--system", "cot", "--model", a.backbone, *common)
    return mastune("eval", "--system", "neuromas", "--checkpoint", str(a.out / "train" / run), *common)


def trained(a: argparse.Namespace, run: str) -> bool:
    log = a.out / "train" / run / "log.jsonl"
    steps = [r["step"] for r in read_jsonl(log)] if log.is_file() else []
    cfg = a.out / "train" / run / "config.json"
    want = json.loads(cfg.read_text())["config"].get("steps") if cfg.is_file() else None
    return bool(steps) and want is not None and max(steps) + 1 >= want


def evaluated(a: argparse.Namespace, run: str) -> bool:
    res = a.out / "eval" / run / "results.jsonl"
    return res.is_file() and len({r["id"] for r in read_jsonl(res) if r.get("status") == "ok"}) >= a.test_size


def run_stage(a: argparse.Namespace, run: str) -> None:
    if run in TRAINED and not trained(a, run):
        if run == "n5-grown" and not trained(a, "n3"):
            print(f"[{run}] waits for n3 to finish training; skipped", flush=True)
            return
        print(f"[{run}] train: {' '.join(train_cmd(a, run)[2:])}", flush=True)
        subprocess.run(train_cmd(a, run), check=True)
    if not evaluated(a, run):
        print(f"[{run}] eval: {' '.join(eval_cmd(a, run)[2:])}", flush=True)
        subprocess.run(eval_cmd(a, run), check=True)


def constant_answer(a: argparse.Namespace) -> tuple[str, dict[str, bool]]:
    """The best constant answer on the test items (the floor a policy reaches by learning the majority class).

    Named by its option text too where every item gives that letter the same text (navigate's "B (False)");
    MMLU's option texts differ per item, so there the letter alone is the answer.
    """
    examples = select_examples(a.task, split="test", limit=a.test_size).examples
    best = Counter(e.answer for e in examples).most_common(1)[0][0]
    texts = {e.meta.get("answer_text") for e in examples if e.answer == best}
    name = f"{best} ({texts.pop()})" if len(texts) == 1 and None not in texts else best
    return name, {e.id: e.answer == best for e in examples}


def curves(a: argparse.Namespace, path: Path) -> Path | None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    drawn = False
    for run in TRAINED:
        log = a.out / "train" / run / "log.jsonl"
        rows = list(read_jsonl(log)) if log.is_file() else []
        if rows:
            drawn = True
            ax.plot([r["episodes"] for r in rows], [r["reward"] for r in rows], label=f"{run} (train reward)")
            val = [(r["episodes"], r["val"]["accuracy"]) for r in rows if r.get("val")]
            if val:
                ax.plot(*zip(*val), "o--", label=f"{run} (valid accuracy)")
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("episodes")
    ax.set_ylabel("reward / accuracy")
    ax.set_title(f"NeuroMAS training, {a.backbone}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def report(a: argparse.Namespace) -> None:
    done = [r for r in RUNS if (a.out / "eval" / r / "meta.json").is_file()]
    if not done:
        print("nothing evaluated yet")
        return
    summaries = {r: summarize(a.out / "eval" / r) for r in done}
    for r, s in summaries.items():
        s.name = r
    letter, const = constant_answer(a)
    lines = [f"# NeuroMAS on {a.task}, backbone {a.backbone}", "",
             f"Budget: {a.episodes} training episodes per trained run; test: first {a.test_size} items of the "
             "seeded test split (split seed 0), greedy.", "", markdown_table(list(summaries.values())), ""]
    n_const = sum(const.values())
    lo, hi = wilson_interval(n_const, len(const))
    lines += [f"Best constant answer on these items: '{letter}', {n_const}/{len(const)} = "
              f"{n_const / len(const):.1%} [{lo:.1%}, {hi:.1%}].", ""]
    if "single" in summaries:
        lines += ["Paired against single-LLM RL:", "",
                  paired_markdown([paired(summaries["single"], s) for r, s in summaries.items() if r != "single"]), ""]
    rows = []
    for r, s in summaries.items():
        common = const.keys() & s.outcomes.keys()
        b = sum(s.outcomes[i] and not const[i] for i in common)
        c = sum(const[i] and not s.outcomes[i] for i in common)
        rows.append(f"| {r} | {len(common)} | {b} | {c} | {mcnemar_exact(b, c):.3f} |")
    lines += ["Against the best constant answer:", "", "| run | items | run only | constant only | McNemar p |",
              "|---|---|---|---|---|", *rows, ""]
    png = curves(a, a.out / "curves.png")
    if png:
        lines += [f"Training curves: {png.name}", ""]
    (a.out / "summary.md").write_text("\n".join(lines))
    (a.out / "summary.json").write_text(json.dumps(
        {r: {"n": s.n, "correct": s.correct, "accuracy": s.accuracy, "calls_per_item": s.per_item(s.calls)}
         for r, s in summaries.items()}, indent=2))
    print("\n".join(lines))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", required=True)
    p.add_argument("--backbone", default="smollm2-135m")
    p.add_argument("--episodes", type=int, default=320)
    p.add_argument("--test-size", type=int, default=120)
    p.add_argument("--val-size", type=int, default=40)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--max-tokens", type=int, default=200,
                   help="tokens per call in every arm: training, validation, test and Direct (the paper: 200)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--only", default=",".join(RUNS), help=f"comma list of {', '.join(RUNS)}")
    p.add_argument("--report", action="store_true", help="only write the summary")
    p.add_argument("--dry-run", action="store_true", help="print the plan and its size")
    p.add_argument("train_args", nargs="*", help="after --: more `train neuromas` options for every trained run")
    a = p.parse_args()
    only = [r.strip() for r in a.only.split(",") if r.strip()]
    bad = sorted(set(only) - set(RUNS))
    if bad:
        p.error(f"unknown runs {bad}; runs: {', '.join(RUNS)}")
    a.out.mkdir(parents=True, exist_ok=True)
    if a.dry_run or not a.report:
        train_calls = sum(a.episodes * CALLS[r] for r in only if r in TRAINED)
        val_calls = sum((a.episodes // 16 // 5 + 1) * a.val_size * CALLS[r] for r in only if r in TRAINED)
        test_calls = sum(a.test_size * CALLS[r] for r in only)
        print(f"plan: runs {only}; {train_calls} sampled training calls, ~{val_calls} validation calls, "
              f"{test_calls} test calls (threads: MASTUNE_THREADS={os.environ.get('MASTUNE_THREADS', 'auto')})")
        for r in only:
            if r in TRAINED:
                print("   ", " ".join(train_cmd(a, r)[2:]))
            print("   ", " ".join(eval_cmd(a, r)[2:]))
    if a.dry_run:
        return
    if not a.report:
        for r in only:
            run_stage(a, r)
    report(a)


if __name__ == "__main__":
    main()
