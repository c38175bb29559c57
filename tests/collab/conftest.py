"""A scripted team: one FakeLM that answers per role (read from the system prompt)."""
from __future__ import annotations

from collections import defaultdict

import pytest

from mastune.llm import FakeLM

ROLE_MARKERS = [
    ("ceo", "CEO of a team"),
    ("recruiter", "leader of a group of experts"),
    ("critic", "review other experts"),
    ("evaluator", "experienced evaluator"),
    ("test_writer", "write unit tests"),
    ("solver", "solve the task together"),
]

DEFAULTS = {
    "ceo": "Decision: Continue\nRecruit number: 2\nDirection: check the arithmetic\nMaximum tokens: 512",
    "recruiter": "1. A mathematician specialised in algebra.\n2. A teacher specialised in arithmetic.\n"
                 "3. A statistician specialised in rates.\n4. A physicist specialised in units.",
    "critic": "Looks right. [Agree]",
    "evaluator": "Correctness: 0\nAdvice: double-check the sum\nRecruiting suggestion: an accountant",
    "test_writer": "```python\nassert add(1, 1) == 2\n```",
    "solver": "The sum is \\boxed{4}",
}


def role_of(messages) -> str:
    # every role shares one system message; its persona ends the user message
    user = messages[-1]["content"]
    for role, marker in ROLE_MARKERS:
        if marker in user:
            return role
    raise AssertionError(f"unknown role for prompt {user!r}")


class Team:
    """Replies per role: a string, a list (one per call of that role; the last repeats) or fn(messages, n)."""

    def __init__(self, **replies) -> None:
        self.replies = {**DEFAULTS, **replies}
        self.count: dict[str, int] = defaultdict(int)
        self.lm = FakeLM("m", fn=self._answer)

    def _answer(self, messages, request) -> str:
        role = role_of(messages)
        n = self.count[role]
        self.count[role] += 1
        r = self.replies[role]
        if callable(r):
            return r(messages, n)
        if isinstance(r, list):
            return r[min(n, len(r) - 1)]
        return r

    def requests(self, role: str) -> list[dict]:
        return [q for q in self.lm.requests if role_of(q["messages"]) == role]

    @property
    def pool(self) -> dict:
        return {"m": self.lm}


@pytest.fixture
def team():
    return Team
