"""Code grading (HumanEval+ / MBPP+): the sandbox computes, the library judges.

As in evalplus, a reply is correct when its function gives the reference
output on every base (+ plus) input. Two sandbox runs of the same call runner
(`mastune.sandbox.calls`), each returning outputs as plain data:
- the reference solution on the inputs (once per task and input set, cached
  on disk, never staged into a sandbox again);
- the reply's code on the same inputs.
The comparison happens here, in the library process (`code_compare`). Nothing
the reply prints, forks, imports or overrides can change an expected value
or the comparison: they never exist inside its sandbox.

Items without inputs (a user's MBPP-style file with only asserts) get their
inputs from the asserts: each call of the entry point becomes one input and
its expected value comes from the reference solution, like the others.
"""
from __future__ import annotations

import ast
import asyncio
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..sandbox import SandboxError, SandboxLimits, arun_calls, plain, private_channel
from ..settings import home_dir
from .base import Example, Grade, GradingError
from .code_compare import same
from .extract import PARSE_ERRORS, extract_code, parses, strip_bom

HARNESS_VERSION = 2  # bump when what the cache holds changes
MIN_INPUT_TIMEOUT_S = 1.0  # per input, as in evalplus (min limit, then factor x reference time)
TIME_FACTOR = 4.0
CAP_S = 60.0  # whole candidate sandbox
MEMORY_MB = 1024
KEEP_OUTPUT_BYTES = 4096  # of what the candidate prints itself (never graded)
RESULT_BYTES = 128_000_000  # the result channel of one run


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^[ \t]*+(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.M) is not None


def _body_only(reply: str, meta: dict) -> str | None:
    """A completion-style reply: just the indented body that follows a HumanEval prompt."""
    reply = strip_bom(reply)
    first = next((ln for ln in reply.splitlines() if ln.strip()), "")
    if meta.get("dataset") != "humaneval" or not first[:1].isspace():
        return None
    return reply if parses(meta.get("prompt", "") + reply) else None


def task_inputs(example: Example, plus: bool = True) -> list:
    m = example.meta
    return list(m.get("base_input") or []) + (list(m.get("plus_input") or []) if plus else [])


def assert_calls(example: Example) -> list[str]:
    """Calls of the entry point inside the asserts of the item's tests (HumanEval
    `check(candidate)` style too), as expression source; outermost calls only."""
    m = example.meta
    ep = m["entry_point"]
    try:
        tree = ast.parse(str(m.get("test") or ""))
    except PARSE_ERRORS:
        return []
    names = {ep, "candidate"}
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names:
            node.func = ast.Name(id=ep, ctx=ast.Load())
            found.append(ast.unparse(node))
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    try:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assert):
                visit(node.test)
    except RecursionError:
        return []
    return list(dict.fromkeys(found))


def task_calls(example: Example, plus: bool = True) -> list[dict]:
    inputs = task_inputs(example, plus)
    if inputs:
        return [{"args": a} for a in inputs]
    return [{"eval": src} for src in assert_calls(example)]


def _project(example: Example, reference: bool) -> str | None:
    if example.meta.get("oracle") != "not_none":
        return None
    return "is_not_none" if reference else "bool_or_not_none"


# ---------------------------------------------------------------- expected outputs


@dataclass(frozen=True)
class Expected:
    ok: list[bool]  # False: the reference failed on this input (it is not graded)
    values: list[Any]
    times: list[float]
    errors: list[tuple[int, str]]


def cache_dir() -> Path:
    return home_dir() / "expected"


def _cache_path(example: Example, calls_json: str) -> Path:
    m = example.meta
    key = _sha(json.dumps({"v": HARNESS_VERSION, "task": example.id, "ref": _sha(m["reference"]),
                           "calls": _sha(calls_json), "transform": m.get("input_transform"),
                           "oracle": m.get("oracle")}, sort_keys=True))
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", example.id)
    return cache_dir() / f"{slug}-{key[:24]}.json"


def _load_cached(path: Path, n: int) -> Expected | None:
    try:
        data = json.loads(path.read_text("utf-8"))
        ok, times = [bool(x) for x in data["ok"]], [float(t) for t in data["times"]]
        values = [plain.from_tree(v) if good else None for v, good in zip(data["values"], ok)]
        errors = [(int(i), str(e)) for i, e in data["errors"]]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None  # missing or torn: recompute
    return Expected(ok, values, times, errors) if len(ok) == len(values) == len(times) == n else None


def _store(path: Path, exp: Expected) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)  # expected outputs are for the library's eyes only
    data = {"ok": exp.ok, "times": exp.times, "errors": [list(e) for e in exp.errors],
            "values": [plain.to_tree(v) if good else None for v, good in zip(exp.values, exp.ok)]}
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps(data))
    os.replace(tmp, path)  # atomic: readers never see half a file


_locks: dict[tuple[int, str], asyncio.Lock] = {}


async def expected_outputs(example: Example, calls: list[dict]) -> Expected:
    """The reference solution's outputs on `calls`, cached on disk."""
    # hashing, reading and decoding large input/output sets happens off the event loop
    path = await asyncio.to_thread(lambda: _cache_path(example, json.dumps(calls)))
    lock = _locks.setdefault((id(asyncio.get_running_loop()), str(path)), asyncio.Lock())
    async with lock:  # concurrent graders of one task compute it once
        exp = await asyncio.to_thread(_load_cached, path, len(calls))
        if exp is None:
            exp = await _run_reference(example, calls)
            await asyncio.to_thread(_store, path, exp)
        return exp


async def _run_reference(example: Example, calls: list[dict]) -> Expected:
    m = example.meta
    n = len(calls)
    limits = SandboxLimits(timeout_s=min(600.0, 60.0 + 0.2 * n), memory_mb=2048, max_output_bytes=RESULT_BYTES)
    try:
        res = await arun_calls([("reference.py", m["reference"], True)], calls, entry_point=m["entry_point"],
                               call_timeouts=[20.0] * n, define_timeout_s=20.0, limits=limits,
                               transform=m.get("input_transform"), project=_project(example, True),
                               restart=True)  # one input that hangs the reference costs only that input
    except SandboxError as e:
        raise GradingError(f"could not run the reference solution of {example.id}: {e}") from e
    if res.stopped == "tampered":  # the reference is trusted code: a forged channel is a fault of the host
        raise GradingError(f"could not compute reference outputs for {example.id}: {res.define_error}")
    if not res.defined:
        why = res.define_error or res.problem or "no result"
        raise GradingError(f"could not compute reference outputs for {example.id}: {why}")
    ok = [c.status == "ok" for c in res.calls]
    errors = [(i, c.error or c.status) for i, c in enumerate(res.calls) if c.status != "ok"]
    if n and not any(ok):
        raise GradingError(f"the reference solution of {example.id} failed on every input, e.g. {errors[0][1]}")
    return Expected(ok, [c.value for c in res.calls], [c.seconds for c in res.calls], errors)


# ---------------------------------------------------------------- grading


def _brief(x: Any, n: int = 150) -> str:
    try:
        s = repr(x)  # plain data only: a builtin repr
    except ValueError:  # an int past Python's int-to-str digit limit
        s = f"<{type(x).__name__} too large to print>"
    return s if len(s) <= n else s[: n - 3] + "..."


def hidden_paths(example: Example) -> list[str]:
    """What code under test must never read: the cache of reference outputs and every data
    file the task was loaded from (it holds the reference solutions), wherever they live."""
    return [str(cache_dir())] + [str(p) for p in example.meta.get("data_files") or ()]


def _readable_by_others(path: str) -> bool:
    """Could another, unprivileged uid read `path` (every directory above searchable, it readable)?"""
    p = os.path.realpath(path)
    try:
        if not os.stat(p).st_mode & stat.S_IROTH:
            return False
        d = os.path.dirname(p)
        while True:
            if not os.stat(d).st_mode & stat.S_IXOTH:
                return False
            if d == os.path.dirname(d):
                return True
            d = os.path.dirname(d)
    except OSError:
        return False


def constant_flags(example: Example, expected: list[Any]) -> tuple[str, ...]:
    """Why a constant reply could pass this item: its oracle says so (a listed MBPP+ item),
    or every graded input expects the same output."""
    flags = []
    if example.meta.get("constant_answerable"):
        flags.append("constant_answerable")
    if len(expected) > 1 and all(type(v) is type(expected[0]) and v == expected[0] for v in expected[1:]):
        flags.append("constant_expected")
    return tuple(flags)


def _prepare(example: Example, reply: str, plus: bool) -> tuple[str | None, list[dict]]:
    m = example.meta
    code = extract_code(reply, m["entry_point"]) or _body_only(reply, m)
    return code, (task_calls(example, plus) if code is not None else [])


async def grade_code(example: Example, reply: str, *, limits: Any = None, plus: bool = True) -> Grade:
    """Grade a reply to a HumanEval+/MBPP+ example.

    Correct = the reply's function gives the reference output on every base
    (+ plus, when `plus`) input the reference itself could run. `limits` (a
    SandboxLimits) replaces the default sandbox limits; its timeout_s is then
    the whole-run budget. Any reply ends as a Grade; GradingError is only for
    faults of the grading itself (reference, sandbox). Extraction, decoding
    and comparison run in worker threads, never on the event loop."""
    m = example.meta
    ep = m["entry_point"]
    if not isinstance(reply, str):
        return Grade(False, False, None, "none", f"the reply is not text ({type(reply).__name__})")
    code, all_calls = await asyncio.to_thread(_prepare, example, reply, plus)
    if code is None:
        return Grade(False, False, None, "none", "no code found in reply")
    if not all_calls:
        raise GradingError(f"{example.id} has neither tests nor inputs: nothing to grade against")
    exp = await expected_outputs(example, all_calls)
    graded = [i for i, good in enumerate(exp.ok) if good]  # expected values stay here, in the library
    calls = [all_calls[i] for i in graded]
    timeouts = [max(MIN_INPUT_TIMEOUT_S, TIME_FACTOR * exp.times[i]) for i in graded]
    budget = min(CAP_S, 10.0 + TIME_FACTOR * sum(exp.times[i] for i in graded) + 0.01 * len(calls))
    sb_limits = limits or SandboxLimits(timeout_s=budget, memory_mb=MEMORY_MB, max_output_bytes=RESULT_BYTES)
    # HumanEval replies often omit the prompt's imports/helpers, or give only the body.
    prompt = m.get("prompt", "") if m.get("dataset") == "humaneval" else ""
    if _defines(code, ep):
        sources = [("prompt.py", prompt, False), ("candidate.py", code, True)]
    else:
        sources = [("candidate.py", prompt + code, True)]
    hide = hidden_paths(example)
    try:
        res = await arun_calls(sources, calls, entry_point=ep, call_timeouts=timeouts,
                               define_timeout_s=min(10.0, sb_limits.timeout_s / 2), limits=sb_limits,
                               transform=m.get("input_transform"), project=_project(example, False),
                               keep_output_bytes=KEEP_OUTPUT_BYTES, hide=hide)
    except SandboxError as e:
        raise GradingError(f"the sandbox failed while grading {example.id}: {e}") from e
    if not private_channel(res.sandbox.isolation):
        raise GradingError(
            "code cannot be graded safely on this host: the sandbox got neither a separate unprivileged uid "
            "(mastune run as root) nor a user namespace with a PID namespace and its own /proc (unprivileged "
            "user namespaces enabled), so the code under test could reach the result channel or the expected "
            f"outputs; isolation here: {', '.join(res.sandbox.isolation) or 'none'}")
    if "mntns" not in res.sandbox.isolation:
        readable = [p for p in hide if _readable_by_others(p)]
        if readable:  # nothing could mask them: the reply could have copied the reference solution
            raise GradingError(
                f"code cannot be graded safely on this host: the sandbox got no mount namespace to mask the data "
                f"of {example.id}, and {readable[0]} is readable by any user (it holds the reference "
                "solutions); make it private to the mastune user or allow mount namespaces")
    return await asyncio.to_thread(_to_grade, example, code, res, [all_calls[i] for i in graded],
                                   [exp.values[i] for i in graded], timeouts, len(all_calls) - len(graded))


def _to_grade(example: Example, code: str, res: Any, calls: list[dict], expected: list[Any],
              timeouts: list[float], skipped: int) -> Grade:
    m = example.meta
    oracle, atol = m.get("oracle"), float(m.get("atol") or 0)
    note = ""
    if res.output_bytes > KEEP_OUTPUT_BYTES:
        note = f"; it printed {res.output_bytes} bytes itself (over the {KEEP_OUTPUT_BYTES}-byte keep limit, not graded)"
    if res.stopped == "tampered":
        return Grade(False, True, code, "code", f"{res.define_error}{note}")
    if not res.defined:
        why = res.define_error or res.problem or "no result"
        prefix = "timeout " if why == "timed out" else ""
        return Grade(False, True, code, "code", f"{prefix}definition failed: {why}{note}")
    passed, first = 0, ""
    counts = {"failed": 0, "not_run": 0}
    for i, (call, out, want) in enumerate(zip(calls, res.calls, expected)):
        where = f"input {i} {_brief(call.get('args', call.get('eval')), 120)}"
        if out.status == "ok" and same(out.value, want, call.get("args"), oracle, atol):
            passed += 1
            continue
        if out.status == "not_run":
            counts["not_run"] += 1
            continue
        counts["failed"] += 1
        if first:
            continue
        if out.status == "ok":
            first = f"{where}: got {_brief(out.value)}, expected {_brief(want)}"
        elif out.status == "timeout":
            first = f"timeout on {where} (limit {timeouts[i]:.1f} s)"
        elif out.status == "raised":
            first = f"{where}: raised {out.error}"
        elif out.status == "invalid":
            first = f"{where}: its output is not plain data ({out.error})"
        else:
            first = f"{where}: {out.error or 'the process running the code died'}"
    n = len(calls)
    tail = f"; {skipped} more not graded (the reference failed on them)" if skipped else ""
    counts_text = f"inputs: {passed} passed, {counts['failed']} failed, {counts['not_run']} not run of {n}{tail}"
    flags = constant_flags(example, expected)
    if flags:
        note += f"; a constant reply could pass this item ({', '.join(flags)})"
    if passed == n:
        return Grade(True, True, code, "code", f"inputs: {passed} passed of {n}{tail}{note}", flags)
    if not first:  # nothing failed, some never ran: the run stopped
        why = {"budget": "time budget spent", "timeout": "timeout"}.get(res.stopped or "", "")
        first = why or res.problem or f"stopped ({res.stopped or 'no result'})"
        if res.sandbox.status == "timeout":
            first = "timeout: " + first
    return Grade(False, True, code, "code", f"{first} ({counts_text}){note}", flags)
