"""Embedded llama.cpp engine (xllamacpp): in-process, continuous batching.

One engine per (GGUF file, engine settings, LoRA adapters), loaded once and
shared by every EmbeddedLM that names it. Requests run in a thread pool sized to
the engine's parallel slots: xllamacpp releases the GIL, so concurrent requests
batch. Thread counts come from the shared budget (threads.py); adapters and
their per-request selection from lora.py.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .. import settings
from ..errors import ConfigError, ContextOverflow, LLMError, ModelUnavailable
from . import threads as thread_budget
from .lm import LM, RawCompletion
from .lora import Adapter, AdapterSet
from .slots import SlotRouter, held_key, prompt_key
from .types import Completion, Message, Price

# Engine-level speculative decoding (llama.cpp disables per-request speculative
# settings). "ngram": prompt-lookup drafts, which keep greedy outputs identical.
SPECULATIVE = ("", "ngram")

log = logging.getLogger("mastune.llm")
ADAPTER_FIELD = "mastune_adapter"  # request field (and cache-key part) naming the adapter + weights digest

# Base models (no chat template in the GGUF, or a registry entry with instruct=False): llama.cpp would
# fall back to ChatML, whose tags a base model echoes for hundreds of tokens instead of answering. They
# get a plain "Q: ... A:" completion prompt instead (on gemma3-270m it answered short questions best
# of the formats tried; "Question:/Answer:" and Gemma's own turn tags did worse), and the next "Q:" it
# starts to write ends the reply.
COMPLETION_TEMPLATE = (  # no whitespace control: llama.cpp renders with trim_blocks, so no newline follows a tag
    "{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'user' %}Q: {{ m['content'] }}\n"
    "{% else %}A: {{ m['content'] }}\n\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}A:{% endif %}"
)
COMPLETION_STOP = ("\nQ:",)
PROMPT_FORMATS = ("auto", "chat", "completion")


@dataclass(frozen=True)
class EngineSpec:
    path: str
    n_parallel: int = 4
    ctx_per_slot: int = 4096
    n_threads: int = 0  # 0 = the thread budget (threads.py); MASTUNE_THREADS overrides
    verbose: bool = False
    adapters: AdapterSet = field(default_factory=AdapterSet)  # LoRA adapters loaded on this base
    adapter_prompt_cache: bool = False  # reuse the prompt cache on adapter engines (see lora.py, slots.py)
    prefix_wait_chars: int = 0  # wait for a busy slot computing this much more shared prefix (slots.py)
    # None: llama.cpp decides (on for CPU). Its CPU flash-attention kernel gives results that depend on
    # how a prompt is split into evaluated chunks, so a reused prefix can flip a near-tie greedy token
    # (measured on smollm2-135m with two adapters); off, reuse reproduced every full evaluation.
    flash_attn: bool | None = None
    speculative: str = ""  # one of SPECULATIVE
    chat_template: str = ""  # "" = the GGUF's own; else a Jinja template (COMPLETION_TEMPLATE for base models)

    def same_engine_but_weights(self, other: "EngineSpec") -> bool:
        """Equal but for the adapters' weights: `other` is an older load of this engine."""
        return (self.path, self.n_parallel, self.ctx_per_slot, self.n_threads, self.verbose,
                self.adapter_prompt_cache, self.prefix_wait_chars, self.flash_attn, self.speculative,
                self.chat_template) == (
                    other.path, other.n_parallel, other.ctx_per_slot, other.n_threads, other.verbose,
                    other.adapter_prompt_cache, other.prefix_wait_chars, other.flash_attn, other.speculative,
                    other.chat_template) \
            and self.adapters.same_files(other.adapters) and self.adapters != other.adapters


class Engine:
    """One loaded llama.cpp server; reloaded (same spec) when its thread share changes.

    Plain engines may also hold a solo instance (threads.py): a second load with the
    process's whole share, used by requests that start while no other engine computes."""

    def __init__(self, spec: EngineSpec, budget: thread_budget.ThreadBudget | None = None) -> None:
        try:
            import xllamacpp  # noqa: F401
        except ImportError as e:  # pragma: no cover - a core dependency
            raise ModelUnavailable("xllamacpp is not installed; run: pip install xllamacpp") from e
        if not Path(spec.path).is_file():
            raise ModelUnavailable(f"GGUF file not found: {spec.path}; run `mastune models pull NAME`")
        self.spec = spec
        self.budget = budget or thread_budget.budget()
        self._cv = threading.Condition()
        self._inflight = 0
        self._blocked = False  # reloading or closing: new requests wait
        self._closed = False
        self._checked = time.monotonic()
        self._grow_seen: float | None = None  # since when a larger share has been on offer
        self.reloads = 0  # thread-share reloads (for benchmarks and tests)
        self._solo: Any = None  # the solo instance: loaded with the engine, or kept from its older load
        self._solo_lock = threading.Lock()
        self._solo_failed = False  # its load failed: not retried until the next thread change
        self.solo_requests = 0  # requests served by the solo instance (for benchmarks and tests)
        self.budget.add(id(self))
        try:
            self.allocation = self.budget.allocate(spec.n_threads)
            self.server: Any = self._load(self.allocation.threads)
        except BaseException:
            self.budget.remove(id(self))
            raise
        self._solo_ready()  # loaded now, not in the first request that starts alone
        self.pool = ThreadPoolExecutor(max_workers=spec.n_parallel, thread_name_prefix="mastune-engine")
        self.router, self.solo_router = self._new_router(), self._new_router()

    def _new_router(self) -> SlotRouter:
        return SlotRouter(self.spec.n_parallel, wait_chars=self.spec.prefix_wait_chars)

    @property
    def threads(self) -> int:
        return self.allocation.threads

    def _load(self, threads: int) -> Any:
        import xllamacpp

        spec = self.spec
        p = xllamacpp.CommonParams()
        p.model.path = spec.path
        p.n_parallel = spec.n_parallel
        p.n_ctx = spec.ctx_per_slot * spec.n_parallel  # the engine splits n_ctx across slots
        p.cpuparams.n_threads = threads
        p.cpuparams_batch.n_threads = threads
        p.verbosity = 3 if spec.verbose else -1  # llama.cpp is very chatty otherwise
        p.log_json = False
        if spec.flash_attn is not None:
            fa = xllamacpp.llama_flash_attn_type
            p.flash_attn_type = fa.LLAMA_FLASH_ATTN_TYPE_ENABLED if spec.flash_attn else fa.LLAMA_FLASH_ATTN_TYPE_DISABLED
        if spec.speculative == "ngram":
            p.speculative.types = [xllamacpp.common_speculative_type.COMMON_SPECULATIVE_TYPE_NGRAM_SIMPLE]
        if spec.chat_template:
            p.chat_template = spec.chat_template
        if spec.adapters:
            spec.adapters.configure(p)
        try:
            return xllamacpp.Server(p)
        except Exception as e:
            raise ModelUnavailable(f"llama.cpp could not load {spec.path}: {e}") from e

    # -- requests ----------------------------------------------------------------------------------
    def complete(self, request: dict[str, Any], route: bool = True) -> dict[str, Any]:
        """One chat request; `route` sends it to the idle slot holding the longest shared prefix."""
        self._enter()
        try:
            # a caller's own slot number names a slot of the split instance
            may_solo = "id_slot" not in request and self._solo_ready()
            grace = thread_budget.SOLO_GRACE_S if may_solo else 0.0  # no wait where solo cannot be
            with self.budget.computing(id(self), grace) as alone:
                return self._routed(request, route, alone and may_solo)
        finally:
            with self._cv:
                self._inflight -= 1
                self._cv.notify_all()

    def _solo_ready(self) -> bool:
        """Load the solo instance if this engine should have one (called in flight: no reload races)."""
        # Adapter engines stay single: their weights are swapped per training step, and a second
        # copy would double that work for the one-engine processes that train.
        if not self.allocation.solo or self.spec.adapters or self._solo_failed:
            return False
        with self._solo_lock:
            if self._solo is None:
                try:
                    self._solo = self._load(self.allocation.solo)
                except ModelUnavailable:  # no memory for a second KV cache, say: the split instance serves
                    self._solo_failed = True
                    return False
            return True

    def _routed(self, request: dict[str, Any], route: bool, solo: bool = False) -> dict[str, Any]:
        # Plain engines: reuse whatever prefix a slot holds (llama.cpp matches tokens, always valid).
        # Adapter engines: a slot's KV is valid only under the adapter it was computed with, so every
        # request goes through the router (which then knows what each slot holds), reuses a slot's
        # cache only when the slot last held the same adapter selection, and never goes unrouted.
        adapters = bool(self.spec.adapters)
        server, router = (self._solo, self.solo_router) if solo else (self.server, self.router)
        if solo:
            self.solo_requests += 1
        if "id_slot" in request:  # the caller's slot: on an adapter engine, no reuse and its content unknown
            if not adapters:
                return server.handle_chat_completions(request)
            try:
                return server.handle_chat_completions({**request, "cache_prompt": False})
            finally:
                router.forget(int(request["id_slot"]))
        if not route:
            return server.handle_chat_completions({**request, "cache_prompt": False} if adapters else request)
        key = prompt_key(request.get("messages", ()))
        tag = repr([(x["id"], x["scale"]) for x in request.get("lora", ())])
        lease = router.acquire(key, tag, block=adapters)
        if lease is None:
            return server.handle_chat_completions(request)
        held: str | None = None
        try:
            reuse = (lease.reuse or not adapters) and request.get("cache_prompt") is not False
            resp = server.handle_chat_completions({**request, "id_slot": lease.slot, "cache_prompt": reuse})
            held = None if "error" in resp else held_key(key, reply_text(resp))
            return resp
        finally:
            router.release(lease.slot, held, tag)

    def _enter(self) -> None:
        with self._cv:
            while self._blocked:
                self._cv.wait()
            if self._closed:
                raise ModelUnavailable(f"engine for {Path(self.spec.path).name} was closed (reloaded); call again")
            now = time.monotonic()
            if now - self._checked >= thread_budget.RECHECK_S:
                self._checked = now
                self._rethread(self.budget.allocate(self.spec.n_threads))
            if self.server is None:  # a reload failed earlier: try again (raises a typed error)
                self.server = self._load(self.threads)
            self._inflight += 1

    def _rethread(self, want: thread_budget.Allocation) -> None:
        """Called holding the condition. Shrink at once (drain first); grow only when idle."""
        if (want.threads, want.solo) == (self.threads, self.allocation.solo):
            self.allocation, self._grow_seen = want, None
            return
        if want.threads > self.threads or (want.threads == self.threads and want.solo > self.allocation.solo):
            # Growing waits for an idle moment and a share that has lasted GROW_AFTER_S: a reload
            # stalls running requests, and a short-lived neighbour would make it thrash.
            now = time.monotonic()
            self._grow_seen = self._grow_seen if self._grow_seen is not None else now
            if self._inflight or now - self._grow_seen < thread_budget.GROW_AFTER_S:
                return
        self._grow_seen = None
        self._blocked = True
        try:
            while self._inflight:
                self._cv.wait()
            # An instance already loaded with a thread count the new allocation wants is kept (with
            # its KV cache): a second engine arriving turns the old all-cores load into the solo one.
            have = {self.threads: (self.server, self.router)}
            if self._solo is not None:
                have[self.allocation.solo] = (self._solo, self.solo_router)
            primary = have.pop(want.threads, None)
            solo = have.pop(want.solo, None) if want.solo else None
            self.server = self._solo = None
            have.clear()  # free the contexts (and threads) nobody keeps before a new one loads
            self._solo_failed = False
            self._solo, self.solo_router = solo or (None, self._new_router())
            if primary is None:
                self.server, self.router = self._load(want.threads), self._new_router()
                self.reloads += 1
            else:
                self.server, self.router = primary
            self.allocation = want
            self._solo_ready()
        finally:
            self._blocked = False
            self._cv.notify_all()

    def refresh(self) -> None:
        """Re-read the budget now if idle (another engine just loaded in this process)."""
        with self._cv:
            if not (self._blocked or self._closed or self._inflight):
                self._checked = time.monotonic()
                self._rethread(self.budget.allocate(self.spec.n_threads))

    def close(self) -> None:
        """Wait for in-flight requests, then free the model and give its threads back to the budget."""
        with self._cv:
            if self._closed:
                return
            self._blocked = True
            while self._inflight:
                self._cv.wait()
            self._closed = True
            self.server = self._solo = None
            self._blocked = False
            self._cv.notify_all()
        self.budget.remove(id(self))
        self.pool.shutdown(wait=False)

    @property
    def http_address(self) -> str:
        """llama.cpp's own OpenAI-compatible HTTP server for this engine (loopback)."""
        return self.server.listening_address


_engines: dict[EngineSpec, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(spec: EngineSpec) -> Engine:
    """Load each engine once per process; models are never rebuilt per call.

    An engine whose adapters got new weights replaces the older load, which is
    closed in the background once its in-flight requests are done."""
    with _engines_lock:
        engine = _engines.get(spec)
        if engine is None:
            replaced = [s for s in _engines if spec.same_engine_but_weights(s)]
            for old in replaced:
                threading.Thread(target=_engines.pop(old).close, daemon=True).start()
            first = not replaced and not any(s.path == spec.path for s in _engines)
            if first:  # the first load of a file takes seconds to a minute: say why nothing happens yet
                size = Path(spec.path).stat().st_size if Path(spec.path).is_file() else 0
                log.info("loading %s (%d MB) into the llama.cpp engine (once per process)...",
                         Path(spec.path).name, round(size / 1e6))
            t0 = time.monotonic()
            engine = _engines[spec] = Engine(spec)
            if first:
                log.info("loaded %s in %.1f s", Path(spec.path).name, time.monotonic() - t0)
            for other in _engines.values():  # idle engines take their smaller share at once
                if other is not engine:
                    other.refresh()
        return engine


class EmbeddedLM(LM):
    """A pool model served by the in-process llama.cpp engine.

    `model` is a built-in model name (pulled on first use) or a path to a GGUF file.
    `adapters` names GGUF LoRA files loaded on that base (one engine serves them
    all); a call picks one with `chat(..., adapter=NAME)`, else `adapter` (the
    entry's default) or none (the base model). Rewriting an adapter file is
    picked up on the next call: new weights, a new engine load, new cache keys.
    `prompt_format`: auto | chat (the GGUF's chat template) | completion (a plain Q/A prompt for
    base models; auto picks it for instruct=False built-ins and files without a chat template).
    """

    def __init__(
        self,
        name: str,
        model: str | None = None,
        *,
        n_parallel: int = 4,
        ctx_per_slot: int = 4096,
        n_threads: int = 0,
        adapters: Mapping[str, str | Path] | None = None,
        adapter: str | None = None,
        adapter_prompt_cache: bool = False,
        prefix_wait_chars: int = 0,
        flash_attn: bool | None = None,
        route_slots: bool = True,
        speculative: str = "",
        prompt_format: str = "auto",
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
        self.adapter_files = {str(k): str(v) for k, v in (adapters or {}).items()}
        if adapter is not None and adapter not in self.adapter_files:
            raise ConfigError(f"model {name!r}: default adapter {adapter!r} is not one of its adapters "
                              f"{sorted(self.adapter_files)}")
        self.adapter = adapter
        self.adapter_prompt_cache = adapter_prompt_cache
        self.prefix_wait_chars = int(prefix_wait_chars)
        self.flash_attn = flash_attn
        if speculative not in SPECULATIVE:
            raise ConfigError(f"model {name!r}: speculative must be one of {SPECULATIVE!r} ('' = off), got {speculative!r}")
        self.route_slots = route_slots  # prefix-aware slot routing (see llm/slots.py)
        self.speculative = speculative
        if prompt_format not in PROMPT_FORMATS:
            raise ConfigError(f"model {name!r}: prompt_format must be one of {PROMPT_FORMATS!r}, "
                              f"got {prompt_format!r}")
        self.prompt_format = prompt_format
        self._path: str | None = None
        self._completion: bool | None = None

    def gguf_path(self) -> str:
        if self._path is None:
            from ..models.pull import pull

            self._path = str(pull(self.model))
        return self._path

    def identity(self) -> dict[str, Any]:
        # The file's name + size identify the weights without hashing a GB per call.
        # (The adapter and its weights digest are in the request: see ADAPTER_FIELD.)
        path = Path(self.gguf_path())
        ident: dict[str, Any] = {"backend": "embedded", "file": path.name, "size": path.stat().st_size}
        if self.completion_format():  # other prompts, other replies: never the old ChatML ones from the cache
            ident["prompt"] = "completion-v1"
        return ident

    def completion_format(self) -> bool:
        """Whether this model gets the plain Q/A prompt (a base model) rather than its chat template.

        auto: a built-in model by its registry entry (instruct=False), any other file by whether it
        carries a chat template."""
        if self._completion is None:
            if self.prompt_format != "auto":
                self._completion = self.prompt_format == "completion"
            else:
                from ..models.gguf_meta import has_chat_template
                from ..models.pull import cached_name
                from ..models.registry import resolve

                path = self.gguf_path()
                builtin = resolve(self.model) or resolve(cached_name(path) or "")
                if builtin is not None:
                    self._completion = not builtin.instruct
                else:
                    try:
                        self._completion = not has_chat_template(path)
                    except (OSError, ValueError):  # llama.cpp will say what is wrong with the file
                        self._completion = False
        return self._completion

    def adapters(self) -> AdapterSet:
        """The adapters as they are on disk now (digests re-hashed only when a file changed)."""
        return AdapterSet.from_files(self.adapter_files)

    def set_adapters(self, adapters: Mapping[str, str | Path]) -> None:
        """Serve another set of named adapters (the next call loads them)."""
        self.adapter_files = {str(k): str(v) for k, v in adapters.items()}
        if self.adapter is not None and self.adapter not in self.adapter_files:
            self.adapter = None

    def engine(self, adapters: AdapterSet | None = None) -> Engine:
        spec = EngineSpec(
            self.gguf_path(), self.n_parallel, self.ctx_per_slot, self.n_threads, settings.get().verbose,
            adapters if adapters is not None else self.adapters(), self.adapter_prompt_cache,
            self.prefix_wait_chars, self.flash_attn, self.speculative,
            COMPLETION_TEMPLATE if self.completion_format() else "",
        )
        return get_engine(spec)

    async def chat(self, messages: Sequence[Message], *, adapter: str | None = None, adapter_scale: float = 1.0,
                   **kw: Any) -> Completion:
        """`adapter`: one of this model's adapters for this call (default: the entry's own, if any)."""
        name = adapter if adapter is not None else self.adapter
        if name is not None:
            chosen: Adapter = self.adapters().get(name)
            # In the request, hence in the cache key: new weights never hit an old cached reply.
            kw[ADAPTER_FIELD] = {"name": chosen.name, "digest": chosen.digest, "scale": float(adapter_scale)}
        return await super().chat(messages, **kw)

    async def _generate(self, request: dict[str, Any]) -> RawCompletion:
        loop = asyncio.get_running_loop()
        request = dict(request)
        chosen = request.pop(ADAPTER_FIELD, None)
        adapters = await loop.run_in_executor(None, self.adapters)
        if chosen is not None and adapters.get(chosen["name"]).digest != chosen["digest"]:
            raise LLMError(f"model {self.name!r}: adapter {chosen['name']!r} was rewritten while this call "
                           "was queued; call again")
        engine = await loop.run_in_executor(None, self.engine, adapters)  # first use may pull + load
        request.update(adapters.request_fields(chosen and chosen["name"], chosen["scale"] if chosen else 1.0,
                                               self.adapter_prompt_cache))
        if self.completion_format():  # a base model goes on to write the next question: stop there
            request["stop"] = list(request.get("stop") or []) + [s for s in COMPLETION_STOP
                                                                 if s not in (request.get("stop") or [])]
        try:
            resp = await loop.run_in_executor(engine.pool, engine.complete, request, self.route_slots)
        except ModelUnavailable:
            raise  # a closed (reloaded) engine: retried by LM.chat
        except Exception as e:
            raise LLMError(f"llama.cpp failed on model {self.name!r}: {e}") from e
        return parse_response(resp, self.name, self.ctx_per_slot)


def reply_text(resp: dict[str, Any]) -> str:
    """The generated text of a chat response ("" when it has none)."""
    choices = resp.get("choices") or [{}]
    return (choices[0].get("message") or {}).get("content") or ""


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
