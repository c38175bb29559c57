"""A scripted pool for HieraMAS tests: arithmetic questions, models that are right or wrong, cheap or pricey."""
from __future__ import annotations

import re

from mastune.llm import FakeLM, Price
from mastune.tasks.base import Example

QUESTION = re.compile(r"What is (\d+) \+ (\d+)\?")


def gold(messages) -> int:
    # the task is in the last message, or (transcript layout) earlier in the continued conversation
    a, b = QUESTION.search("\n".join(m["content"] for m in messages)).groups()
    return int(a) + int(b)


def model(name: str, *, offset: int = 0, price: float = 1.0) -> FakeLM:
    """Answers a + b + offset (offset 0 = right) in a \\boxed{}."""
    return FakeLM(name, fn=lambda m, r: f"Adding up gives \\boxed{{{gold(m) + offset}}}.",
                  price=Price(price, price), profile=f"scripted model {name}")


def examples(n: int, start: int = 0) -> list[Example]:
    out = []
    for i in range(start, start + n):
        a, b = 3 + 7 * i, 11 + 5 * i
        out.append(Example(f"add/{i}", f"What is {a} + {b}?", str(a + b), "math", {"task": "add"}))
    return out
