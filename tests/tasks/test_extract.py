import pytest

from mastune.tasks.extract import (
    all_boxed,
    extract_choice,
    extract_code,
    extract_math,
    last_boxed,
    normalize_number,
)

# ---------------------------------------------------------------- boxed


@pytest.mark.parametrize(
    "text,expected",
    [
        (r"so \boxed{5}.", "5"),
        (r"\boxed{\frac{1}{2}}", r"\frac{1}{2}"),
        (r"first \boxed{1} then \boxed{2}", "2"),
        (r"\boxed{\left( 3, \frac{\pi}{2} \right)}", r"\left( 3, \frac{\pi}{2} \right)"),
        (r"\boxed{\{1, 2\}}", r"\{1, 2\}"),
        (r"\fbox{7}", "7"),
        (r"$\boxed 5$", "5"),
        (r"\boxed{x^{2}}", "x^{2}"),
        (r"\boxed{3", None),  # cut off mid-answer
        ("no box here", None),
    ],
)
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


def test_all_boxed_in_order():
    assert all_boxed(r"\boxed{a} and \boxed{b{c}}") == ["a", "b{c}"]


# ---------------------------------------------------------------- math


@pytest.mark.parametrize(
    "reply,value,method",
    [
        (r"We get $\boxed{42}$.", "42", "boxed"),
        (r"The answer is \boxed{7} not 8", "7", "boxed"),
        ("So the answer is 18.", "18", "answer_is"),
        ("The final answer is $\\frac{3}{4}$.", "\\frac{3}{4}", "answer_is"),
        ("Final answer: 1,000", "1,000", "answer_is"),
        ("**Answer:** 12 apples", "12 apples", "answer_is"),
        ("Natalia sold 48 clips.\n#### 72", "72", "answer_is"),
        ("She has 3 apples, then buys 5, so 8 in total", "8", "last_number"),
        ("I don't know.", None, "none"),
        ("", None, "none"),
    ],
)
def test_extract_math(reply, value, method):
    ext = extract_math(reply)
    assert (ext.value, ext.method) == (value, method)
    assert ext.parsed == (value is not None)


def test_last_number_is_flagged_as_fallback():
    assert extract_math("maybe 3 or 4").fallback
    assert not extract_math(r"\boxed{4}").fallback


def test_boxed_beats_a_later_answer_statement():
    assert extract_math(r"\boxed{5}. The answer is 6").value == "5"


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1,000", "1000"),
        ("1000", "1000"),
        ("$1,234,567.00", "1234567"),
        ("18.0", "18"),
        ("18.00", "18"),
        ("0.50", "0.5"),
        ("-3", "-3"),
        ("50%", "50"),
        ("50\\%", "50"),
        ("18 dollars", "18"),
        ("\\$18", "18"),
        ("\\text{18 cm}", "18"),
        ("3/4", "0.75"),
        (".5", "0.5"),
        ("\u22125", "-5"),
        ("(1, 2)", None),
        ("x = 5", None),
        ("\\frac{1}{2}", None),
        ("2^{10}", None),
        ("no number", None),
        (None, None),
    ],
)
def test_normalize_number(text, expected):
    assert normalize_number(text) == expected


# ---------------------------------------------------------------- multiple choice

CHOICES = ["Paris", "London", "Berlin", "Madrid"]


@pytest.mark.parametrize(
    "reply,letter,method",
    [
        ("Answer: C", "C", "answer_is"),
        ("The answer is C.", "C", "answer_is"),
        ("the answer is (B)", "B", "answer_is"),
        ("Answer: **D**", "D", "answer_is"),
        ("The correct answer is: B) London", "B", "answer_is"),
        ("The correct option is D", "D", "answer_is"),
        ("Final answer: [A]", "A", "answer_is"),
        (r"Thus \boxed{C}", "C", "boxed"),
        (r"\boxed{\text{B}}", "B", "boxed"),
        (r"\boxed{(A)}", "A", "boxed"),
        ("C", "C", "letter"),
        ("Let me think.\n\nB", "B", "letter"),
        ("(C)", "C", "letter"),
        ("C)", "C", "letter"),
        ("**B**", "B", "letter"),
        ("Reasoning...\n**(D)**", "D", "letter"),
        ("Considering everything, I pick option (C) here.", "C", "answer_is"),
        ("Reasoning here.\nC. Berlin is right", "C", "letter"),
        ("It is clearly Madrid, the capital of Spain.", "D", "option_text"),
    ],
)
def test_extract_choice(reply, letter, method):
    ext = extract_choice(reply, CHOICES)
    assert (ext.value, ext.method) == (letter, method)


@pytest.mark.parametrize(
    "reply",
    [
        "A good answer needs more thought.",  # article "A" is not an answer
        "I am not sure. A case could be made for several.",
        "The answer is unclear to me.",
        "Paris or London, hard to say.",  # two option texts
        "",
        "E",  # not one of four options
    ],
)
def test_extract_choice_unparsed(reply):
    ext = extract_choice(reply, CHOICES)
    assert not ext.parsed and ext.method == "none"


def test_listing_all_options_is_not_an_answer():
    reply = "A) Paris\nB) London\nC) Berlin\nD) Madrid"
    assert not extract_choice(reply, ["p", "q", "r", "s"]).parsed


def test_answer_statement_wins_over_discussion():
    reply = "(A) is wrong and (B) is wrong.\nAnswer: C"
    assert extract_choice(reply, CHOICES).value == "C"


def test_option_text_shorter_contained_in_longer_is_ignored():
    choices = ["True, True", "False, False", "True", "False, True"]
    ext = extract_choice("I conclude: True, True.", choices)
    assert (ext.value, ext.method) == ("A", "option_text")
    assert ext.fallback


def test_more_than_four_options():
    assert extract_choice("Answer: F", n_choices=6).value == "F"
    assert not extract_choice("Answer: F", n_choices=4).parsed


# ---------------------------------------------------------------- code


def test_code_prefers_block_defining_entry_point():
    reply = (
        "Helper:\n```python\ndef helper():\n    return 1\n```\n"
        "Solution:\n```python\ndef solve(x):\n    return helper() + x\n```\n"
    )
    assert extract_code(reply, "solve").startswith("def solve")


def test_code_keeps_imports_from_other_blocks():
    reply = "```python\nimport math\n```\n```python\ndef f(x):\n    return math.sqrt(x)\n```"
    code = extract_code(reply, "f")
    assert "import math" in code and "def f(x)" in code
    compile(code, "c", "exec")


def test_code_unterminated_fence():
    code = extract_code("```python\ndef f():\n    return 2\n", "f")
    assert code == "def f():\n    return 2\n"


def test_code_plain_fence_and_py_tag():
    assert extract_code("```\ndef f():\n    pass\n```") == "def f():\n    pass\n"
    assert extract_code("```py\ndef f():\n    pass\n```") == "def f():\n    pass\n"


def test_code_ignores_non_python_blocks():
    reply = "```bash\npip install x\n```\n```python\ndef f():\n    return 1\n```"
    assert extract_code(reply) == "def f():\n    return 1\n"


def test_code_bare_with_trailing_prose():
    reply = "Here you go:\n\nimport os\n\ndef f(x):\n    return x + 1\n\nThis adds one to x."
    code = extract_code(reply, "f")
    assert code.startswith("import os") and "This adds" not in code
    compile(code, "c", "exec")


def test_code_none_when_no_code():
    assert extract_code("I cannot solve this.") is None
    assert extract_code("") is None


def test_code_last_defining_block_wins():
    reply = "```python\ndef f():\n    return 1\n```\nBetter:\n```python\ndef f():\n    return 2\n```"
    assert "return 2" in extract_code(reply, "f")


@pytest.mark.parametrize("reply,letter", [("Answer - C", "C"), ("answer: option D", "D"), ("Answer:\n\nB", "B"),
                                          ("The answer is: (A)", "A")])
def test_extract_choice_separators(reply, letter):
    assert extract_choice(reply, CHOICES).value == letter


@pytest.mark.parametrize("reply", [r"The answer is \boxed{}", r"The answer is $\boxed{ }$.", r"Answer: \boxed{}"])
def test_an_empty_box_is_no_answer_not_a_math_verify_failure(reply):
    # issue 15, fault 8: this was "parsed" as the text "\boxed{}" and reported as "math-verify unavailable"
    from mastune.tasks.base import Example
    from mastune.tasks.grade import grade

    assert not extract_math(reply).parsed
    g = grade(Example("x", "q", "5", "math"), reply)
    assert not g.parsed and not g.correct and "math-verify" not in g.detail
