"""A scripted sampler and small examples for the NeuroMAS tests."""
from __future__ import annotations

import random

from mastune.optim.neuromas.sampler import Sampled
from mastune.tasks.base import Example


class ScriptedSampler:
    """Each node replies with one of its scripted texts (seeded choice at T > 0, the first at T = 0),
    or with `fn(messages)` when its script is a function of the prompt."""

    def __init__(self, scripts: dict, default: str = "ok") -> None:
        self.scripts, self.default = scripts, default
        self.calls: list[tuple[str, float]] = []

    async def sample(self, node, messages, temperature, max_tokens, seed=None):
        self.calls.append((node, temperature))
        s = self.scripts.get(node, [self.default])
        if callable(s):
            text = s(messages)
        else:
            text = random.Random(seed).choice(s) if temperature > 0 else s[0]
        return Sampled(text, True, 0, len(text))

    async def sync(self, policy):
        pass


def tf_example(i: int, answer: str = "A") -> Example:
    return Example(f"toy/{i}", f"Take {i} steps. Turn around. Take {i} steps.\n\nA. True\nB. False", answer, "mcq",
                   {"task": "toy", "choices": ["True", "False"]})

