"""Code grading in the real sandbox (a dozen short sandbox runs, one 5 s timeout)."""
import json
import re

import pytest

pytest.importorskip("mastune.sandbox")

from mastune.tasks.base import Example, GradingError  # noqa: E402
from mastune.tasks.code import cache_dir, grade_code  # noqa: E402
from mastune.tasks.datasets import data_dir_candidates, load_task  # noqa: E402
from mastune.tasks.grade import grade  # noqa: E402

needs_shared = pytest.mark.skipif(not data_dir_candidates(), reason="shared benchmark data not found")


@pytest.fixture(autouse=True, scope="module")
def _cache(tmp_path_factory):
    # Keep expected outputs of these tests out of the user's cache.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MASTUNE_CACHE_DIR", str(tmp_path_factory.mktemp("mastune-cache")))
        yield


@pytest.fixture(scope="module")
def he():
    if not data_dir_candidates():
        pytest.skip("shared benchmark data not found")
    return {e.id: e for e in load_task("humaneval-plus")}


def fenced(code):
    return f"Here is my solution:\n```python\n{code}\n```\nIt sorts first."


WRONG_TRUNCATE = "def truncate_number(number: float) -> float:\n    return number % 1.0 if number < 1e6 else 0.0\n"


@needs_shared
@pytest.mark.parametrize("task_id", ["HumanEval/0", "HumanEval/2"])
async def test_canonical_solution_passes(he, task_id):
    ex = he[task_id]
    g = await grade_code(ex, fenced(ex.meta["reference"]))
    assert g.correct and g.parsed and g.method == "code", g.detail
    n = len(ex.meta["base_input"]) + len(ex.meta["plus_input"])
    assert g.detail == f"inputs: {n} passed of {n}"


@needs_shared
async def test_subtly_wrong_passes_base_but_fails_plus(he):
    ex = he["HumanEval/2"]
    g = await grade_code(ex, fenced(WRONG_TRUNCATE))
    assert g.parsed and not g.correct
    assert "got 0.0, expected" in g.detail
    assert re.search(r", [1-9][0-9]* failed", g.detail), g.detail
    base_only = await grade_code(ex, fenced(WRONG_TRUNCATE), plus=False)
    assert base_only.correct, base_only.detail


@needs_shared
async def test_syntax_error_fails(he):
    g = await grade_code(he["HumanEval/0"], fenced("def has_close_elements(numbers, threshold:\n    return False"))
    assert g.parsed and not g.correct and "SyntaxError" in g.detail


@needs_shared
async def test_infinite_loop_times_out(he):
    g = await grade_code(he["HumanEval/2"], fenced("def truncate_number(number):\n    while True:\n        pass"))
    assert g.parsed and not g.correct and g.detail.startswith("timeout")


@needs_shared
async def test_unparsed_reply(he):
    g = await grade_code(he["HumanEval/0"], "Sorry, I cannot write code today.")
    assert not g.parsed and not g.correct and g.predicted is None


@needs_shared
async def test_body_only_completion_and_prompt_helpers(he):
    ex = he["HumanEval/2"]
    assert (await grade_code(ex, "    return number % 1.0\n")).correct
    # find_zero relies on the prompt's `poly` helper; the root oracle accepts
    # outputs that differ from the reference's as long as poly(root) ~ 0.
    newton = (
        "def find_zero(xs):\n"
        "    dxs = [i * c for i, c in enumerate(xs)][1:]\n"
        "    x = 0.0\n"
        "    for _ in range(1000):\n"
        "        fx = poly(xs, x)\n"
        "        if abs(fx) < 1e-9:\n"
        "            break\n"
        "        x -= fx / poly(dxs, x)\n"
        "    return x\n"
    )
    g = await grade_code(he["HumanEval/32"], fenced(newton))
    assert g.correct, g.detail


@needs_shared
async def test_printing_a_fake_result_line_does_not_help(he):
    fake = "@@MASTUNE@@" + json.dumps({"defined": True, "passed": 9, "failed": 0, "skipped": 0, "n_inputs": 9,
                                       "tests_ok": True, "timeout": False, "first_failure": ""})
    code = (f"import atexit\natexit.register(print, {fake!r})\nprint({fake!r})\n"
            f"def truncate_number(number):\n    print({fake!r})\n    return 0.0\n")
    g = await grade_code(he["HumanEval/2"], fenced(code))
    assert not g.correct


@needs_shared
async def test_expected_outputs_cached_as_text_once(he):
    import asyncio

    ex = he["HumanEval/0"]
    reply = fenced(ex.meta["reference"])
    grades = await asyncio.gather(*[grade_code(ex, reply) for _ in range(3)])
    assert all(g.correct for g in grades)
    files = sorted(cache_dir().glob("HumanEval_0-*.json"))
    assert len(files) == 1  # base+plus; the base-only run of another test would be a separate key
    assert files[0].stat().st_mode & 0o077 == 0  # for the library's eyes only
    data = json.loads(files[0].read_text())
    assert all(data["ok"]) and len(data["values"]) == len(data["times"]) == 7 + len(ex.meta["plus_input"])
    before = files[0].stat().st_mtime_ns
    assert (await grade_code(ex, reply)).correct
    assert files[0].stat().st_mtime_ns == before


def test_sync_grade_runs_the_sandbox_outside_a_loop(he):
    assert grade(he["HumanEval/2"], fenced("def truncate_number(number):\n    return number - int(number)")).correct


# ---------------------------------------------------------------- MBPP+-style rows (synthetic)


def _mbpp_example(tmp_path, **over):
    row = {
        "task_id": "Mbpp/2",
        "prompt": '"""\nWrite a function to find the shared elements from the given two lists.\n"""\n',
        "code": "def similar_elements(test_tup1, test_tup2):\n  return tuple(set(test_tup1) & set(test_tup2))\n",
        "entry_point": "similar_elements",
        "test_list": ["assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))"],
        "base_input": [[[3, 4, 5, 6], [5, 7, 4, 10]]],
        "plus_input": [[[1, 2, 9], [2, 3, 9]], [[], [1]]],
        "atol": 0,
    }
    row.update(over)
    p = tmp_path / "MbppPlus.jsonl"
    p.write_text(json.dumps(row) + "\n")
    (ex,) = load_task("mbpp-plus", path=p)
    return ex


async def test_mbpp_tuple_inputs_and_set_oracle(tmp_path):
    ex = _mbpp_example(tmp_path)
    ok = ("def similar_elements(a, b):\n    assert isinstance(a, tuple)\n"
          "    return sorted(set(a) & set(b), reverse=True)\n")
    g = await grade_code(ex, fenced(ok))
    assert g.correct, g.detail
    g = await grade_code(ex, fenced("def similar_elements(a, b):\n    return tuple(a)"))
    assert not g.correct and g.parsed


async def test_reference_failure_is_a_grading_error_not_a_wrong_answer(tmp_path):
    ex = _mbpp_example(tmp_path, code="def similar_elements(a, b:\n  pass\n")
    with pytest.raises(GradingError):
        await grade_code(ex, fenced("def similar_elements(a, b):\n    return ()"))


async def test_nothing_to_test_is_a_grading_error(tmp_path):
    ex = _mbpp_example(tmp_path, test_list=[], base_input=[], plus_input=[])
    with pytest.raises(GradingError, match="nothing to grade"):
        await grade_code(ex, fenced("def similar_elements(a, b):\n    return ()"))


async def test_float_outputs_compared_with_tolerance(tmp_path):
    ex = _mbpp_example(tmp_path, task_id="Mbpp/900", entry_point="avg", test_list=[],
                       code="def avg(xs):\n    return sum(xs) / len(xs)\n",
                       base_input=[[[1, 2, 4]], [[0.1, 0.2]]], plus_input=[[[1e9, 3]]])
    near = "def avg(xs):\n    return sum(xs) / len(xs) * (1 + 1e-9)\n"
    assert (await grade_code(ex, fenced(near))).correct
    off = "def avg(xs):\n    return round(sum(xs) / len(xs), 2)\n"
    assert not (await grade_code(ex, fenced(off))).correct
    assert not (await grade_code(ex, fenced("def avg(xs):\n    return [sum(xs) / len(xs)]\n"))).correct


def test_example_equality_ignores_meta():
    ex = Example("x", "q", "a", "code", {"entry_point": "f"})
    assert ex == Example("x", "q", "a", "code", {"other": 1})


# ---------------------------------------------------------------- asserts become input/expected pairs


def test_check_asserts_become_calls_of_the_entry_point(he):
    from mastune.tasks.code import assert_calls

    calls = assert_calls(he["HumanEval/0"])
    assert len(calls) == 7 and all(c.startswith("has_close_elements(") for c in calls)
    ex = _mbpp_like("f", "assert f(1) == 2\nassert math.isclose(f(2.5), 3.5)\nassert f(f(0)) == 2\n")
    assert assert_calls(ex) == ["f(1)", "f(2.5)", "f(f(0))"]


def _mbpp_like(ep, test, code="def f(x):\n    return x + 1\n"):
    return Example("Mbpp/9999", "p", code, "code", {"entry_point": ep, "test": test, "test_kind": "asserts",
                                                   "reference": code, "base_input": [], "plus_input": []})


async def test_assert_only_rows_are_graded_against_the_reference():
    ex = _mbpp_like("f", "import math\nassert f(1) == 2\nassert f(-4) == -3\n")
    assert (await grade_code(ex, fenced("def f(x):\n    return 1 + x\n"))).correct
    g = await grade_code(ex, fenced("def f(x):\n    return 2\n"))
    assert not g.correct and "expected -3" in g.detail


MBPP_ROWS = [
    {"task_id": "Mbpp/2", "prompt": "shared elements", "entry_point": "similar_elements",
     "code": "def similar_elements(a, b):\n  return tuple(set(a) & set(b))\n",
     "test_list": ["assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))"],
     "base_input": [[[3, 4, 5, 6], [5, 7, 4, 10]]], "plus_input": [[[1, 2, 9], [2, 3, 9]], [[], [1]]], "atol": 0},
    {"task_id": "Mbpp/3", "prompt": "not prime", "entry_point": "is_not_prime",
     "code": "def is_not_prime(n):\n    return n < 2 or any(n % i == 0 for i in range(2, int(n ** 0.5) + 1))\n",
     "test_list": ["assert is_not_prime(2) == False"], "base_input": [[2], [10], [35]],
     "plus_input": [[7919], [1], [0]], "atol": 0},
    {"task_id": "Mbpp/17", "prompt": "square perimeter", "entry_point": "square_perimeter",
     "code": "def square_perimeter(a):\n  return 4 * a\n", "test_list": ["assert square_perimeter(10)==40"],
     "base_input": [[10], [5]], "plus_input": [[0.1], [1e9]], "atol": 1e-6},
    {"task_id": "Mbpp/786", "prompt": "text match", "entry_point": "check_str",
     "code": "import re\ndef check_str(s):\n    return re.search('^[aeiouAEIOU][A-Za-z0-9_]*', s)\n",
     "test_list": ["assert check_str('annie')"], "base_input": [["annie"], ["dawood"]], "plus_input": [["Else"]],
     "atol": 0},
    {"task_id": "Mbpp/4", "prompt": "largest n", "entry_point": "heap_queue_largest",
     "code": "import heapq\ndef heap_queue_largest(nums, n):\n  return heapq.nlargest(n, nums)\n",
     "test_list": ["assert heap_queue_largest([25, 35, 22, 85, 14, 65, 75, 22, 58], 3) == [85, 75, 65]"],
     "base_input": [], "plus_input": [], "atol": 0},
]


async def test_mbpp_file_canonical_solutions_pass_and_wrong_ones_fail(tmp_path):
    p = tmp_path / "MbppPlus.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in MBPP_ROWS))
    exs = load_task("mbpp-plus", path=p)
    for ex in exs:
        g = await grade_code(ex, fenced(ex.meta["reference"]))
        assert g.correct, (ex.id, g.detail)
    wrong = {"Mbpp/2": "def similar_elements(a, b):\n  return tuple(a)\n",
             "Mbpp/3": "def is_not_prime(n):\n    return n % 2 == 0\n",
             "Mbpp/17": "def square_perimeter(a):\n  return 4 * a + 1e-3\n",
             "Mbpp/786": "def check_str(s):\n    return None\n",
             "Mbpp/4": "def heap_queue_largest(nums, n):\n  return sorted(nums)[:n]\n"}
    for ex in exs:
        g = await grade_code(ex, fenced(wrong[ex.id]))
        assert g.parsed and not g.correct, (ex.id, g.detail)
