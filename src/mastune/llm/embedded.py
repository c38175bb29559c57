"""Embedded llama.cpp engine (xllamacpp): in-process, continuous batching.

One engine per (GGUF file, engine settings), loaded once and shared by every
EmbeddedLM that names it. Requests run in a thread pool sized to the engine's
parallel slots: xllamacpp releases the GIL, so concurrent requests batch.
"""
from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import settings
from ..errors import ConfigError, ContextOverflow, LLMError, ModelUnavailable
from .lm import LM, RawCompletion
from .slots import SlotRouter, prompt_key
from .types import Price

# Engine-level speculative decoding (llama.cpp disables per-request speculative
# settings). "ngram": prompt-lookup drafts, which keep greedy outputs identical.
SPECULATIVE = ("", "ngram")


@dataclass(frozen=True)
class EngineSpec:
    path: str
    n_parallel: int = 4
    ctx_per_slot: int = 4096
    n_threads: int = 0  # 0 = all cores
    verbose: bool = False
    speculative: str = ""  # one of SPECULATIVE


class Engine:
    def __init__(self, spec: EngineSpec) -> None:
        try:
            import xllamacpp
        except ImportError as e:  # pragma: no cover - a core dependency
            raise ModelUnavailable("xllamacpp is not installed; run: pip install xllamacpp") from e
        if not Path(spec.path).is_file():
            raise ModelUnavailable(f"GGUF file not found: {spec.path}; run `mastune models pull NAME`")
        # MASTUNE_THREADS caps engine threads: llama.cpp threads spin-wait, so
        # several engines (or other jobs) on few cores run far faster with fewer.
        threads = spec.n_threads or int(os.environ.get("MASTUNE_THREADS", "0")) or os.cpu_count() or 1
        p = xllamacpp.CommonParams()
        p.model.path = spec.path
        p.n_parallel = spec.n_parallel
        p.n_ctx = spec.ctx_per_slot * spec.n_parallel  # the engine splits n_ctx across slots
        p.cpuparams.n_threads = threads
        p.cpuparams_batch.n_threads = threads
        p.verbosity = 3 if spec.verbose else -1  # llama.cpp is very chatty otherwise
        p.log_json = False
        if spec.speculative == "ngram":
            p.speculative.types = [xllamacpp.common_speculative_type.COMMON_SPECULATIVE_TYPE_NGRAM_SIMPLE]
        try:
            self.server = xllamacpp.Server(p)
        except Exception as e:
            raise ModelUnavailable(f"llama.cpp could not load {spec.path}: {e}") from e
        self.spec = spec
        self.pool = ThreadPoolExecutor(max_workers=spec.n_parallel, thread_name_prefix="mastune-engine")
        self.router = SlotRouter(spec.n_parallel)

    def complete(self, request: dict[str, Any], route: bool = True) -> dict[str, Any]:
        """One chat request; `route` sends it to the idle slot holding the longest shared prefix."""
        if not route or "id_slot" in request:
            return self.server.handle_chat_completions(request)
        key = prompt_key(request.get("messages", ()))
        slot = self.router.acquire(key)
        if slot is None:
            return self.server.handle_chat_completions(request)
        held = ""
        try:
            resp = self.server.handle_chat_completions({**request, "id_slot": slot, "cache_prompt": True})
            held = "" if "error" in resp else key
            return resp
        finally:
            self.router.release(slot, held)

    @property
    def http_address(self) -> str:
        """llama.cpp's own OpenAI-compatible HTTP server for this engine (loopback)."""
        return self.server.listening_address


_engines: dict[EngineSpec, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(spec: EngineSpec) -> Engine:
    """Load each engine once per process; models are never rebuilt per call."""
    with _engines_lock:
        engine = _engines.get(spec)
        if engine is None:
            engine = _engines[spec] = Engine(spec)
        return engine


class EmbeddedLM(LM):
    """A pool model served by the in-process llama.cpp engine.

    `model` is a built-in model name (pulled on first use) or a path to a GGUF file.
    """

    def __init__(
        self,
        name: str,
        model: str | None = None,
        *,
        n_parallel: int = 4,
        ctx_per_slot: int = 4096,
        n_threads: int = 0,
        route_slots: bool = True,
        speculative: str = "",
        price: Price = Price(),
        profile: str = "",
        **kw: Any,
    ) -> None:
        kw.setdefault("max_concurrency", n_parallel)
        super().__init__(name, price=price, profile=profile, **kw)
        self.model = model or name
        self.n_parallel = n_parallel
        self.ctx_per_slot = ctx_per_slot
        self.n_threads = n_threads
        if speculative not in SPECULATIVE:
            raise ConfigError(f"model {name!r}: speculative must be one of {SPECULATIVE!r} ('' = off), got {speculative!r}")
        self.route_slots = route_slots  # prefix-aware slot routing (see llm/slots.py)
        self.speculative = speculative
        self._path: str | None = None

    def gguf_path(self) -> str:
        if self._path is None:
            from ..models.pull import pull

            self._path = str(pull(self.model))
        return self._path

    def identity(self) -> dict[str, Any]:
        # The file's name + size identify the weights without hashing a GB per call.
        path = Path(self.gguf_path())
        return {"backend": "embedded", "file": path.name, "size": path.stat().st_size}

    def engine(self) -> Engine:
        spec = EngineSpec(
            self.gguf_path(), self.n_parallel, self.ctx_per_slot, self.n_threads, settings.get().verbose,
            self.speculative,
        )
        return get_engine(spec)

    async def _generate(self, request: dict[str, Any]) -> RawCompletion:
        loop = asyncio.get_running_loop()
        engine = await loop.run_in_executor(None, self.engine)  # first use may pull + load
        try:
            resp = await loop.run_in_executor(engine.pool, engine.complete, request, self.route_slots)
        except Exception as e:
            raise LLMError(f"llama.cpp failed on model {self.name!r}: {e}") from e
        return parse_response(resp, self.name, self.ctx_per_slot)


def parse_response(resp: dict[str, Any], name: str, ctx_per_slot: int) -> RawCompletion:
    if "error" in resp:
        err = resp["error"]
        if err.get("type") == "exceed_context_size_error":
            raise ContextOverflow(
                f"model {name!r}: prompt of {err.get('n_prompt_tokens')} tokens exceeds the "
                f"{err.get('n_ctx', ctx_per_slot)}-token context per slot; shorten the input or raise ctx_per_slot"
            )
        raise LLMError(f"model {name!r}: {err.get('message', err)}")
    choice = resp["choices"][0]
    usage = resp.get("usage", {})
    timings = resp.get("timings") or {}
    extra = {"logprobs": choice["logprobs"]} if choice.get("logprobs") else {}
    if "draft_n" in timings:  # speculative decoding on: how many drafted tokens were accepted
        extra["draft"] = {"n": int(timings["draft_n"]), "accepted": int(timings.get("draft_n_accepted", 0))}
    prompt_tokens = int(usage.get("prompt_tokens", 0))
    # timings.prompt_n = prompt tokens evaluated now, cache_n = reused from the slot's KV cache
    return RawCompletion(
        text=choice["message"].get("content") or "",
        prompt_tokens=prompt_tokens,
        completion_tokens=int(usage.get("completion_tokens", 0)),
        finish_reason=choice.get("finish_reason") or "stop",
        extra=extra,
        prompt_evaluated=int(timings.get("prompt_n", prompt_tokens)),
        prompt_cached=int(timings.get("cache_n", 0)),
    )
