"""Benchmarks: loaders, seeded splits, answer extraction and graders."""
from .base import DataNotFound, Example, GradingError, Task, TaskFamily
from .code import grade_code
from .datasets import get_task, load_task, read_rows, task_names
from .extract import Extracted, extract_choice, extract_code, extract_math, last_boxed, normalize_number
from .grade import Grade, agrade, answers_match, grade
from .splits import DEFAULT_FRACTIONS, split_examples, split_manifest

__all__ = [
    "DataNotFound", "Example", "GradingError", "Task", "TaskFamily",
    "get_task", "load_task", "read_rows", "task_names",
    "DEFAULT_FRACTIONS", "split_examples", "split_manifest",
    "Extracted", "extract_choice", "extract_code", "extract_math", "last_boxed", "normalize_number",
    "Grade", "agrade", "answers_match", "grade", "grade_code",
]
