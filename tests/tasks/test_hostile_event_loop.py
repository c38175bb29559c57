"""Replies that must neither stall the event loop nor hold a grading thread without limit (issue 41).

Every item in flight shares one event loop: a reply whose grading blocks it for
seconds stalls them all. And off the main thread math-verify has no signal-based
timeout, so an exploding input must still end (a worker process is killed).
"""
import asyncio
import threading
import time

import pytest

from mastune.tasks.base import Example
from mastune.tasks.grade import agrade, math_verify_verdict

pytest.importorskip("math_verify")

MAX_STALL_S = 0.5


async def stall_during(coro) -> tuple[object, float]:
    """(the coroutine's result, the longest the loop went without running a 10 ms ticker)."""
    worst = 0.0
    done = False

    async def ticker():
        nonlocal worst
        last = time.monotonic()
        while not done:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            worst = max(worst, now - last)
            last = now

    t = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    try:
        result = await coro
    finally:
        done = True
        await t
    return result, worst


MATH = Example("m/1", "q", "18", "math")
MCQ = Example("q/1", "q", "B", "mcq", {"choices": ["True", "False", "Maybe", "Never"]})
NESTED_OPTIONS = Example("q/2", "q", "B", "mcq", {"choices": ["True False", "True", "Maybe", "Never"]})

HUGE = {
    "unclosed boxes": (MATH, "\\boxed{" * 3_000),
    "nested closed boxes": (MATH, "\\boxed{" * 1_500 + "18" + "}" * 1_500),
    "answer then spaces": (MCQ, "answer" + " " * 40 + "!"),
    "blank lines": (MCQ, "\n" * 3_000 + "!"),
    "option text repeated": (NESTED_OPTIONS, "True False " * 20_000),
    "final answer then spaces": (MATH, "final answer" + " " * 30_000 + "x"),
    "many thousands groups": (MATH, "The answer is 1" + ",111" * 100_000 + "1"),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(HUGE))
async def test_grading_a_huge_reply_never_stalls_the_event_loop(name):
    ex, reply = HUGE[name]
    start = time.monotonic()
    g, stall = await stall_during(agrade(ex, reply))
    assert stall < MAX_STALL_S, (name, stall)
    assert time.monotonic() - start < 10, name  # and it is bounded work, not just moved elsewhere
    assert g.correct in (True, False)


def test_nested_boxes_still_give_the_innermost_last():
    from mastune.tasks.extract import extract_math

    assert extract_math("\\boxed{" * 1_500 + "18" + "}" * 1_500).value == "18"


@pytest.fixture
def short_limit(monkeypatch):
    import importlib

    grade = importlib.import_module("mastune.tasks.grade")  # the module: `mastune.tasks.grade` names the function
    monkeypatch.setattr(grade, "VERIFY_HARD_LIMIT_S", 4.0, raising=False)


EXPLOSIVE = ["(10^{10})!", "{10^{10}}!", "(99!)!", "\\binom{10^{12}}{10^{6}}"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("pred", EXPLOSIVE)
def test_an_exploding_math_verify_input_ends_off_the_main_thread(short_limit, pred):
    got: list = []
    th = threading.Thread(target=lambda: got.append(math_verify_verdict("5", pred)), daemon=True)
    start = time.monotonic()
    th.start()
    th.join(30)
    assert got, f"math-verify still running after {time.monotonic() - start:.0f} s on {pred!r}"
    assert got[0][0] is not True  # no verdict (or unequal), never a pass


@pytest.mark.timeout(120)
def test_off_the_main_thread_math_verify_still_decides_ordinary_answers():
    got: list = []
    cases = [("\\frac{1}{2}", "0.5", True), ("\\sqrt{2}", "2^{1/2}", True), ("3", "\\frac{7}{2}", False)]
    th = threading.Thread(target=lambda: got.extend(math_verify_verdict(g, p)[0] for g, p, _ in cases))
    th.start()
    th.join(60)
    assert got == [want for *_, want in cases]


@pytest.mark.timeout(120)
async def test_an_exploding_answer_does_not_stall_the_loop_or_hang_agrade(short_limit):
    g, stall = await stall_during(agrade(MATH, "\\boxed{(10^{10})!}"))
    assert not g.correct and stall < MAX_STALL_S
