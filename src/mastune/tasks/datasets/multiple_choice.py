"""Multiple-choice benchmarks: MMLU-Redux (57 subjects, and the 30-subject original release)."""
from __future__ import annotations

import ast
import json
import re
from typing import Any, Iterable

from ...errors import DataError
from ..base import Example
from .files import Row, need
from .spec import Spec

MMLU_SUBJECTS_57 = (
    "abstract_algebra anatomy astronomy business_ethics clinical_knowledge college_biology "
    "college_chemistry college_computer_science college_mathematics college_medicine college_physics "
    "computer_security conceptual_physics econometrics electrical_engineering elementary_mathematics "
    "formal_logic global_facts high_school_biology high_school_chemistry high_school_computer_science "
    "high_school_european_history high_school_geography high_school_government_and_politics "
    "high_school_macroeconomics high_school_mathematics high_school_microeconomics high_school_physics "
    "high_school_psychology high_school_statistics high_school_us_history high_school_world_history "
    "human_aging human_sexuality international_law jurisprudence logical_fallacies machine_learning "
    "management marketing medical_genetics miscellaneous moral_disputes moral_scenarios nutrition "
    "philosophy prehistory professional_accounting professional_law professional_medicine "
    "professional_psychology public_relations security_studies sociology us_foreign_policy virology "
    "world_religions"
).split()

# The 30 subjects of the original 3,000-question MMLU-Redux release.
MMLU_SUBJECTS_30 = (
    "anatomy astronomy business_ethics clinical_knowledge college_chemistry college_computer_science "
    "college_mathematics college_medicine college_physics conceptual_physics econometrics "
    "electrical_engineering formal_logic global_facts high_school_chemistry high_school_geography "
    "high_school_macroeconomics high_school_mathematics high_school_physics high_school_statistics "
    "high_school_us_history human_aging logical_fallacies machine_learning miscellaneous philosophy "
    "professional_accounting professional_law public_relations virology"
).split()


def normalize_error_type(v: Any) -> str:
    """'Wrong_Groundtruth ' -> 'wrong groundtruth'; empty -> 'ok'."""
    s = re.sub(r"\s+", " ", str(v or "ok").replace("_", " ")).strip().lower()
    return s or "ok"


def _literal_list(v: Any) -> list:
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except ValueError:
            v = ast.literal_eval(v)  # literals only: safe on untrusted text
    return [str(c) for c in list(v)]


def _answer_index(v: Any) -> int:
    s = str(v).strip()
    if s.isdigit():
        return int(s)
    if len(s) == 1 and s.upper() in "ABCDEFGHIJ":
        return "ABCDEFGHIJ".index(s.upper())
    raise ValueError(f"cannot read answer {v!r}")


def format_mcq(question: str, choices: list[str]) -> str:
    lines = [f"{'ABCDEFGHIJ'[i]}. {c}" for i, c in enumerate(choices)]
    return question.strip() + "\n\n" + "\n".join(lines)


def _choices_and_answer(r: Row, i: int) -> tuple[list[str], int]:
    try:
        choices = _literal_list(need(r, "choices", i))
    except (ValueError, SyntaxError, TypeError) as e:
        raise DataError(f"row {i + 1}: cannot read 'choices' as a list ({e})") from None
    try:
        idx = _answer_index(need(r, "answer", i))
    except ValueError as e:
        raise DataError(f"row {i + 1}: {e} (use a letter A-J or a 0-based index)") from None
    if not 0 <= idx < len(choices):
        raise DataError(f"row {i + 1}: answer index {idx} is outside its {len(choices)} choices")
    return choices, idx


def _mmlu(rows: list[Row], *, drop_flawed: bool = False,
          subjects: Iterable[str] | None = None) -> list[Example]:
    wanted = set(subjects) if subjects else None
    seen: dict[str, int] = {}
    out = []
    for i, r in enumerate(rows):
        subject = str(r.get("subject", "unknown"))
        k = seen.get(subject, 0)  # position within the subject: same id in the 30- and 57-subject files
        seen[subject] = k + 1
        err = normalize_error_type(r.get("error_type"))
        if (wanted and subject not in wanted) or (drop_flawed and err != "ok"):
            continue
        choices, idx = _choices_and_answer(r, i)
        letter = "ABCDEFGHIJ"[idx]
        meta = {"task": "mmlu-redux", "subject": subject, "choices": choices, "answer_index": idx,
                "answer_letter": letter, "error_type": r.get("error_type"), "error_type_norm": err,
                "correct_answer": r.get("correct_answer"), "source": r.get("source")}
        question = format_mcq(str(need(r, "question", i)), choices)
        out.append(Example(f"mmlu-redux/{subject}/{k}", question, letter, "mcq", meta))
    return out


def _mmlu_hub(dataset: str, subjects: list[str]) -> tuple[tuple[str, str | None, str], ...]:
    return tuple((dataset, s, "test") for s in subjects)


SPECS = (
    Spec("mmlu-redux", "mcq", ("mmlu_redux/mmlu_redux_57subjects.jsonl",),
         _mmlu_hub("edinburgh-dawg/mmlu-redux-2.0", MMLU_SUBJECTS_57), _mmlu, True),
    Spec("mmlu-redux-30", "mcq", ("mmlu_redux/mmlu_redux_30subjects.jsonl",),
         _mmlu_hub("edinburgh-dawg/mmlu-redux", MMLU_SUBJECTS_30), _mmlu, True),
)
ALIASES = {"mmlu-redux-57": "mmlu-redux", "mmlu-redux-2.0": "mmlu-redux"}
