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



class ScriptedFiles(ScriptedSampler):
    """A ScriptedSampler a Ray worker points at adapter files (NeuroMAS ray_episodes.FileSampler).
    `tag`: every reply ends with the digest of the files it was served with, so a test can see which
    version sampled it."""

    def __init__(self, scripts: dict, tag: bool = False, latency_s: float = 0.0) -> None:
        super().__init__(scripts)
        self.tag, self.latency_s, self.served = tag, latency_s, ""

    def load(self, files):
        import hashlib

        self.served = hashlib.sha256(b"".join(open(files[n], "rb").read() for n in sorted(files))).hexdigest()[:8]

    async def sample(self, node, messages, temperature, max_tokens, seed=None):
        import asyncio

        await asyncio.sleep(self.latency_s)
        s = await super().sample(node, messages, temperature, max_tokens, seed)
        return Sampled(f"{s.text} [{self.served}]", True, 0, s.completion_tokens) if self.tag else s


class ScriptedOnWorker:
    """The factory each worker calls (pickled by value: tests register this module with cloudpickle)."""

    def __init__(self, scripts: dict, tag: bool = False, latency_s: float = 0.0) -> None:
        self.scripts, self.tag, self.latency_s = scripts, tag, latency_s

    def __call__(self, work_dir):
        return ScriptedFiles(self.scripts, self.tag, self.latency_s)


def state_export(policy) -> dict:
    """The driver's export for a policy without a GGUF backbone: each node's adapter tensors, saved."""
    import io

    import torch

    out = {}
    for n in policy.nodes:
        buf = io.BytesIO()
        torch.save({k: v.detach().cpu() for k, v in sorted(policy.adapter_state(n).items())}, buf)
        out[n] = buf.getvalue()
    return out
