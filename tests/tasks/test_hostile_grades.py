"""Grades that must not pay a wrong answer, and replies that must not crash a grader (issue 41).

No sandbox here: the code comparison rule is tested on plain values, the math and
multiple-choice graders on replies. Each class of hostile input is tested over
several members, with controls that a right answer still grades right.
"""
import sys

import pytest

from mastune.tasks.base import Example
from mastune.tasks.code_compare import same
from mastune.tasks.extract import extract_choice, extract_code, extract_math, normalize_number
from mastune.tasks.grade import agrade, grade

# ---------------------------------------------------------------- 1. exact where the answer is exact


@pytest.mark.parametrize("exp", [10**3 + 7, 10**6, 832040, 12586269025, 10**15 + 1, -(10**9)])
@pytest.mark.parametrize("wrap", [lambda v: v, lambda v: [v], lambda v: (1, v), lambda v: [[v, 2]]])
def test_an_int_expected_is_matched_exactly_never_within_a_tolerance(exp, wrap):
    # a float one unit (or a fraction of one) off the integer is a wrong answer, however large the integer
    for off in (1.0, 0.5, -1.0):
        assert not same(wrap(float(exp + off)), wrap(exp), None, None, 0.0), (exp, off)
    assert same(wrap(float(exp)), wrap(exp), None, None, 0.0)  # evalplus: equal values pass (1 == 1.0)


@pytest.mark.parametrize("exp,out,ok", [
    (2.5, 2.5 * (1 + 5e-8), True),          # floats within evalplus's tolerance
    (0.0, 5e-7, True),                      # atol 1e-6 for float outputs
    (1e9 + 0.5, 1e9 + 0.5 + 500.0, False),  # rtol is numpy's 1e-7, not 1e-6
    ([1.5, 2.5], [1.5, 2.5 + 1e-9], True),
    ([1.5, 2.5], (1.5, 2.5), False),        # the type must match where a tolerance applies
    (2.5, 2, False),
    ([1, 2.5], [1.0000001, 2.5], False),    # not all floats: no tolerance at all
    (float("nan"), float("nan"), True),     # a reference returning NaN is met by NaN
])
def test_floats_follow_the_evalplus_rule(exp, out, ok):
    assert same(out, exp, None, None, 0.0) is ok


def test_a_task_tolerance_still_needs_the_same_type():
    assert same(3.0000001, 3.0, None, None, 1e-4)
    assert not same("3.0", 3.0, None, None, 1e-4) and not same([3.0], (3.0,), None, None, 1e-4)


# ---------------------------------------------------------------- 2. negated or hedged math answers


def math_ex(gold="18"):
    return Example("m/1", "q", gold, "math")


HEDGED = [
    "The answer is not 18.", r"\boxed{\neq 18}", r"\boxed{\ne 18}", r"\boxed{x \neq 18}", r"\boxed{\geq 18}",
    r"\boxed{\ge 18}", r"\boxed{\leq 18}", r"\boxed{x > 18}", r"\boxed{18 < x}", r"\boxed{18 \le x}",
    r"\boxed{\approx 18}", r"\boxed{\sim 18}", r"\boxed{\not= 18}", r"\boxed{\text{not } 18}",
    "The answer is at least 18.", "The answer is at most 18.", "The answer is about 18.",
    "The answer is approximately 18.", "The answer is roughly 18", "The answer is more than 18.",
    "The answer is less than 18.", "The answer is ~18.", "The answer is 18 or more.", "Final answer: ≥ 18",
    "Final answer: ≈18", r"So $x \geq \boxed{18}$.", r"It is not \boxed{18}.", r"The total is $\boxed{18} \le x$.",
    r"The answer is about \boxed{18}.", "We cannot say much. It is not 18", "There are at least 18 apples",
    "There are approximately 18 apples", "It is definitely not equal to 18",
]


@pytest.mark.parametrize("reply", HEDGED)
def test_a_relation_negation_or_hedge_around_the_number_is_not_the_number(reply):
    g = grade(math_ex(), reply)
    assert not g.correct, (reply, g)


@pytest.mark.parametrize("reply", [
    r"\boxed{18}", "The answer is 18.", "The answer is $18$.", "#### 18", "18 dollars", r"\boxed{18 \text{ apples}}",
    r"\boxed{x = 18}", "<answer>18</answer>", r"\boxed{18~\text{cm}}",
    r"Not \boxed{17}, but \boxed{18}", "So she has 18 left.", r"The answer is \boxed{18} (not 17).",
])
def test_the_plain_statement_of_the_number_still_grades_right(reply):
    assert grade(math_ex(), reply).correct, reply


def test_a_gold_answer_that_is_itself_a_relation_is_still_matched():
    assert grade(math_ex(r"x \ge 2"), r"\boxed{x \ge 2}").correct
    assert normalize_number("not 18") is None and normalize_number("about 18") is None


async def test_hedged_answers_are_wrong_through_agrade_too():
    for reply in HEDGED[:6]:
        assert not (await agrade(math_ex(), reply)).correct, reply


# ---------------------------------------------------------------- 5. numbers past the int->str digit limit


BIG = "9" * 5000


@pytest.mark.parametrize("form", [r"\boxed{%s}", "The answer is %s.", "so we get %s", "#### %s", r"\boxed{-%s.000}"])
@pytest.mark.parametrize("gold", ["18", BIG, BIG[:-1] + "8"], ids=["small", "same", "last-digit-off"])
def test_a_5000_digit_answer_is_graded_never_raised(form, gold):
    assert len(BIG) > sys.get_int_max_str_digits()
    reply = form % BIG
    g = grade(math_ex(gold), reply)
    assert g.parsed and g.correct == (gold == BIG and not reply.startswith(r"\boxed{-")), (form, gold[-3:], g.detail)


async def test_a_huge_number_reward_is_a_number():
    from mastune.optim.neuromas.episode import task_reward

    assert await task_reward(math_ex(), rf"\boxed{{{BIG}}}") == 0.0
    assert await task_reward(math_ex(BIG), rf"\boxed{{{BIG}}}") == 1.0
    assert normalize_number(BIG + ".50") == BIG + ".5"


# ---------------------------------------------------------------- 7. deeply nested code in extraction


DEEP = [
    "def f(x):\n    return x" + ".a" * 60_000 + "\n",
    "def f(x):\n    return " + "1+" * 60_000 + "1\n",
    "def f(x):\n    return f" + "()" * 60_000 + "\n",
    "def f(x):\n    return " + "not " * 60_000 + "x\n",
    "def f(x):\n    y = " + "lambda: " * 20_000 + "1\n",
]


@pytest.mark.parametrize("code", DEEP, ids=["attributes", "additions", "calls", "nots", "lambdas"])
def test_deeply_nested_code_is_extracted_never_raised(code):
    for reply in (code + "\nThat is my answer.", "Here:\n" + code):
        out = extract_code(reply, "f")
        assert out is not None and out.startswith("def f(x):")


@pytest.mark.parametrize("code", DEEP[:2], ids=["attributes", "additions"])
async def test_deeply_nested_body_only_reply_is_a_grade(code):
    # a completion-style reply (only the indented body) is parsed with its prompt: that parse must not raise
    ex = Example("HumanEval/0", "q", "ref", "code", {"dataset": "humaneval", "prompt": "def f(x):\n",
                                                      "entry_point": "f", "base_input": [[1]], "reference": "ref"})
    from mastune.tasks.code import _body_only

    body = code.split("\n", 1)[1]
    assert _body_only(body, ex.meta) is None  # does not parse: no code, not an exception


# ---------------------------------------------------------------- 15. right answers in forms that were unread


@pytest.mark.parametrize("reply,letter", [
    ("answer: b", "B"), ("Answer: c", "C"), ("The answer is (d)", "D"), ("the answer is b.", "B"),
    ("ANSWER: a", "A"), ("**Answer:** c", "C"), (r"\boxed{b}", "B"), ("b", "B"), ("(c)", "C"),
    ("\ufeffAnswer: B", "B"), ("\ufeffC", "C"), ("I choose d", "D"), ("Answer:\n\nb\n", "B"),
])
def test_a_lower_case_or_bom_prefixed_choice_is_read(reply, letter):
    assert extract_choice(reply, n_choices=4).value == letter, reply
    ex = Example("q/1", "q", letter, "mcq", {"choices": ["w", "x", "y", "z"]})
    assert grade(ex, reply).correct


@pytest.mark.parametrize("reply", ["The answer is a bit unclear to me.", "I think the answer is a matter of taste",
                                   "answer is a", "The answer is b ecause"])
def test_a_lower_case_article_in_prose_is_not_a_choice(reply):
    value = extract_choice(reply, n_choices=4).value
    assert value is None or reply == "answer is a", (reply, value)


@pytest.mark.parametrize("reply", [
    "\ufeff```python\ndef f(x):\n    return x + 1\n```",
    "```python\n\ufeffdef f(x):\n    return x + 1\n```",
    "\ufeffdef f(x):\n    return x + 1\n",
    "Sure.\n\ufeffdef f(x):\n    return x + 1\n\nThat is it.",
])
def test_a_bom_before_the_code_is_dropped(reply):
    code = extract_code(reply, "f")
    assert code is not None and "\ufeff" not in code
    ns = {}
    exec(compile(code, "<reply>", "exec"), ns)  # noqa: S102 - our own test code
    assert ns["f"](1) == 2


def test_a_bom_before_a_math_answer_is_dropped():
    assert grade(math_ex(), "\ufeff18").correct and extract_math("\ufeff\\boxed{18}").value == "18"
