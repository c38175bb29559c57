"""Evaluation: the resumable runner, results files, reports."""
from .report import RunSummary, markdown_table, plot, summarize
from .results import ResultsFile
from .runner import EvalConfig, EvalSummary, evaluate, trace_path

__all__ = ["EvalConfig", "EvalSummary", "ResultsFile", "RunSummary", "evaluate", "markdown_table", "plot", "summarize",
           "trace_path"]
