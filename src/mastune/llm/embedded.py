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
from ..errors import ContextOverflow, LLMError, ModelUnavailable
from .lm import LM, RawCompletion
from .types import Price


@dataclass(frozen=True)
class EngineSpec:
    path: str
    n_parallel: int = 4
    ctx_per_slot: int = 4096
    n_threads: int = 0  # 0 = all cores
    verbose: bool = False


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
        try:
            self.server = xllamacpp.Server(p)
        except Exception as e:
            raise ModelUnavailable(f"llama.cpp could not load {spec.path}: {e}") from e
        self.spec = spec
        self.pool = ThreadPoolExecutor(max_workers=spec.n_parallel, thread_name_prefix="mastune-engine")

    def complete(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.server.handle_chat_completions(request)

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
            self.gguf_path(), self.n_parallel, self.ctx_per_slot, self.n_threads, settings.get().verbose
        )
        return get_engine(spec)

    async def _generate(self, request: dict[str, Any]) -> RawCompletion:
        loop = asyncio.get_running_loop()
        engine = await loop.run_in_executor(None, self.engine)  # first use may pull + load
        try:
            resp = await loop.run_in_executor(engine.pool, engine.complete, request)
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
    extra = {"logprobs": choice["logprobs"]} if choice.get("logprobs") else {}
    return RawCompletion(
        text=choice["message"].get("content") or "",
        prompt_tokens=int(usage.get("prompt_tokens", 0)),
        completion_tokens=int(usage.get("completion_tokens", 0)),
        finish_reason=choice.get("finish_reason") or "stop",
        extra=extra,
    )
