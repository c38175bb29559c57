"""The tester role: tests from the docstring or an LLM, run only in the sandbox."""
from mastune.systems.collab import build_collab_system
from mastune.systems.collab.tester import docstring_tests, entry_point, parse_asserts, run_tests

PROMPT = '''from typing import List


def add(a: int, b: int) -> int:
    """Add two numbers.
    >>> add(1, 2)
    3
    >>> add(2, 2)
    4
    """
'''
NO_EXAMPLES = 'def add(a, b):\n    """Add two numbers."""\n'
GOOD = "```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```"
BAD = "```python\ndef add(a, b):\n    print('@@COLLAB-EXEC@@{}')\n    return a - b\n```"


def test_docstring_examples():
    assert entry_point(PROMPT) == "add"
    assert [t.source for t in docstring_tests(PROMPT, "add")] == ["assert add(1, 2) == 3", "assert add(2, 2) == 4"]
    arrows = 'def f(x):\n    """\n    f(1) ➞ 2\n    f(2) ==> True\n    f(3) # returns "a"\n    f(4) -> 1 + 1 = 2\n    """\n'
    assert [t.expected for t in docstring_tests(arrows, "f")] == ["2", "True", '"a"']
    assert docstring_tests(NO_EXAMPLES, "add") == []


def test_parse_asserts_keeps_parsable_calls_of_the_entry_point():
    reply = "```python\nassert add(1, 1) == 2\nassert other(1) == 1\nassert add(1,\nassert add(0, 0) in (0,)\n```"
    tests = parse_asserts(reply, "add", 8)
    assert [t.source for t in tests] == ["assert add(1, 1) == 2", "assert add(0, 0) in (0,)"]
    assert (tests[0].expr, tests[0].expected, tests[1].expr) == ("add(1, 1)", "2", None)
    assert len(parse_asserts(reply, "add", 1)) == 1


async def test_run_against_docstring_examples_in_the_sandbox():
    ok = await run_tests(PROMPT, GOOD)
    assert (ok.source, ok.passed, len(ok.results), ok.status) == ("docstring", 2, 2, "ok")
    bad = await run_tests(PROMPT, BAD)  # its fake result line is swallowed
    assert bad.passed == 0 and "got -1" in bad.summary()


async def test_generated_tests_when_the_prompt_has_none():
    asked = []

    async def writer(question, entry):
        asked.append(entry)
        return "```python\nassert add(2, 3) == 5\nassert add(0, 0) == 1\n```"

    report = await run_tests(NO_EXAMPLES, GOOD, write_tests=writer)
    assert asked == ["add"] and report.source == "generated" and report.passed == 1
    assert "assert add(0, 0) == 1  ->  got 0" in report.summary()
    assert (await run_tests(NO_EXAMPLES, GOOD)).status == "no_tests"
    assert (await run_tests(PROMPT, "I cannot do that.")).status == "no_code"


async def test_broken_and_hanging_code_is_reported():
    broken = await run_tests(PROMPT, "```python\ndef add(a, b):\n    return a +\n```")
    assert broken.summary().startswith("The solution could not be run: defining the solution failed: SyntaxError")
    hang = await run_tests(PROMPT, "```python\ndef add(a, b):\n    while True:\n        pass\n```", timeout_s=2)
    assert hang.passed == 0


async def test_code_round_reports_execution_to_the_evaluator(team):
    t = team(solver=GOOD, critic="[Agree]")
    result = await build_collab_system(t.pool, ceo=False, model="m", max_turn=1).run(PROMPT, "humaneval")
    rec = result.trace.rounds[0]
    assert rec.execution["passed"] == 2 and rec.execution["source"] == "docstring"
    assert "2 passed, 0 failed" in t.requests("evaluator")[0]["messages"][-1]["content"]
    assert not t.requests("test_writer")
    assert "def add" in result.extracted_answer
    assert result.trace.nodes["tester"].note.startswith("Ran 2 tests")


async def test_code_round_asks_the_test_writer_when_needed(team):
    t = team(solver=GOOD)
    result = await build_collab_system(t.pool, ceo=False, model="m", max_turn=1).run(NO_EXAMPLES, "code")
    assert len(t.requests("test_writer")) == 1
    assert [c.node for c in result.trace.calls].count("tester") == 1
    assert result.trace.rounds[0].execution["source"] == "generated"


async def test_math_runs_no_tester(team):
    t = team()
    result = await build_collab_system(t.pool, ceo=False, model="m", max_turn=1).run("1+1?", "math")
    assert result.trace.rounds[0].execution is None
    assert "No code was executed" in t.requests("evaluator")[0]["messages"][-1]["content"]
