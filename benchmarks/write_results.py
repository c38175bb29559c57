"""Regenerate the result tables in benchmarks/RESULTS.md from the committed run folders.

    python3 benchmarks/write_results.py

Tables and plots come from `mastune report` (mastune.eval.report) over every
run folder under benchmarks/results/; the prose sections between the
generated blocks are kept as written.
"""
from __future__ import annotations

import re
from pathlib import Path

from mastune.eval.report import markdown_table, paired, paired_markdown, plot, summarize

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
DOC = ROOT / "RESULTS.md"

GROUPS = {  # block name -> (glob under results/, plot file, title)
    "baseline-gsm8k": ("baseline/gsm8k-*", "baseline/gsm8k.png", "GSM8K test split (first 100), cot and baselines"),
    "baseline-humaneval": ("baseline/humaneval-*", "baseline/humaneval.png", "HumanEval+ test split (first 40)"),
    "collab-gsm8k": ("collab/runs/gsm8k/*", "collab/gsm8k.png", "collab vs cot / self-consistency, GSM8K"),
    "collab-humaneval": ("collab/runs/humaneval/*", "collab/humaneval.png", "collab vs cot / self-consistency, HumanEval+"),
    "hieramas": ("hieramas/runs/*", "hieramas/accuracy_cost.png", "HieraMAS vs baselines, GSM8K"),
}
PAIRED_BASE = {"hieramas": "hieramas"}  # block name -> run paired with every other run of the block


def block(name: str) -> str:
    pattern, png, title = GROUPS[name]
    runs = sorted(p for p in RESULTS.glob(pattern) if (p / "meta.json").exists())
    summaries = [s for s in (summarize(r) for r in runs) if s.n]
    if not summaries:
        return "_No finished items yet._\n"
    plot(summaries, RESULTS / png, title)
    table = markdown_table(summaries)
    base = next((s for s in summaries if s.name == PAIRED_BASE.get(name)), None)
    if base is not None:  # the method against each other run on the items both answered
        table += "\n" + paired_markdown([paired(base, s) for s in summaries if s is not base])
    return table + f"\n![{title}](results/{png})\n"


def main() -> None:
    text = DOC.read_text()
    for name in GROUPS:
        start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
        if start not in text:
            continue
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: f"{start}\n{block(name)}{end}", text,
                      flags=re.S)
    DOC.write_text(text)
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
