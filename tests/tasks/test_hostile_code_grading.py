"""Code grading against hostile replies and hostile hosts (issue 41): the sandbox runs here.

Exactness where the answer is exact, items a constant reply passes flagged,
the task's own data masked wherever it lives (or grading refused), a forged
reference channel reported as a grading fault, right answers behind a
byte-order mark read, and deeply nested code graded rather than raised.
"""
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("mastune.sandbox")

from mastune.tasks.base import Example, GradingError  # noqa: E402
from mastune.tasks.code import cache_dir, grade_code  # noqa: E402
from mastune.tasks.datasets import data_dir_candidates, load_task  # noqa: E402

needs_data = pytest.mark.skipif(not data_dir_candidates(), reason="shared benchmark data not found")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MASTUNE_CACHE_DIR", str(tmp_path / "mastune-cache"))


@pytest.fixture(scope="module")
def he():
    if not data_dir_candidates():
        pytest.skip("shared benchmark data not found")
    return {e.id: e for e in load_task("humaneval-plus")}


RIGHT = "def truncate_number(number: float) -> float:\n    return number % 1.0\n"


# ---------------------------------------------------------------- 1. an int expected is exact


@needs_data
async def test_a_float_one_off_a_large_fibonacci_number_is_wrong(he):
    reply = ("```python\ndef fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n"
             "    return float(a + 1) if a > 10**6 else a\n```")
    g = await grade_code(he["HumanEval/55"], reply)
    assert g.parsed and not g.correct and "expected" in g.detail, g.detail
    exact = reply.replace("float(a + 1) if a > 10**6 else a", "a")
    assert (await grade_code(he["HumanEval/55"], exact)).correct


# ---------------------------------------------------------------- 3. items a constant reply passes


def mbpp_rows():
    return [
        {"task_id": "Mbpp/295", "prompt": "Return the sum of all divisors of a number.", "entry_point": "sum_div",
         "code": "def sum_div(number):\n    return sum(i for i in range(1, number) if number % i == 0)\n",
         "base_input": [[8], [12], [7]], "plus_input": [[100]], "atol": 0},
        {"task_id": "Mbpp/164", "prompt": "Are the divisor sums of two integers the same?",
         "entry_point": "are_equivalent",
         "code": ("def div_sum(n):\n    return sum(i for i in range(1, n) if n % i == 0)\n"
                  "def are_equivalent(a, b):\n    return div_sum(a) == div_sum(b)\n"),
         "base_input": [[36, 57], [2, 4], [23, 47]], "plus_input": [], "atol": 0},
        {"task_id": "Mbpp/901", "prompt": "Double a number.", "entry_point": "double",
         "code": "def double(x):\n    return 2 * x\n", "base_input": [[1], [2], [5]], "plus_input": [], "atol": 0},
    ]


@pytest.fixture
def mbpp(tmp_path):
    path = tmp_path / "MbppPlus.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in mbpp_rows()))
    return {e.id: e for e in load_task("mbpp-plus", path=path)}


@pytest.mark.parametrize("item,constant", [("Mbpp/295", "0"), ("Mbpp/164", "None"), ("Mbpp/164", "'anything'")])
async def test_a_constant_reply_keeps_the_benchmark_rule_but_is_flagged(mbpp, item, constant):
    ex = mbpp[item]
    g = await grade_code(ex, f"```python\ndef {ex.meta['entry_point']}(*args):\n    return {constant}\n```")
    assert g.correct, g.detail  # evaluation keeps the benchmark's own oracle...
    assert "constant_answerable" in g.flags and "constant reply" in g.detail  # ...and says why it passed


async def test_every_input_expecting_one_value_is_flagged_too(tmp_path):
    row = {"task_id": "Mbpp/900", "prompt": "Is it an int?", "entry_point": "is_int", "atol": 0,
           "code": "def is_int(x):\n    return isinstance(x, int)\n", "base_input": [[1], [2], [3]], "plus_input": []}
    (tmp_path / "m.jsonl").write_text(json.dumps(row) + "\n")
    ex = load_task("mbpp-plus", path=tmp_path / "m.jsonl")[0]
    g = await grade_code(ex, "```python\ndef is_int(x):\n    return True\n```")
    assert g.correct and g.flags == ("constant_expected",), g
    assert (await grade_code(ex, "```python\ndef is_int(x):\n    return False\n```")).flags == ("constant_expected",)
    assert ex.meta.get("constant_answerable") is None


async def test_an_ordinary_item_carries_no_flag(mbpp):
    g = await grade_code(mbpp["Mbpp/901"], "```python\ndef double(x):\n    return x + x\n```")
    assert g.correct and g.flags == ()


# ---------------------------------------------------------------- 4. the task's data, wherever it lives


@pytest.fixture
def exposed(monkeypatch):
    """A world-readable folder the sandbox shows, as it shows the Python prefix, /usr or /etc."""
    from mastune.sandbox import host

    d = tempfile.mkdtemp(prefix="mastune-exposed-")
    os.chmod(d, 0o755)
    real = host._python_paths
    monkeypatch.setattr(host, "_python_paths", lambda: real() + [d])
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


def _he_row(task_id="HumanEval/2"):
    from mastune.tasks.datasets import read_rows
    from mastune.tasks.datasets.code import SPECS

    folder = data_dir_candidates()[0][1]
    src = next(folder / rel for rel in SPECS[0].files if (folder / rel).is_file())
    return next(r for r in read_rows(src) if r["task_id"] == task_id)


THIEF = '''
import glob, gzip, json
def _rows(path):
    raw = open(path, "rb").read()
    text = (gzip.decompress(raw) if path.endswith(".gz") else raw).decode()
    return [json.loads(line) for line in text.splitlines() if line.strip()]
try:
    _row = next(r for p in sorted(glob.glob({pattern!r}, recursive=True)) for r in _rows(p))
    exec(_row["prompt"] + _row["canonical_solution"])
except Exception:
    def truncate_number(number):
        return -1.0
'''


@needs_data
@pytest.mark.parametrize("where", ["top", "subfolder", "gz_copy_beside", "linked_name"])
async def test_the_reply_cannot_read_the_tasks_data_file_wherever_it_lives(exposed, where):
    row = json.dumps(_he_row()) + "\n"
    folder = exposed / "share" / "humanevalplus" if where == "subfolder" else exposed
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "HumanEvalPlus.jsonl"
    data.write_text(row)
    load_from = data
    if where == "gz_copy_beside":  # another format of the same data next to the one loaded
        import gzip

        (folder / "HumanEvalPlus.jsonl.gz").write_bytes(gzip.compress(row.encode()))
        pattern = str(folder / "*.gz")
    elif where == "linked_name":  # loaded through a symlink: the file itself is masked
        (exposed / "data-link.jsonl").symlink_to(data)
        load_from, pattern = exposed / "data-link.jsonl", str(data)
    else:
        pattern = str(data)
    for p in (exposed, *data.relative_to(exposed).parents):
        os.chmod(exposed / p, 0o755)
    ex = load_task("humaneval-plus", path=load_from)[0]
    g = await grade_code(ex, f"```python\n{THIEF.format(pattern=pattern)}\n```")
    assert g.parsed and not g.correct and "got -1.0" in g.detail, (where, g.detail)
    assert (await grade_code(ex, f"```python\n{RIGHT}```")).correct  # the masks do not break a right reply


@needs_data
async def test_the_reply_cannot_read_reference_outputs_cached_under_a_shown_folder(exposed, monkeypatch, he):
    monkeypatch.setenv("MASTUNE_CACHE_DIR", str(exposed / "cache"))
    ex = he["HumanEval/2"]
    assert (await grade_code(ex, f"```python\n{RIGHT}```")).correct  # warms the cache
    for d in (exposed / "cache", cache_dir()):  # even when someone made it readable
        os.chmod(d, 0o755)
    files = list(cache_dir().glob("*.json"))
    assert files
    for f in files:
        os.chmod(f, 0o644)
    thief = (
        "import glob, json\n"
        "from mastune_plain import from_tree\n"
        "CALLS = json.load(open('calls.json'))['calls']\n"
        "VALUES = []\n"
        f"for p in glob.glob({str(exposed / 'cache' / '**' / '*.json')!r}, recursive=True):\n"
        "    VALUES = [from_tree(v) for v in json.load(open(p))['values']]\n"
        "def truncate_number(number):\n"
        "    for c, v in zip(CALLS, VALUES):\n"
        "        if c['args'][0] == number:\n"
        "            return v\n"
        "    return -1.0\n"
    )
    g = await grade_code(ex, f"```python\n{thief}```")
    assert g.parsed and not g.correct and "got -1.0" in g.detail, g.detail


@needs_data
async def test_grading_is_refused_where_the_data_cannot_be_masked(exposed, monkeypatch):
    import dataclasses

    from mastune.tasks import code

    data = exposed / "HumanEvalPlus.jsonl"
    data.write_text(json.dumps(_he_row()) + "\n")
    ex = load_task("humaneval-plus", path=data)[0]
    real = code.arun_calls

    async def without_mount_namespace(*a, **kw):  # a host where only the uid drop isolates the code
        res = await real(*a, **kw)
        iso = tuple(i for i in res.sandbox.isolation if i != "mntns")
        return dataclasses.replace(res, sandbox=dataclasses.replace(res.sandbox, isolation=iso))

    monkeypatch.setattr(code, "arun_calls", without_mount_namespace)
    with pytest.raises(GradingError, match="mount namespace"):
        await grade_code(ex, f"```python\n{THIEF.format(pattern=str(data))}\n```")
    os.chmod(data, 0o600)  # private to the library's user: unreadable for the sandbox's uid, so gradable
    assert not (await grade_code(ex, f"```python\n{THIEF.format(pattern=str(data))}\n```")).correct


# ---------------------------------------------------------------- 14. a forged reference channel


async def test_a_tampered_reference_run_is_a_grading_error(monkeypatch):
    from mastune.sandbox.calls import _tampered
    from mastune.sandbox.limits import SandboxResult
    from mastune.tasks import code

    async def forged(sources, calls, **kw):
        return _tampered(len(calls), SandboxResult("ok", 0, "", "", 0.0, ("uid",), 12345))

    monkeypatch.setattr(code, "arun_calls", forged)
    ex = Example("T/1", "q", "def f(x):\n    return x\n", "code",
                 {"entry_point": "f", "reference": "def f(x):\n    return x\n", "base_input": [[1], [2]]})
    with pytest.raises(GradingError, match="reference outputs for T/1.*other than the runner"):
        await grade_code(ex, "```python\ndef f(x):\n    return x\n```")


# ---------------------------------------------------------------- 15. a byte-order mark before right code


@needs_data
@pytest.mark.parametrize("reply", [
    "```python\n\ufeff" + RIGHT + "```",
    "\ufeff" + RIGHT,
    "Here it is:\n\ufeff" + RIGHT + "\nDone.",
    "\ufeff    return number % 1.0\n",
    "\ufeff\ufeff```python\n\ufeffimport math\n" + RIGHT + "```",
], ids=["inside-fence", "bare", "after-prose", "body-only", "several"])
async def test_a_right_reply_behind_a_byte_order_mark_passes(he, reply):
    g = await grade_code(he["HumanEval/2"], reply)
    assert g.correct, g.detail


# ---------------------------------------------------------------- 7. deeply nested code


@needs_data
@pytest.mark.parametrize("reply", [
    "def truncate_number(number):\n    return number" + ".real" * 60_000 + "\n\nThis returns the number.",
    "```python\ndef truncate_number(number):\n    return " + "1+" * 60_000 + "1\n```",
    "    return " + "-" * 100_000 + "1\n",
], ids=["bare-attributes", "fenced-additions", "body-only-unary"])
async def test_deeply_nested_code_is_a_wrong_answer_with_a_reason(he, reply):
    g = await grade_code(he["HumanEval/2"], reply)
    assert not g.correct and g.detail, g


# ---------------------------------------------------------------- 9. big outputs are decoded off the event loop


@needs_data
@pytest.mark.timeout(300)
async def test_decoding_big_set_outputs_never_stalls_the_event_loop(he):
    import asyncio
    import time

    worst, done = 0.0, False

    async def ticker():  # how long the loop goes without running a 10 ms ticker
        nonlocal worst
        last = time.monotonic()
        while not done:
            await asyncio.sleep(0.01)
            worst, last = max(worst, time.monotonic() - last), time.monotonic()

    reply = ("```python\n_n = [0]\ndef truncate_number(number):\n    _n[0] += 1\n"
             "    return set(range(40_000)) if _n[0] <= 200 else number % 1.0\n```")
    t = asyncio.create_task(ticker())
    try:
        g = await grade_code(he["HumanEval/2"], reply)
    finally:
        done = True
        await t
    assert not g.correct and "got {0, 1, 2" in g.detail, g.detail
    assert worst < 0.5, worst
