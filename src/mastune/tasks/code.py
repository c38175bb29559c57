"""Code grading (HumanEval+ / MBPP+) in the sandbox.

Two sandbox runs of one harness script:
- "reference": runs the canonical solution on the task's inputs once and
  prints the outputs as base64(zlib(pickle)) inside a JSON line. The host
  stores that text in a disk cache and never decodes it.
- "candidate": defines the model's code, runs the task's original tests,
  then compares its outputs on base (+ plus) inputs with the decoded
  reference outputs (decoded only inside the sandbox) and prints one JSON line.
"""
from __future__ import annotations

import ast
import asyncio
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from ..settings import home_dir
from .base import Example, GradingError
from .extract import extract_code
from .grade import Grade

HARNESS_VERSION = 1  # bump when the reference-mode output format changes
MARK = "@@MASTUNE@@"
TEST_TIMEOUT_S = 5.0  # the original tests (HumanEval check / MBPP asserts) are cheap
MIN_INPUT_TIMEOUT_S = 1.0  # per input, as in evalplus (min limit, then factor x reference time)
TIME_FACTOR = 4.0
CAP_S = 60.0  # whole candidate sandbox
MEMORY_MB = 1024

_HARNESS = r'''
import base64, copy, json, math, os, pickle, signal, sys, time, zlib

MARK = "@@MASTUNE@@"
OUT = sys.stdout
START = time.perf_counter()


class Sink:  # swallows prints of the code under test so they cannot fake a result line
    def write(self, s):
        return len(s)

    def flush(self):
        pass


class Timeout(BaseException):  # BaseException: `except Exception` in tested code can't catch it
    pass


def _alarm(signum, frame):
    raise Timeout()


signal.signal(signal.SIGALRM, _alarm)


def limited(seconds, fn, *args):
    signal.setitimer(signal.ITIMER_REAL, max(0.01, seconds))
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def emit(obj):
    OUT.write(MARK + json.dumps(obj) + "\n")
    OUT.flush()


def short(e, n=300):
    try:
        return (type(e).__name__ + ": " + str(e))[:n]
    except BaseException:
        return type(e).__name__


def brief(x, n=150):
    try:
        return repr(x)[:n]
    except BaseException:
        return "<unprintable>"


def deep_tuple(x):
    return tuple(deep_tuple(i) for i in x) if isinstance(x, list) else x


TRANSFORMS = {
    None: lambda a: a,
    "args_tuple": lambda a: [tuple(x) for x in a],
    "args_list_of_tuples": lambda a: [[tuple(y) for y in x] for x in a],
    "first_list_of_tuples": lambda a: [[tuple(y) for y in a[0]]] + a[1:],
    "second_tuple": lambda a: [a[0], tuple(a[1])] + a[2:],
    "first_list_of_sets": lambda a: [[set(y) if isinstance(y, list) and y else {} for y in a[0]]],
    "float_complex": lambda a: [float(a[0]), complex(a[1])],
    "first_tuple": lambda a: [tuple(a[0])] + a[1:],
    "args_tuple_of_tuples": lambda a: [tuple(tuple(y) for y in x) for x in a],
    "first_tuple_of_mixed": lambda a: [tuple(tuple(y) if isinstance(y, list) else y for y in a[0])],
    "first_dict_tuple_values": lambda a: [{k: tuple(v) for k, v in a[0].items()}] + a[1:],
    "first_complex": lambda a: [complex(a[0])],
    "deep_tuple": lambda a: list(deep_tuple(a)),
}


def define(sources, seconds):
    ns = {"__name__": "__solution__", "__builtins__": __builtins__}
    for name, src, required in sources:
        try:
            limited(seconds, exec, compile(src, name, "exec"), ns)
        except Timeout:
            raise
        except BaseException:
            if required:
                raise
    return ns


def safe_eq(a, b):
    try:
        return bool(a == b)
    except BaseException:
        return False


def close(out, exp, atol):
    if isinstance(exp, bool) or isinstance(out, bool):
        return safe_eq(out, exp)
    if isinstance(exp, (int, float)) and isinstance(out, (int, float)):
        if isinstance(exp, float) or isinstance(out, float):
            if math.isnan(exp) or math.isnan(out):
                return math.isnan(exp) and math.isnan(out)
            return math.isclose(out, exp, rel_tol=1e-6, abs_tol=atol)
        return out == exp
    if isinstance(exp, (list, tuple)):
        return type(out) is type(exp) and len(out) == len(exp) and all(close(o, e, atol) for o, e in zip(out, exp))
    if isinstance(exp, dict):
        return isinstance(out, dict) and out.keys() == exp.keys() and all(close(out[k], exp[k], atol) for k in exp)
    return safe_eq(out, exp)


def poly(xs, x):
    return sum(c * math.pow(x, i) for i, c in enumerate(xs))


def pyramid_area(base, height):  # square pyramid: base + 4 triangles, rounded like the MBPP reference
    slant = math.sqrt((base / 2) ** 2 + height ** 2)
    return round(base ** 2 + 2 * base * slant)


def digit_distance(a, b):
    sa, sb = str(a), str(b)
    w = max(len(sa), len(sb))
    return sum(abs(int(x) - int(y)) for x, y in zip(sa.zfill(w), sb.zfill(w)))


def same(out, exp, args, oracle, atol):
    try:
        if oracle == "poly_root":  # any root will do; near the reference root counts too (float error)
            return abs(poly(args[0], out)) <= atol or close(out, exp, 1e-6)
        if oracle == "always_true":
            return True
        if oracle == "not_none":
            return out == exp if isinstance(out, bool) else exp == (out is not None)
        if oracle == "set_eq":
            return set(out) == set(exp)
        if safe_eq(out, exp):
            return True
        if oracle == "or_zero" and safe_eq(out, 0):
            return True
        if oracle == "surface_area" and abs(out - pyramid_area(*args)) <= atol:
            return True
        if oracle == "digit_distance" and out == digit_distance(*args):
            return True
        return close(out, exp, atol if atol > 0 else 1e-6)
    except BaseException:
        return False


def reference(cfg, inputs, transform):
    ns = define([("reference.py", open("reference.py").read(), True)], cfg["define_timeout"])
    fn = ns[cfg["entry_point"]]
    outs, times, errors = [], [], []
    for i, raw in enumerate(inputs):
        t0 = time.perf_counter()
        try:
            out = limited(cfg["input_timeout"], fn, *transform(copy.deepcopy(raw)))
            if cfg.get("oracle") == "not_none":
                out = out is not None
            outs.append(pickle.dumps(out, protocol=4))
        except BaseException as e:
            outs.append(None)
            errors.append([i, short(e)])
        times.append(round(time.perf_counter() - t0, 6))
    blob = base64.b64encode(zlib.compress(pickle.dumps(outs, protocol=4))).decode("ascii")
    emit({"n": len(inputs), "times": times, "errors": errors, "expected": blob})


def candidate(cfg, inputs, transform):
    budget = cfg["budget"]
    res = {"defined": True, "passed": 0, "failed": 0, "skipped": 0, "n_inputs": len(inputs), "tests_ok": None,
           "timeout": False, "first_failure": ""}

    def fail(msg):
        res["failed"] += 1
        res["first_failure"] = res["first_failure"] or msg

    def undefined(msg):
        res.update(defined=False, skipped=len(inputs), first_failure=msg)
        emit(res)

    sources = [(name, open(name).read(), req) for name, req in cfg["sources"]]
    try:
        ns = define(sources, cfg["define_timeout"])
    except Timeout:
        res["timeout"] = True
        return undefined("while defining the solution")
    except BaseException as e:
        return undefined("definition failed: " + short(e))
    fn = ns.get(cfg["entry_point"])
    if not callable(fn):
        return undefined("entry point %r is not defined" % cfg["entry_point"])

    test = cfg.get("test") or ""
    if test.strip():
        tns = dict(ns)
        left = budget - (time.perf_counter() - START)
        try:
            limited(min(cfg["test_timeout"], left), exec, compile(test, "test.py", "exec"), tns)
            if cfg["test_kind"] == "check":
                limited(min(cfg["test_timeout"], budget - (time.perf_counter() - START)), tns["check"], fn)
            res["tests_ok"] = True
        except Timeout:
            res["tests_ok"] = False
            res["timeout"] = True
            res["first_failure"] = "in the original tests"
        except BaseException as e:
            res["tests_ok"] = False
            res["first_failure"] = "original tests: " + short(e)

    if res["timeout"] or not inputs:
        res["skipped"] += len(inputs)
        return emit(res)
    expected = pickle.loads(zlib.decompress(base64.b64decode(open("expected.txt").read())))
    limits, atol, oracle = cfg["input_limits"], cfg["atol"], cfg.get("oracle")
    for i, raw in enumerate(inputs):
        left = budget - (time.perf_counter() - START)
        if left <= 0:
            res["timeout"] = True
            res["skipped"] += len(inputs) - i
            fail("after %d inputs: time budget spent" % i)
            break
        if expected[i] is None:  # the reference itself failed on this input
            res["skipped"] += 1
            continue
        args = transform(copy.deepcopy(raw))
        try:
            out = limited(min(limits[i], left), fn, *args)
        except Timeout:
            res["timeout"] = True
            res["skipped"] += len(inputs) - i - 1
            fail("on input %d" % i)
            break
        except BaseException as e:
            fail("input %d: %s" % (i, short(e)))
            continue
        try:
            exp = pickle.loads(expected[i])
        except BaseException:  # e.g. a type only the reference run could import
            res["skipped"] += 1
            continue
        if same(out, exp, args, oracle, atol):
            res["passed"] += 1
        else:
            fail("input %d %s: got %s, expected %s" % (i, brief(args, 120), brief(out), brief(exp)))
    emit(res)


def main():
    cfg = json.load(open("task.json"))
    inputs = json.load(open("inputs.json"))
    transform = TRANSFORMS[cfg.get("input_transform")]
    sys.stdout = Sink()
    try:
        (reference if cfg["mode"] == "reference" else candidate)(cfg, inputs, transform)
    except BaseException as e:
        emit({"harness_error": short(e, 1000)})
    # Exit at once: no atexit hooks or stray threads of the tested code get to print after us.
    os._exit(0)


main()
'''


def _sandbox():
    # Imported late so the rest of mastune.tasks works without the sandbox module.
    from . import sandbox

    return sandbox


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.M) is not None


def _result_line(stdout: str) -> dict | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARK):
            try:
                return json.loads(line[len(MARK):])
            except ValueError:
                return None
    return None


def _body_only(reply: str, meta: dict) -> str | None:
    """A completion-style reply: just the indented body that follows a HumanEval prompt."""
    first = next((ln for ln in reply.splitlines() if ln.strip()), "")
    if meta.get("dataset") != "humaneval" or not first[:1].isspace():
        return None
    try:
        ast.parse(meta.get("prompt", "") + reply)
    except (SyntaxError, ValueError):
        return None
    return reply


def task_inputs(example: Example, plus: bool = True) -> list:
    m = example.meta
    return list(m.get("base_input") or []) + (list(m.get("plus_input") or []) if plus else [])


# ---------------------------------------------------------------- expected outputs


def cache_dir() -> Path:
    return home_dir() / "expected"


def _cache_path(example: Example, inputs_json: str) -> Path:
    m = example.meta
    key = _sha(json.dumps({"v": HARNESS_VERSION, "task": example.id, "ref": _sha(m["reference"]),
                           "inputs": _sha(inputs_json), "transform": m.get("input_transform"),
                           "oracle": m.get("oracle")}, sort_keys=True))
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", example.id)
    return cache_dir() / f"{slug}-{key[:24]}.json"


_locks: dict[tuple[int, str], asyncio.Lock] = {}


async def expected_outputs(example: Example, inputs_json: str, n_inputs: int) -> dict:
    """{"n", "times", "errors", "expected": <opaque text>} for these inputs, cached on disk."""
    path = _cache_path(example, inputs_json)
    lock = _locks.setdefault((id(asyncio.get_running_loop()), str(path)), asyncio.Lock())
    async with lock:  # concurrent graders of one task compute it once
        if path.is_file():
            try:
                return json.loads(path.read_text("utf-8"))
            except ValueError:
                pass  # a torn write: recompute
        data = await _run_reference(example, inputs_json, n_inputs)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(data), "utf-8")
        os.replace(tmp, path)  # atomic: readers never see half a file
        return data


async def _run_reference(example: Example, inputs_json: str, n: int) -> dict:
    sb = _sandbox()
    m = example.meta
    cfg = {"mode": "reference", "entry_point": m["entry_point"], "input_timeout": 20.0, "define_timeout": 20.0,
           "oracle": m.get("oracle"), "input_transform": m.get("input_transform")}
    limits = sb.SandboxLimits(timeout_s=min(600.0, 60.0 + 0.2 * n), memory_mb=2048,
                              max_output_bytes=256_000_000)
    res = await sb.arun_python(_HARNESS, files={"task.json": json.dumps(cfg), "inputs.json": inputs_json,
                                                "reference.py": m["reference"]}, limits=limits)
    data = _result_line(res.stdout)
    if not data or "expected" not in data:
        why = (data or {}).get("harness_error") or f"status={res.status} stderr={res.stderr[-500:]!r}"
        raise GradingError(f"could not compute reference outputs for {example.id}: {why}")
    if n and len(data["errors"]) == n:
        raise GradingError(f"the reference solution of {example.id} failed on every input, "
                           f"e.g. {data['errors'][0][1]}")
    return data


# ---------------------------------------------------------------- grading


def _limits(user: Any, budget: float):
    sb = _sandbox()
    if user is None:
        return sb.SandboxLimits(timeout_s=budget, memory_mb=MEMORY_MB)
    return user


async def grade_code(example: Example, reply: str, *, limits: Any = None, plus: bool = True) -> Grade:
    """Grade a reply to a HumanEval+/MBPP+ example.

    Correct = the original tests pass and every base (+ plus, when `plus`)
    input gives the reference output. `limits` (a SandboxLimits) replaces the
    default sandbox limits; its timeout_s is then the whole-run budget.
    """
    m = example.meta
    ep = m["entry_point"]
    code = extract_code(reply, ep) or _body_only(reply, m)
    if code is None:
        return Grade(False, False, None, "none", "no code found in reply")
    inputs = task_inputs(example, plus)
    if not inputs and not str(m.get("test") or "").strip():
        raise GradingError(f"{example.id} has neither tests nor inputs: nothing to grade against")
    inputs_json = json.dumps(inputs)
    ref_times: list[float] = [0.0] * len(inputs)
    files = {"candidate.py": code, "inputs.json": inputs_json}
    if inputs:
        exp = await expected_outputs(example, inputs_json, len(inputs))
        ref_times = exp["times"]
        files["expected.txt"] = exp["expected"]
    input_limits = [max(MIN_INPUT_TIMEOUT_S, TIME_FACTOR * t) for t in ref_times]
    budget = min(CAP_S, 10.0 + TEST_TIMEOUT_S + TIME_FACTOR * sum(ref_times) + 0.01 * len(inputs))
    sb_limits = _limits(limits, budget)
    budget = float(sb_limits.timeout_s)
    # HumanEval replies often omit the prompt's imports/helpers, or give only the body.
    prompt = m.get("prompt", "") if m.get("dataset") == "humaneval" else ""
    if _defines(code, ep):
        sources = [["prompt.py", False], ["candidate.py", True]]
        files["prompt.py"] = prompt
    else:
        sources = [["candidate.py", True]]
        files["candidate.py"] = prompt + code
    cfg = {"mode": "candidate", "entry_point": ep, "sources": sources, "test": m.get("test", ""),
           "test_kind": m.get("test_kind", "check"), "test_timeout": TEST_TIMEOUT_S,
           "define_timeout": min(10.0, budget / 2), "budget": max(1.0, budget - 2.0),
           "input_limits": input_limits, "atol": float(m.get("atol") or 0), "oracle": m.get("oracle"),
           "input_transform": m.get("input_transform")}
    files["task.json"] = json.dumps(cfg)
    res = await _sandbox().arun_python(_HARNESS, files=files, limits=sb_limits)
    return _to_grade(res, code)


def _to_grade(res: Any, code: str) -> Grade:
    out = _result_line(res.stdout)
    if out is None:
        if res.status == "timeout":
            return Grade(False, True, code, "code", "timeout")
        why = {"memory": "memory limit exceeded", "output_limit": "output limit exceeded"}.get(res.status)
        return Grade(False, True, code, "code", why or f"crashed ({res.status}, rc={res.returncode}): "
                                                     f"{res.stderr.strip()[-300:]}")
    if "harness_error" in out:
        # Only reachable once the solution has run (it can break json, files, ...),
        # so it is the solution's failure, reported as such.
        return Grade(False, True, code, "code", f"harness broken by the solution: {out['harness_error']}")
    ok = out["defined"] and out["failed"] == 0 and out["tests_ok"] is not False and not out["timeout"]
    tests = {True: "tests passed", False: "tests failed", None: "no tests"}[out["tests_ok"]]
    counts = (f"{tests}; inputs: {out['passed']} passed, {out['failed']} failed, "
              f"{out['skipped']} skipped of {out['n_inputs']}")
    if not out["defined"]:
        detail = ("timeout " if out["timeout"] else "") + out["first_failure"]
    elif ok:
        detail = counts
    elif out["timeout"]:
        detail = f"timeout {out['first_failure']} ({counts})"
    else:
        detail = f"{out['first_failure']} ({counts})"
    return Grade(ok, True, code, "code", detail)
