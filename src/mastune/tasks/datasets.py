"""Benchmark loaders.

Where data comes from, in order:
1. an explicit `path` (a file in the benchmark's format, or a data folder);
2. the shared data folder: $MASTUNE_DATA_DIR, else the first `shared/data`
   found walking up from the working directory or from this package;
3. the Hugging Face hub, through the `datasets` library, when installed and
   not offline (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE / MASTUNE_OFFLINE).
Nothing found raises `DataNotFound` naming every place tried.
"""
from __future__ import annotations

import ast
import csv
import gzip
import inspect
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import ConfigError
from .base import DataNotFound, Example, Task, TaskFamily
from .extract import last_boxed
from .splits import split_examples

Row = dict[str, Any]

# ---------------------------------------------------------------- subjects

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

# ---------------------------------------------------------------- reading files


def read_rows(path: str | os.PathLike) -> list[Row]:
    """Rows of a .jsonl / .json / .csv / .parquet file (optionally .gz)."""
    p = Path(path)
    name = p.name.lower()
    if name.endswith(".gz"):
        with gzip.open(p, "rb") as f:
            return _parse_rows(name[:-3], f.read(), p)
    return _parse_rows(name, p.read_bytes(), p)


def _parse_rows(name: str, data: bytes, origin: Path) -> list[Row]:
    if name.endswith(".jsonl"):
        text = data.decode("utf-8")
        # split("\n"), not splitlines(): rows may hold U+2028 and friends inside strings
        return [json.loads(line) for line in text.split("\n") if line.strip()]
    if name.endswith(".json"):
        obj = json.loads(data.decode("utf-8"))
        if isinstance(obj, dict):
            for key in ("data", "rows", "examples", "test"):
                if isinstance(obj.get(key), list):
                    return obj[key]
            # evalplus-style {task_id: row}
            return [dict(v, task_id=v.get("task_id", k)) for k, v in obj.items() if isinstance(v, dict)]
        return list(obj)
    if name.endswith(".csv"):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:  # some upstream CSVs carry stray Mac-Roman bytes
            text = data.decode("mac_roman")
        head = text[:4096]
        delim = ";" if head.count(";") > head.count(",") else ","
        return [dict(r) for r in csv.DictReader(io.StringIO(text), delimiter=delim)]
    if name.endswith(".parquet"):
        try:
            import pandas as pd
        except ImportError as e:
            raise DataNotFound(f"reading {origin.name} needs pandas + pyarrow: pip install pandas pyarrow") from e
        return pd.read_parquet(io.BytesIO(data)).to_dict(orient="records")
    raise DataNotFound(f"unsupported file type: {origin.name} (use .jsonl, .jsonl.gz, .json, .csv or .parquet)")


# ---------------------------------------------------------------- row -> Example


def _gsm8k(rows: list[Row]) -> list[Example]:
    out = []
    for i, r in enumerate(rows):
        sol = str(r["answer"])
        gold = sol.split("####")[-1].strip().replace(",", "") if "####" in sol else sol.strip()
        out.append(Example(f"gsm8k/{i}", str(r["question"]), gold, "math", {"task": "gsm8k", "solution": sol}))
    return out


def _level(v: Any) -> int | None:
    m = re.search(r"\d+", str(v))
    return int(m.group(0)) if m else None


def _math(rows: list[Row]) -> list[Example]:
    out = []
    for i, r in enumerate(rows):
        sol = str(r.get("solution", ""))
        gold = last_boxed(sol)
        idx = r.get("idx", i)
        meta = {"task": "math", "solution": sol, "level": _level(r.get("level")),
                "subject": r.get("type") or r.get("subject"), "idx": idx}
        if gold is None:
            meta["gold_missing"] = True
        out.append(Example(f"math/{idx}", str(r["problem"]), gold or "", "math", meta))
    return out


def _math500(rows: list[Row]) -> list[Example]:
    out = []
    for i, r in enumerate(rows):
        sol = str(r.get("solution", ""))
        gold = r.get("answer")
        gold = str(gold) if gold not in (None, "") else (last_boxed(sol) or "")
        uid = str(r.get("unique_id") or i).removesuffix(".json")
        meta = {"task": "math500", "solution": sol, "level": _level(r.get("level")),
                "subject": r.get("subject"), "unique_id": r.get("unique_id")}
        out.append(Example(f"math500/{uid}", str(r["problem"]), gold, "math", meta))
    return out


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


def _mmlu(rows: list[Row], *, drop_flawed: bool = False,
          subjects: Iterable[str] | None = None) -> list[Example]:
    wanted = set(subjects) if subjects else None
    seen: dict[str, int] = {}
    out = []
    for r in rows:
        subject = str(r.get("subject", "unknown"))
        k = seen.get(subject, 0)  # position within the subject: same id in the 30- and 57-subject files
        seen[subject] = k + 1
        err = normalize_error_type(r.get("error_type"))
        if (wanted and subject not in wanted) or (drop_flawed and err != "ok"):
            continue
        choices = _literal_list(r["choices"])
        idx = _answer_index(r["answer"])
        letter = "ABCDEFGHIJ"[idx]
        meta = {"task": "mmlu-redux", "subject": subject, "choices": choices, "answer_index": idx,
                "answer_letter": letter, "error_type": r.get("error_type"), "error_type_norm": err,
                "correct_answer": r.get("correct_answer"), "source": r.get("source")}
        out.append(Example(f"mmlu-redux/{subject}/{k}", format_mcq(str(r["question"]), choices), letter, "mcq", meta))
    return out


def _maybe_json(v: Any, default: Any) -> Any:
    if v is None or v == "":
        return default
    return json.loads(v) if isinstance(v, str) else v


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.M) is not None


def reference_program(prompt: str, solution: str, entry_point: str) -> str:
    """A complete program: HumanEval solutions are bodies that follow the prompt."""
    return solution if _defines(solution, entry_point) else prompt + solution


def _humaneval(rows: list[Row]) -> list[Example]:
    out = []
    for r in rows:
        prompt, ep = str(r["prompt"]), str(r["entry_point"])
        canon = str(r.get("canonical_solution", ""))
        meta = {"task": "humaneval-plus", "dataset": "humaneval", "prompt": prompt, "entry_point": ep,
                "test": r.get("test", ""), "test_kind": "check", "canonical_solution": canon,
                "reference": reference_program(prompt, canon, ep), "contract": r.get("contract", ""),
                "base_input": _maybe_json(r.get("base_input"), []),
                "plus_input": _maybe_json(r.get("plus_input"), []),
                "atol": float(r.get("atol") or 0), "oracle": "poly_root" if ep == "find_zero" else None,
                "input_transform": None}
        out.append(Example(str(r["task_id"]), prompt, meta["reference"], "code", meta))
    return out


# MBPP+ stores tuples/sets/complex numbers as JSON lists/strings; these tables
# (task number -> how to rebuild the arguments) follow the evalplus data format.
# The rebuilding itself happens inside the sandbox harness (code.py).
_MBPP_INPUT_KINDS: dict[str, tuple[int, ...]] = {
    "args_tuple": (2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596,
                   616, 630, 726, 740, 744, 809),
    "args_list_of_tuples": (63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780),
    "first_list_of_tuples": (75, 413, 444, 753),
    "second_tuple": (106, 750),
    "first_list_of_sets": (115,),
    "float_complex": (124,),
    "first_tuple": (250, 307, 405, 446, 617, 720, 763, 808),
    "args_tuple_of_tuples": (259, 401, 445),
    "first_tuple_of_mixed": (278,),
    "first_dict_tuple_values": (722,),
    "first_complex": (252,),
    "deep_tuple": (580, 615, 791),
}
_MBPP_TRANSFORM = {n: kind for kind, nums in _MBPP_INPUT_KINDS.items() for n in nums}

# Tasks whose outputs are not compared by plain equality (evalplus special oracles).
_MBPP_ORACLES = {"are_equivalent": "always_true", "sum_div": "or_zero", "surface_Area": "surface_area",
                 "digit_distance_nums": "digit_distance", "check_str": "not_none",
                 "text_match_three": "not_none", "text_starta_endb": "not_none"}
for _name in ("similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly",
              "larg_nnum", "intersection_array", "find_dissimilar", "Diff"):
    _MBPP_ORACLES[_name] = "set_eq"


def _infer_entry_point(code: str, tests: list[str]) -> str:
    defs = re.findall(r"^def\s+(\w+)\s*\(", code, re.M)
    called = set(re.findall(r"(\w+)\s*\(", "\n".join(tests)))
    for d in defs:
        if d in called:
            return d
    if defs:
        return defs[-1]
    raise ValueError("cannot find the entry point of an MBPP+ row")


def _mbpp(rows: list[Row]) -> list[Example]:
    out = []
    for r in rows:
        code = str(r.get("code") or r.get("canonical_solution") or "")
        tests = [str(t) for t in (_maybe_json(r.get("test_list"), []) or [])]
        ep = str(r.get("entry_point") or _infer_entry_point(code, tests))
        tid = str(r["task_id"])
        tid = tid if "/" in tid else f"Mbpp/{tid}"
        num = int(tid.split("/")[-1])
        raw_prompt = str(r.get("prompt") or r.get("text") or "")
        # evalplus wraps the task text in a docstring; show the model plain text.
        prompt = raw_prompt.strip()
        prompt = prompt.strip('"').strip() if prompt.startswith('"""') else prompt
        imports = "\n".join(_maybe_json(r.get("test_imports"), []) or [])
        if tests:
            test, kind = (imports + "\n" if imports else "") + "\n".join(tests), "asserts"
        else:
            test, kind = str(r.get("test") or ""), "script"
        meta = {"task": "mbpp-plus", "dataset": "mbpp", "prompt": raw_prompt, "entry_point": ep, "test": test,
                "test_kind": kind, "canonical_solution": code, "reference": code,
                "base_input": _maybe_json(r.get("base_input"), []),
                "plus_input": _maybe_json(r.get("plus_input"), []),
                "atol": float(r.get("atol") or 0), "oracle": _MBPP_ORACLES.get(ep),
                "input_transform": _MBPP_TRANSFORM.get(num)}
        out.append(Example(tid, prompt, code, "code", meta))
    return out


# ---------------------------------------------------------------- registry


@dataclass(frozen=True)
class Spec:
    name: str
    family: TaskFamily
    files: tuple[str, ...]  # candidates, relative to a data folder
    hub: tuple[tuple[str, str | None, str], ...]  # (dataset id, config, split)
    build: Callable[..., list[Example]]
    hub_subject_configs: bool = False  # one hub config per MMLU subject


def _mmlu_hub(dataset: str, subjects: list[str]) -> tuple[tuple[str, str | None, str], ...]:
    return tuple((dataset, s, "test") for s in subjects)


REGISTRY: dict[str, Spec] = {
    s.name: s
    for s in (
        Spec("gsm8k", "math", ("gsm8k/test.jsonl",), (("openai/gsm8k", "main", "test"),), _gsm8k),
        Spec("math", "math", ("math/test.jsonl",), (("DigitalLearningGmbH/MATH-lighteval", "default", "test"),),
             _math),
        Spec("math500", "math", ("math500/test.jsonl",), (("HuggingFaceH4/MATH-500", None, "test"),), _math500),
        Spec("mmlu-redux", "mcq", ("mmlu_redux/mmlu_redux_57subjects.jsonl",),
             _mmlu_hub("edinburgh-dawg/mmlu-redux-2.0", MMLU_SUBJECTS_57), _mmlu, True),
        Spec("mmlu-redux-30", "mcq", ("mmlu_redux/mmlu_redux_30subjects.jsonl",),
             _mmlu_hub("edinburgh-dawg/mmlu-redux", MMLU_SUBJECTS_30), _mmlu, True),
        Spec("humaneval-plus", "code",
             ("humanevalplus/HumanEvalPlus-v0.1.10.jsonl.gz", "humanevalplus/HumanEvalPlus.jsonl.gz",
              "humanevalplus/HumanEvalPlus.jsonl"),
             (("evalplus/humanevalplus", None, "test"),), _humaneval),
        Spec("mbpp-plus", "code",
             ("mbppplus/MbppPlus.jsonl", "mbppplus/MbppPlus.jsonl.gz", "mbppplus/MbppPlus-v0.2.0.jsonl",
              "mbppplus/MbppPlus-v0.1.0.jsonl"),
             (("evalplus/mbppplus", None, "test"),), _mbpp),
    )
}

# BIG-bench tasks (navigate, ...): their loaders live in bigbench.py.
from .bigbench import BIGBENCH  # noqa: E402
REGISTRY.update({b.name: Spec(b.name, b.family, b.files, b.hub, b.build) for b in BIGBENCH})

_ALIASES = {"math-500": "math500", "mmlu-redux-57": "mmlu-redux", "mmlu-redux-2.0": "mmlu-redux",
            "humaneval+": "humaneval-plus", "humanevalplus": "humaneval-plus", "mbpp+": "mbpp-plus",
            "mbppplus": "mbpp-plus"}


def task_names() -> list[str]:
    return sorted(REGISTRY)


def get_spec(name: str) -> Spec:
    key = name.strip().lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    if key not in REGISTRY:
        raise ConfigError(f"unknown task {name!r}; known: {', '.join(task_names())}")
    return REGISTRY[key]


# ---------------------------------------------------------------- locating data


def _walk_up(start: Path) -> Iterable[Path]:
    start = start.resolve()
    yield start
    yield from start.parents


def data_dir_candidates() -> list[tuple[str, Path]]:
    """(label, folder) pairs in search order; the env var, if set, wins alone."""
    env = os.environ.get("MASTUNE_DATA_DIR")
    if env:
        return [("$MASTUNE_DATA_DIR", Path(env).expanduser())]
    found: list[tuple[str, Path]] = []
    for label, start in (("shared/data above the working directory", Path.cwd()),
                         ("shared/data above the mastune package", Path(__file__).parent)):
        for d in _walk_up(start):
            cand = d / "shared" / "data"
            if cand.is_dir():
                if all(cand != p for _, p in found):
                    found.append((label, cand))
                break
    return found


def _offline() -> bool:
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes")
               for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "MASTUNE_OFFLINE"))


def _from_hub(spec: Spec) -> list[Row]:
    if _offline():
        raise RuntimeError("skipped: offline mode (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE / MASTUNE_OFFLINE)")
    try:
        import datasets  # optional dependency
    except ImportError as e:
        raise RuntimeError("the `datasets` package is not installed (pip install datasets)") from e
    rows: list[Row] = []
    for dataset, config, split in spec.hub:
        part = datasets.load_dataset(dataset, config, split=split)
        for r in part:
            r = dict(r)
            if spec.hub_subject_configs:
                r.setdefault("subject", config)
            rows.append(r)
    return rows


def _in_folder(spec: Spec, folder: Path) -> Path | None:
    for rel in spec.files:
        if (folder / rel).is_file():
            return folder / rel
    return None


def find_rows(spec: Spec, path: str | os.PathLike | None = None) -> tuple[list[Row], str]:
    """Rows for `spec` and a description of where they came from."""
    tried: list[str] = []
    if path is not None:
        p = Path(path).expanduser()
        if p.is_file():
            return read_rows(p), p.name
        if p.is_dir():
            hit = _in_folder(spec, p) or (_in_folder(spec, p / "data") if (p / "data").is_dir() else None)
            if hit:
                return read_rows(hit), str(hit.relative_to(p))
            tried.append(f"path {p}: no {' or '.join(spec.files)} inside")
        else:
            tried.append(f"path {p}: does not exist")
        # An explicit path that fails is an error: silently using other data would mislead.
        raise _not_found(spec, tried)
    cands = data_dir_candidates()
    if not cands:
        tried.append("shared/data: none found above the working directory or the mastune package "
                     "($MASTUNE_DATA_DIR not set)")
    for label, folder in cands:
        hit = _in_folder(spec, folder)
        if hit:
            return read_rows(hit), f"shared data: {'/'.join(hit.parts[-2:])}"
        tried.append(f"{label} ({folder}): no {spec.files[0]}")
    try:
        rows = _from_hub(spec)
        return rows, f"hub: {spec.hub[0][0]}"
    except Exception as e:  # any hub failure becomes one line of the final error
        tried.append(f"Hugging Face hub {spec.hub[0][0]}: {type(e).__name__}: {e}")
    raise _not_found(spec, tried)


def _not_found(spec: Spec, tried: list[str]) -> DataNotFound:
    lines = "\n".join(f"  - {t}" for t in tried)
    return DataNotFound(
        f"no data found for task {spec.name!r}. Tried:\n{lines}\n"
        f"Fix: set MASTUNE_DATA_DIR to a folder holding {spec.files[0]}, or pass --data-path FILE "
        f"(path=... in Python), or install `datasets` and go online to read {spec.hub[0][0]}."
    )


# ---------------------------------------------------------------- public API


def get_task(name: str, *, path: str | os.PathLike | None = None, split: str | None = None, seed: int = 0,
             limit: int | None = None, fractions: dict[str, float] | None = None, **options: Any) -> Task:
    """Load a benchmark as a `Task` (examples + where they came from).

    split: None/"all", or "train"/"valid"/"test" of the seeded split (splits.py).
    limit: keep the first `limit` examples (after splitting), in dataset order.
    options go to the loader, e.g. drop_flawed=True or subjects=[...] for MMLU-Redux.
    """
    spec = get_spec(name)
    allowed = [p for p in inspect.signature(spec.build).parameters if p != "rows"]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(f"task {spec.name!r} has no option(s) {unknown}; it takes {allowed or 'none'}")
    rows, source = find_rows(spec, path)
    examples = spec.build(rows, **options)
    if split not in (None, "all"):
        examples = split_examples(examples, split, seed=seed, fractions=fractions)
    if limit is not None:
        examples = examples[: max(0, limit)]
    return Task(spec.name, spec.family, examples, source)


def load_task(name: str, *, path: str | os.PathLike | None = None, split: str | None = None, seed: int = 0,
              limit: int | None = None, **options: Any) -> list[Example]:
    """Examples of a benchmark; see `get_task` for the arguments."""
    return get_task(name, path=path, split=split, seed=seed, limit=limit, **options).examples
