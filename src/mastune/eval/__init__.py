"""Evaluation: the resumable runner, results files, reports."""
from .report import Paired, RunSummary, markdown_table, paired, paired_markdown, plot, run_labels, summarize
from ..jsonl import ResultsFile
from .runner import EvalConfig, EvalSummary, evaluate, trace_path

__all__ = ["EvalConfig", "EvalSummary", "Paired", "ResultsFile", "RunSummary", "evaluate", "markdown_table", "paired",
           "paired_markdown", "plot", "run_labels", "summarize", "trace_path"]
