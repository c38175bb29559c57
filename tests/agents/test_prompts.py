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
    assert "Inspector" not in system  # the role goes after the shared content (prefix reuse)
    assert user.startswith("Task:\nQ?\n\n")
    assert "Agent Math Solver said:\n42\n" in user and "Agent Mathematical Analyst said:\nplan" in user
    assert user.index("Math Solver") < user.index("Mathematical Analyst")  # edge order
    role_line = user.index("You are the Inspector.")
    assert role_line > user.index("Agent Mathematical Analyst said:") and "check" in user[role_line:]
    assert user.rstrip().endswith("Put the final answer in \\boxed{}.")


def _token_prefix(a: list[dict], b: list[dict]) -> str:
    """The common prefix of two calls' messages, rendered the way a chat template lays them out."""
    ra, rb = ("".join(f"<{m['role']}>{m['content']}" for m in x) for x in (a, b))
    n = next((i for i, (x, y) in enumerate(zip(ra, rb)) if x != y), min(len(ra), len(rb)))
    return ra[:n]


def test_calls_sharing_task_and_predecessors_share_a_prefix():
    """Layout for KV-cache reuse: a successor's prompt extends its predecessor's shared part,
    and a synthesiser and decision share everything up to their own instruction."""
    analyst = messages("role", question="Q?", family_name="math", role="Mathematical Analyst")
    solver = messages("role", question="Q?", family_name="math", role="Math Solver",
                      inputs=[("Mathematical Analyst", "plan")])
    inspector = messages("role", question="Q?", family_name="math", role="Inspector",
                         inputs=[("Mathematical Analyst", "plan"), ("Math Solver", "42")])
    decision = messages("decision", question="Q?", family_name="math",
                        inputs=[("Mathematical Analyst", "plan"), ("Math Solver", "42"), ("Inspector", "41")])
    synth = messages("synthesise", question="Q?", family_name="math", role="Inspector",
                     inputs=[("Mathematical Analyst", "plan"), ("Math Solver", "42")], proposals=["a", "b"])
    assert _token_prefix(analyst, solver).endswith("Task:\nQ?\n\n")
    assert _token_prefix(solver, inspector).endswith("Agent Mathematical Analyst said:\nplan\n\n")
    assert _token_prefix(inspector, decision).endswith("Agent Math Solver said:\n42\n\n")
    assert _token_prefix(inspector, synth).endswith("Agent Math Solver said:\n42\n\n")


def test_non_answering_role_gets_advice_format_and_source_has_no_context():
    user = messages("role", question="def f(): ...", family_name="code", role="Project Manager", answers=False)[1]["content"]
    assert "said:" not in user and "Do not write the full implementation" in user


def test_braces_in_questions_are_safe():
    user = messages("cot", question="Solve {x} = \\frac{1}{2}", family_name="math")[1]["content"]
    assert "{x} = \\frac{1}{2}" in user


def test_unknown_template():
    with pytest.raises(ConfigError, match="unknown prompt template"):
        messages("sonnet", question="q", family_name="math")
