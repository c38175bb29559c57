"""Shared fixtures. Engine tests use the real user model cache (models are
pulled once); call caches are always per-test temporary files."""
from __future__ import annotations

import contextlib
import subprocess
import sys
from collections import defaultdict

import pytest

from mastune import settings
from mastune.llm import FakeLM
from mastune.llm.cache import CallCache


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def call_cache(tmp_path):
    cache = CallCache(tmp_path / "calls.sqlite")
    with settings.context(cache=cache):
        yield cache


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray cluster for every Ray test of the session (2 CPUs, usage stats off); its address."""
    import os

    ray = pytest.importorskip("ray")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture
def settled():
    """`await settled(fn)`: fn() once every Ray actor answers (a killed one may still be restarting)."""
    async def call(fn, timeout_s: float = 60.0):
        import asyncio
        import time

        import ray

        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return fn()
            except (ray.exceptions.ActorUnavailableError, ray.exceptions.RayActorError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.25)

    return call


@pytest.fixture(scope="session")
def smollm_path():
    from mastune.models.pull import pull

    return str(pull("smollm2-135m"))


@pytest.fixture(scope="session")
def engine_pool(smollm_path):
    """The built-in pool; only the smallest model is used in CI tests."""
    from mastune.llm.pool import Pool

    return Pool.default()


CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A 2-layer, 64-wide random Llama (HF format) with a byte-level BPE tokenizer trained on a few strings."""
    pytest.importorskip("transformers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    import torch

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(["You are a mathematician. Solve the task. The answer is \\boxed{4}. [Agree]"] * 5, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(path)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(path)
    return str(path)


@pytest.fixture
def another_writer():
    return _another_writer


@contextlib.contextmanager
def _another_writer(folder):
    """A separate process holding `folder`'s writer lock (as a second `mastune` run would); yields its pid."""
    folder.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, time\n"
        f"f = open({str(folder / '.lock')!r}, 'a+'); fcntl.flock(f, fcntl.LOCK_EX)\n"
        "f.write(str(os.getpid())); f.flush(); print('locked', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture(scope="session")
def smollm_gguf_hf(smollm_path):
    """(tokenizer, model): SmolLM2-135M's GGUF loaded by transformers (fp32; ~40 s, so once per session)."""
    pytest.importorskip("transformers")
    pytest.importorskip("gguf")
    from mastune.models.export_hf import load_gguf_hf

    return load_gguf_hf(smollm_path, "fp32")


@pytest.fixture(scope="session")
def smollm_hf(smollm_gguf_hf, smollm_path, tmp_path_factory):
    """SmolLM2-135M exported from its GGUF to a transformers folder (fp32: the exact dequantised weights)."""
    from mastune.models.export_hf import save_hf

    tok, model = smollm_gguf_hf
    return str(save_hf(tok, model, tmp_path_factory.mktemp("smollm-hf") / "model", dtype="fp32"))


# ---- a scripted collab team: one FakeLM that answers per role (read from the system prompt)

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
