"""The tester role: run a code solution against tests in the sandbox.

Tests come from the examples in the task's docstring (`>>> f(x)` / `f(x) == y`
/ `f(x) ➞ y` / `f(x) # returns y` ...), or, when there are none, from an LLM asked for assert
statements. LLM-written code only ever runs in `mastune.sandbox` (a subprocess
with time and memory limits and no network), through the same call runner the
graders use: the sandbox returns each value as plain data and the comparison
happens here, so the code's own prints cannot fake a result.
"""
from __future__ import annotations

import ast
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Awaitable, Callable

from ...sandbox import CallOutcome, SandboxLimits, arun_calls
from ...tasks.extract import extract_code
from . import prompts

@dataclass
class Test:
    """`expr == expected` (reported with the value got) or a bare statement."""

    source: str  # as shown to the evaluator
    expr: str | None = None
    expected: str | None = None


@dataclass
class ExecReport:
    source: str  # "docstring" | "generated" | "none"
    tests: list[str] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)  # {test, ok, detail}
    status: str = ""  # sandbox status, or "no_code" / "no_tests"
    error: str = ""

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r["ok"])

    def summary(self) -> str:
        """What the evaluator reads."""
        if self.status == "no_code":
            return "No Python code was found in the solution, so nothing was executed."
        if self.status == "no_tests":
            return "No tests were available, so the code was not executed."
        if self.error:
            return f"The solution could not be run: {self.error}"
        what = "the task's examples" if self.source == "docstring" else "generated tests"
        lines = [f"Ran {len(self.results)} tests from {what}: {self.passed} passed, {len(self.results) - self.passed} failed."]
        for r in self.results:
            if not r["ok"]:
                lines.append(f"- {r['test']}  ->  {r['detail']}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed, "summary": self.summary()}


# ---------------------------------------------------------------- finding tests


def entry_point(question: str) -> str | None:
    """The function a code task asks for: the last `def` of the prompt."""
    names = re.findall(r"^\s*def\s+(\w+)\s*\(", question, re.M)
    return names[-1] if names else None


def _is_expr(s: str) -> bool:
    try:
        ast.parse(s.strip(), mode="eval")
        return True
    except (SyntaxError, ValueError):
        return False


def docstring_tests(question: str, entry: str) -> list[Test]:
    """Examples written in the prompt, as (call, expected) pairs that parse as Python."""
    tests: list[Test] = []
    lines = question.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith(">>>"):  # doctest: the next non-prompt line(s) are the output
            expr = line[3:].strip()
            out: list[str] = []
            j = i + 1
            while j < len(lines) and lines[j].strip() and not lines[j].strip().startswith((">>>", '"""', "'''")):
                out.append(lines[j].strip())
                j += 1
                if out[-1].endswith(('"""', "'''")):  # the docstring closes on the output line
                    out[-1] = out[-1][:-3].strip()
                    break
            if out and entry in expr:
                tests.append(_compare(expr, " ".join(out)))
            i = j
            continue
        m = re.match(rf"^({re.escape(entry)}\s*\(.*\))\s*(?:==>|==|➞|->|=>|→|#\s*returns?|should return|returns?)\s*(.+?)\s*$", line)
        if m:
            tests.append(_compare(m.group(1), m.group(2).rstrip(".,")))
        i += 1
    return [t for t in tests if t.expr and _is_expr(t.expr) and _is_expr(t.expected or "")]


def _compare(expr: str, expected: str) -> Test:
    return Test(f"assert {expr} == {expected}", expr.strip(), expected.strip())


def parse_asserts(text: str, entry: str, limit: int) -> list[Test]:
    """`assert ...` lines that call the entry point and parse (never executed here)."""
    body = "\n".join(re.findall(r"```(?:python|py)?[^\n]*\n(.*?)```", text, re.S)) or text
    tests: list[Test] = []
    for line in body.splitlines():
        line = line.strip()
        if not line.startswith("assert ") or entry not in line:
            continue
        try:
            node = ast.parse(line).body[0]
        except (SyntaxError, ValueError, IndexError):
            continue
        t = node.test if isinstance(node, ast.Assert) else None
        if isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Eq):
            tests.append(Test(line, ast.unparse(t.left), ast.unparse(t.comparators[0])))
        else:
            tests.append(Test(line))
        if len(tests) >= limit:
            break
    return tests


# ---------------------------------------------------------------- running

TestWriter = Callable[[str, str], Awaitable[str]]  # (question, entry point) -> LLM reply with asserts


async def run_tests(
    question: str,
    solution: str,
    *,
    write_tests: TestWriter | None = None,
    max_tests: int = 8,
    timeout_s: float = 10.0,
) -> ExecReport:
    """Execute a code solution against docstring or generated tests, in the sandbox."""
    entry = entry_point(question)
    code = extract_code(solution, entry)
    if not code or not entry:
        return ExecReport("none", status="no_code")
    if not re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(entry)}\s*\(", code, re.M):
        code = question.rstrip() + "\n" + code  # a body that continues the prompt's signature
    tests, source = docstring_tests(question, entry)[:max_tests], "docstring"
    if not tests and write_tests is not None:
        tests, source = parse_asserts(await write_tests(question, entry), entry, max_tests), "generated"
    if not tests:
        return ExecReport("none", status="no_tests")
    per_test = max(1.0, timeout_s / 4)
    calls: list[dict] = []
    for t in tests:
        calls += [{"eval": t.expr}, {"eval": t.expected}] if t.expr is not None else [{"exec": t.source}]
    res = await arun_calls([("solution.py", code, True)], calls, entry_point=None,
                           call_timeouts=[per_test] * len(calls), define_timeout_s=per_test,
                           limits=SandboxLimits(timeout_s=timeout_s, memory_mb=1024))
    report = ExecReport(source, [t.source for t in tests], status=res.sandbox.status)
    if not res.defined:
        if res.define_error == "timed out":
            report.error = "defining the solution timed out"
        elif res.define_error:
            report.error = "defining the solution failed: " + res.define_error
        else:
            report.error = f"the sandbox run ended with status {res.sandbox.status!r} and no result" + (
                f": {res.sandbox.stderr.strip()[-300:]}" if res.sandbox.stderr.strip() else "")
        return report
    outs = iter(res.calls)
    for t in tests:
        got = next(outs)
        want = next(outs) if t.expr is not None else None
        ok, detail = _verdict(got, want)
        report.results.append({"test": t.source, "ok": ok, "detail": detail})
    return report


def _failure(out: CallOutcome) -> str:
    return {"timeout": "timed out", "not_run": "not run (an earlier test stopped the run)",
            "invalid": f"returned a value that is not plain data ({out.error})"}.get(out.status, out.error or out.status)


def _verdict(got: CallOutcome, want: CallOutcome | None) -> tuple[bool, str]:
    """(passed, detail) of one test from the plain values the sandbox returned."""
    if got.status != "ok":
        return False, _failure(got)
    if want is None:  # a bare statement: it ran without raising
        return True, "ok"
    if want.status != "ok":
        return False, "the expected value could not be computed: " + _failure(want)
    if got.value == want.value:
        return True, "ok"
    try:
        shown = repr(got.value)[:200]
    except ValueError:  # an int past Python's int-to-str digit limit
        shown = f"a {type(got.value).__name__} too large to print"
    return False, "got " + shown


def no_execution() -> str:
    return prompts.text("execution_none")
