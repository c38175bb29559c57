import pytest

from mastune.agents import canonical_family, family, messages
from mastune.errors import ConfigError


def test_roles_per_family_follow_the_spec():
    assert [r.name for r in family("math").roles] == ["Mathematical Analyst", "Math Solver", "Inspector"]
    code = family("humaneval")
    assert [r.name for r in code.roles] == [
        "Project Manager", "Algorithm Designer", "Programming Expert", "Test Analyst", "Bug Fixer"]
    assert [r.name for r in code.roles if r.answers] == ["Programming Expert", "Test Analyst", "Bug Fixer"]
    assert len(family("mmlu").roles) == 8 and family("mcq").role("Critic").answers


def test_final_answer_formats():
    assert "\\boxed{}" in family("gsm8k").format
    assert "The answer is X" in family("mcq").format
    assert "```python" in family("code").format


def test_aliases_and_unknown_family():
    assert canonical_family("MMLU-Redux") == "mcq"
    with pytest.raises(ConfigError, match="unknown task family"):
        canonical_family("poetry")


def test_role_message_shows_predecessors_and_format():
    msgs = messages("role", question="Q?", family_name="math", role="Inspector",
                    inputs=[("Math Solver", " 42 "), ("Mathematical Analyst", "plan")])
    system, user = msgs[0]["content"], msgs[1]["content"]
    assert system.startswith("You are the Inspector") and "check" in system
    assert "Agent Math Solver said:\n42\n" in user and "Agent Mathematical Analyst said:\nplan" in user
    assert user.index("Math Solver") < user.index("Mathematical Analyst")  # edge order
    assert user.rstrip().endswith("Put the final answer in \\boxed{}.")


def test_non_answering_role_gets_advice_format_and_source_has_no_context():
    user = messages("role", question="def f(): ...", family_name="code", role="Project Manager", answers=False)[1]["content"]
    assert "said:" not in user and "Do not write the full implementation" in user


def test_braces_in_questions_are_safe():
    user = messages("cot", question="Solve {x} = \\frac{1}{2}", family_name="math")[1]["content"]
    assert "{x} = \\frac{1}{2}" in user


def test_unknown_template():
    with pytest.raises(ConfigError, match="unknown prompt template"):
        messages("sonnet", question="q", family_name="math")
