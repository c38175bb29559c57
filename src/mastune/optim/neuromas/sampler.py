"""How a node's reply is sampled: the Sampler protocol and a transformers implementation.

Training samples every node at temperature T and evaluation decodes greedily
(temperature 0). A sampler returns the text plus what the learner needs to score
it: whether the reply ended by itself (then the end-of-turn token is part of the
scored sequence) and, when it knows them, the exact token ids of the backbone's
tokenizer. The embedded engine (per-request GGUF LoRA) implements the same
protocol; it returns text only, and the policy re-tokenises it.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping, Protocol, Sequence, runtime_checkable

from ...errors import ConfigError
from ...llm.types import Message

if TYPE_CHECKING:
    from ...llm.lm import LM
    from .policy import AdapterPolicy


@dataclass(frozen=True)
class Sampled:
    text: str
    finished: bool = True  # ended with end-of-turn (False: cut at max_tokens)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    token_ids: tuple[int, ...] | None = field(default=None, compare=False)  # incl. the end token when finished
    prompt_evaluated: int | None = field(default=None, compare=False)  # prompt tokens computed (not cache hits)
    # the sampler's own log-probability of each token of token_ids under the distribution it drew from
    # (the behaviour policy; None when the backend does not report it)
    token_logprobs: tuple[float, ...] | None = field(default=None, compare=False)


@runtime_checkable
class Sampler(Protocol):
    async def sample(self, node: str, messages: Sequence[Message], temperature: float, max_tokens: int,
                     seed: int | None = None) -> Sampled:
        """One reply of `node` (served with that node's adapter) to `messages`."""
        ...

    async def sync(self, policy: "AdapterPolicy") -> None:
        """Called after every update: serve the policy's new adapters from now on
        (a no-op when the sampler shares the policy's weights; the engine re-exports)."""
        ...


class TransformersSampler:
    """Samples with `policy.model.generate` under each node's adapter (slow on CPU; exact ids).

    Shares the policy's weights, so it always serves the current adapters."""

    def __init__(self, policy: "AdapterPolicy") -> None:
        self.policy = policy

    async def sample(self, node: str, messages: Sequence[Message], temperature: float, max_tokens: int,
                     seed: int | None = None) -> Sampled:
        return await asyncio.to_thread(self.policy.generate, node, messages, temperature, max_tokens, seed)

    async def sync(self, policy: "AdapterPolicy") -> None:
        if policy is not self.policy:
            raise ValueError("TransformersSampler serves the policy it was built with")


class LMSampler:
    """Samples through mastune LMs: one model per node, looked up by the node's name (a pool with
    one entry per node: vLLM / SGLang `--lora-modules node=...`, or the engine's per-node adapters),
    or one `shared` model for every node (the untrained network: all nodes are the backbone).

    Call caching is off by default: a node's adapter changes after every update while its pool
    name does not, so a cached reply could come from an older adapter. Texts only: the policy
    re-tokenises them with the backbone's HF tokenizer. For on-policy training the server must
    sample at plain temperature (no top-k / top-p / min-p cut), as the learner scores it.

    Scale path (vLLM; the adapters are `export_peft` folders; `model_id` picks the adapter):

        vllm serve BASE --enable-lora --max-loras 8 --max-lora-rank 8 \
            --lora-modules h1_0=OUT/peft/h1_0 h2_0=OUT/peft/h2_0 out=OUT/peft/out
        # pool.yaml
        models:
          - {name: h1_0, backend: openai, base_url: http://127.0.0.1:8000/v1, model_id: h1_0}
          - {name: h2_0, backend: openai, base_url: http://127.0.0.1:8000/v1, model_id: h2_0}
          - {name: out,  backend: openai, base_url: http://127.0.0.1:8000/v1, model_id: out}

    then `LMSampler(Pool.from_yaml("pool.yaml"))`. llama.cpp's own server (`llama-server --lora
    F1 --lora F2 ...`, or the embedded engine's HTTP address) ignores the model name and picks
    adapters from the request body instead: `extra={node: llama_server_lora(i, n)}` adds them
    (tests/optim/neuromas/test_engine_sampler.py runs this against llama.cpp's server on loopback).
    `extra`: request fields per node (sampling settings such as top_k=0 for plain temperature)."""

    def __init__(self, models: "Mapping[str, LM] | None" = None, *, shared: "LM | None" = None,
                 use_cache: bool = False, extra: "Mapping[str, Mapping] | None" = None) -> None:
        if (models is None) == (shared is None):
            raise ValueError("give exactly one of `models` (one per node) or `shared`")
        self.models, self.shared, self.use_cache = models, shared, use_cache
        self.extra = {k: dict(v) for k, v in (extra or {}).items()}

    def model_for(self, node: str) -> "LM":
        if self.shared is not None:
            return self.shared
        try:
            return self.models[node]
        except KeyError:
            raise ConfigError(f"no model for node {node!r}: the pool needs one entry per node "
                              f"(named like the node: {node})") from None

    async def sample(self, node: str, messages: Sequence[Message], temperature: float, max_tokens: int,
                     seed: int | None = None) -> Sampled:
        c = await self.model_for(node).chat(messages, max_tokens=max_tokens, temperature=temperature, seed=seed,
                                            use_cache=self.use_cache, **self.extra.get(node, {}))
        return Sampled(c.text, c.finish_reason != "length", c.usage.prompt_tokens, c.usage.completion_tokens)

    async def sync(self, policy: "AdapterPolicy") -> None:
        """Nothing to do here; a sampler whose server must load new adapters overrides this."""


def llama_server_lora(index: int, count: int, scale: float = 1.0) -> dict:
    """Request fields that select adapter `index` of the `count` a llama.cpp server loaded (in its
    --lora order): every adapter with an explicit scale (the server keeps unlisted ones at their load
    scale), and no prompt-cache reuse across adapters."""
    return {"lora": [{"id": i, "scale": float(scale) if i == index else 0.0} for i in range(count)],
            "cache_prompt": False}
