"""A task whose right behaviour is known, to check that the RL machinery learns at all.

Each item lists five fruits in a seeded order and asks for one; the reward is 1 iff the first of the
listed fruits the reply names is the target (default "cherry"). SmolLM2-135M names the target in
about 9% of its samples at T = 0.7 and in none of its greedy replies, so greedy success goes from
~0 to ~1 only if the sampled token ids, the advantages' sign, the update and the adapter the
engine serves all line up: a sign error, an adapter that is not served or a stale weight stays at 0.
"""
from __future__ import annotations

import random
import re

from ...tasks.base import Example

FRUITS = ("apple", "banana", "cherry", "grape", "mango", "lemon", "peach", "plum")
TARGET = "cherry"


def fruit_items(n: int, *, offset: int = 0, target: str = TARGET) -> list[Example]:
    """n items (ids fruit-<offset + i>), each listing the target among five fruits."""
    out = []
    for i in range(offset, offset + n):
        r = random.Random(i)
        opts = r.sample(FRUITS, 5)
        if target not in opts:
            opts[r.randrange(5)] = target
        q = f"Pick one of these fruits: {', '.join(opts)}. Reply with the fruit's name only."
        out.append(Example(f"fruit-{i}", q, target, "mcq", {"task": "fruit", "options": opts}))
    return out


def named_fruit(reply: str) -> str | None:
    """The first fruit of FRUITS the reply names (plural allowed), or None."""
    m = re.search(r"\b(" + "|".join(FRUITS) + r")s?\b", reply.lower())
    return m.group(1) if m else None


def fruit_reward(example: Example, reply: str) -> float:
    return 1.0 if named_fruit(reply) == example.answer else 0.0
