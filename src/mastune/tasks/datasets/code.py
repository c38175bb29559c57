"""Code benchmarks: HumanEval+ and MBPP+ (evalplus formats).

A code item's `answer` is its reference program; grading runs the candidate in
the sandbox (tasks/code.py) on the base and plus inputs kept in `meta`.
"""
from __future__ import annotations

import json
import re
from typing import Any

from ...errors import DataError
from ..base import Example
from .files import Row, need
from .spec import Spec


def _maybe_json(v: Any, default: Any, i: int = -1, key: str = "") -> Any:
    if v is None or v == "":
        return default
    if not isinstance(v, str):
        return v
    try:
        return json.loads(v)
    except json.JSONDecodeError as e:
        raise DataError(f"row {i + 1}: field {key!r} is not valid JSON ({e.msg})") from None


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.M) is not None


def reference_program(prompt: str, solution: str, entry_point: str) -> str:
    """A complete program: HumanEval solutions are bodies that follow the prompt."""
    return solution if _defines(solution, entry_point) else prompt + solution


def _humaneval(rows: list[Row]) -> list[Example]:
    out = []
    for i, r in enumerate(rows):
        prompt, ep = str(need(r, "prompt", i)), str(need(r, "entry_point", i))
        canon = str(r.get("canonical_solution", ""))
        meta = {"task": "humaneval-plus", "dataset": "humaneval", "prompt": prompt, "entry_point": ep,
                "test": r.get("test", ""), "test_kind": "check", "canonical_solution": canon,
                "reference": reference_program(prompt, canon, ep), "contract": r.get("contract", ""),
                "base_input": _maybe_json(r.get("base_input"), [], i, "base_input"),
                "plus_input": _maybe_json(r.get("plus_input"), [], i, "plus_input"),
                "atol": float(r.get("atol") or 0), "oracle": "poly_root" if ep == "find_zero" else None,
                "input_transform": None}
        out.append(Example(str(need(r, "task_id", i)), prompt, meta["reference"], "code", meta))
    return out


# MBPP+ stores tuples/sets/complex numbers as JSON lists/strings; these tables
# (task number -> how to rebuild the arguments) follow the evalplus data format.
# The rebuilding itself happens inside the sandbox call runner (sandbox/callrunner.py).
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

# Oracles a constant reply passes: as rewards they would teach the constant. evalplus's
# MBPP+ items under them are listed (by entry point, so a renumbered file is caught too).
CONSTANT_ORACLES = {
    "always_true": "its oracle accepts any output",
    "or_zero": "its oracle accepts 0 on every input",
}
CONSTANT_ANSWERABLE = {
    "Mbpp/164": "are_equivalent: " + CONSTANT_ORACLES["always_true"],
    "Mbpp/295": "sum_div: " + CONSTANT_ORACLES["or_zero"],
}


def _infer_entry_point(code: str, tests: list[str]) -> str:
    defs = re.findall(r"^def\s+(\w+)\s*\(", code, re.M)
    called = set(re.findall(r"(\w+)\s*\(", "\n".join(tests)))
    for d in defs:
        if d in called:
            return d
    if defs:
        return defs[-1]
    raise DataError("cannot find the entry point of an MBPP+ row (no 'def' in its code; add 'entry_point')")


def _mbpp(rows: list[Row]) -> list[Example]:
    out = []
    for i, r in enumerate(rows):
        code = str(r.get("code") or r.get("canonical_solution") or "")
        tests = [str(t) for t in (_maybe_json(r.get("test_list"), [], i, "test_list") or [])]
        try:
            ep = str(r.get("entry_point") or _infer_entry_point(code, tests))
        except DataError as e:
            raise DataError(f"row {i + 1}: {e}") from None
        tid = str(need(r, "task_id", i))
        tid = tid if "/" in tid else f"Mbpp/{tid}"
        num = int(tid.split("/")[-1]) if tid.split("/")[-1].isdigit() else None
        raw_prompt = str(r.get("prompt") or r.get("text") or "")
        # evalplus wraps the task text in a docstring; show the model plain text.
        prompt = raw_prompt.strip()
        prompt = prompt.strip('"').strip() if prompt.startswith('"""') else prompt
        imports = "\n".join(_maybe_json(r.get("test_imports"), [], i, "test_imports") or [])
        if tests:
            test, kind = (imports + "\n" if imports else "") + "\n".join(tests), "asserts"
        else:
            test, kind = str(r.get("test") or ""), "script"
        meta = {"task": "mbpp-plus", "dataset": "mbpp", "prompt": raw_prompt, "entry_point": ep, "test": test,
                "test_kind": kind, "canonical_solution": code, "reference": code,
                "base_input": _maybe_json(r.get("base_input"), [], i, "base_input"),
                "plus_input": _maybe_json(r.get("plus_input"), [], i, "plus_input"),
                "atol": float(r.get("atol") or 0), "oracle": _MBPP_ORACLES.get(ep),
                "input_transform": _MBPP_TRANSFORM.get(num)}
        meta["constant_answerable"] = CONSTANT_ORACLES.get(meta["oracle"])
        out.append(Example(tid, prompt, code, "code", meta))
    return out


SPECS = (
    Spec("humaneval-plus", "code",
         ("humanevalplus/HumanEvalPlus-v0.1.10.jsonl.gz", "humanevalplus/HumanEvalPlus.jsonl.gz",
          "humanevalplus/HumanEvalPlus.jsonl"),
         (("evalplus/humanevalplus", None, "test"),), _humaneval),
    Spec("mbpp-plus", "code",
         ("mbppplus/MbppPlus.jsonl", "mbppplus/MbppPlus.jsonl.gz", "mbppplus/MbppPlus-v0.2.0.jsonl",
          "mbppplus/MbppPlus-v0.1.0.jsonl"),
         (("evalplus/mbppplus", None, "test"),), _mbpp),
)
ALIASES = {"humaneval+": "humaneval-plus", "humanevalplus": "humaneval-plus", "mbpp+": "mbpp-plus",
           "mbppplus": "mbpp-plus"}
