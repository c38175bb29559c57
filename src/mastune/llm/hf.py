"""A pool model served by transformers in-process, optionally with a LoRA adapter (peft).

This is how a `mastune train sft` adapter is used without any conversion:

    models:
      - name: m1
        backend: hf
        adapter: adapters/m1        # base model read from the adapter's config
        # model: path/or/hub-id     # or name the base explicitly

Slower than the embedded llama.cpp engine (no batching: one generation at a
time per loaded model), so it is meant for fine-tuned models and for GPUs;
built-in GGUF models stay on `backend: embedded`.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from .. import settings
from ..errors import ConfigError, ContextOverflow, LLMError
from .lm import LM, RawCompletion
from .types import Price


def adapter_base(adapter: str) -> str:
    """The base model an adapter was trained on, from its peft config."""
    cfg = Path(adapter) / "adapter_config.json"
    if not cfg.is_file():
        raise ConfigError(f"{adapter!r} is not a LoRA adapter folder (no adapter_config.json)")
    base = json.loads(cfg.read_text()).get("base_model_name_or_path")
    if not base:
        raise ConfigError(f"{cfg} names no base model; set `model:` in the pool entry")
    return str(base)


def _fingerprint(path: str) -> str:
    """Content hash of a local model/adapter folder's small files + sizes of the big ones.

    Goes into cache keys, so retraining an adapter in place never serves stale cached replies."""
    p = Path(path)
    if not p.exists():
        return path  # a hub id: its name is all we have offline
    h = hashlib.sha256()
    for f in sorted(p.rglob("*") if p.is_dir() else [p]):
        if not f.is_file():
            continue
        h.update(str(f.relative_to(p) if p.is_dir() else f.name).encode())
        size = f.stat().st_size
        # Adapters are MBs: hash them whole. Base weights can be GBs: their size stands in.
        if size <= 64 * 2**20:
            h.update(f.read_bytes())
        else:
            h.update(str(size).encode())
    return h.hexdigest()[:16]


def torch_device_dtype(device: str = "auto", dtype: str = "auto") -> tuple[str, Any]:
    """auto: cuda when available, else cpu; bfloat16 on cuda, float32 on cpu."""
    import torch

    device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    if dtype == "auto":
        return device, torch.bfloat16 if device.startswith("cuda") else torch.float32
    if not isinstance(getattr(torch, dtype, None), torch.dtype):
        raise ConfigError(f"unknown dtype {dtype!r}; use auto, float32, bfloat16 or float16")
    return device, getattr(torch, dtype)


class _Loaded:
    """One tokenizer + model on one device; generation serialised by a lock."""

    def __init__(self, model: str, adapter: str | None, device: str, dtype: str) -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as e:
            raise ConfigError("backend 'hf' needs transformers: pip install 'mastune[sft]'") from e
        if not settings.get().verbose:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # "Loading weights" bars would garble the eval progress bar
        self.torch = torch
        self.device, torch_dtype = torch_device_dtype(device, dtype)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(adapter if _has_tokenizer(adapter) else model)
            net = AutoModelForCausalLM.from_pretrained(model, dtype=torch_dtype)
            if adapter:
                try:
                    from peft import PeftModel
                except ImportError as e:
                    raise ConfigError("serving a LoRA adapter needs peft: pip install 'mastune[sft]'") from e
                net = PeftModel.from_pretrained(net, adapter)
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot load model {model!r}" + (f" with adapter {adapter!r}" if adapter else "")
                              + f": {e}") from e
        if not getattr(self.tokenizer, "chat_template", None):
            raise ConfigError(f"model {model!r} has no chat template (a base model?); use a chat/instruct model")
        self.model = net.to(self.device).eval()
        self.max_positions = int(getattr(self.model.config, "max_position_embeddings", 0) or 0)
        self.lock = threading.Lock()

    def generate(self, request: dict[str, Any]) -> RawCompletion:
        torch, tok = self.torch, self.tokenizer
        ids = tok.apply_chat_template(request["messages"], add_generation_prompt=True, return_tensors="pt",
                                      return_dict=True)["input_ids"]
        n_prompt = int(ids.shape[1])
        max_new = int(request.get("max_tokens", 512))
        if self.max_positions and n_prompt + 1 > self.max_positions:
            raise ContextOverflow(f"prompt of {n_prompt} tokens exceeds the model's {self.max_positions} positions")
        if self.max_positions:
            max_new = min(max_new, self.max_positions - n_prompt)
        temperature = float(request.get("temperature", 0.0))
        kw: dict[str, Any] = {"max_new_tokens": max_new, "pad_token_id": tok.pad_token_id or tok.eos_token_id}
        if temperature > 0:
            kw.update(do_sample=True, temperature=temperature, top_p=float(request.get("top_p") or 1.0))
        else:
            kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with self.lock, torch.no_grad():
            if "seed" in request:
                torch.manual_seed(int(request["seed"]))  # under the lock: the global RNG is ours here
            out = self.model.generate(input_ids=ids.to(self.device),
                                      attention_mask=torch.ones_like(ids).to(self.device), **kw)
        new = out[0, n_prompt:].tolist()
        gen_eos = getattr(self.model.generation_config, "eos_token_id", None)  # chat models may list several
        eos = {tok.eos_token_id, tok.pad_token_id, *(gen_eos if isinstance(gen_eos, list) else [gen_eos])} - {None}
        finish = "length"
        for i, t in enumerate(new):
            if t in eos:
                new, finish = new[:i], "stop"
                break
        text = tok.decode(new, skip_special_tokens=True)
        for s in request.get("stop") or []:  # stop strings are cut after decoding, like the servers do
            if s in text:
                text, finish = text[: text.index(s)], "stop"
        return RawCompletion(text=text, prompt_tokens=n_prompt, completion_tokens=len(new), finish_reason=finish)


def _has_tokenizer(path: str | None) -> bool:
    return bool(path) and (Path(path) / "tokenizer_config.json").is_file()


_LOADED: dict[tuple[str, str | None, str, str], _Loaded] = {}
_LOAD_LOCK = threading.Lock()


def get_loaded(model: str, adapter: str | None, device: str, dtype: str) -> _Loaded:
    key = (model, adapter, device, dtype)
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = _Loaded(model, adapter, device, dtype)
        return _LOADED[key]


class HFLM(LM):
    """`model`: a local HF model folder or hub id; `adapter`: a peft LoRA folder (optional)."""

    def __init__(self, name: str, model: str | None = None, *, adapter: str | None = None, device: str = "auto",
                 dtype: str = "auto", price: Price = Price(), profile: str = "", **kw: Any) -> None:
        if not model and not adapter:
            raise ConfigError(f"model {name!r}: backend 'hf' needs `model` (HF folder or hub id) or `adapter`")
        kw.setdefault("max_concurrency", 1)
        super().__init__(name, price=price, profile=profile, **kw)
        self.model = model or adapter_base(str(adapter))
        self.adapter = adapter
        self.device = device
        self.dtype = dtype
        self._identity: dict[str, Any] | None = None

    def identity(self) -> dict[str, Any]:
        if self._identity is None:
            self._identity = {"backend": "hf", "model": _fingerprint(self.model),
                              "adapter": _fingerprint(self.adapter) if self.adapter else None}
        return self._identity

    async def _generate(self, request: dict[str, Any]) -> RawCompletion:
        loaded = await asyncio.to_thread(get_loaded, self.model, self.adapter, self.device, self.dtype)
        try:
            return await asyncio.to_thread(loaded.generate, request)
        except (ContextOverflow, ConfigError):
            raise
        except Exception as e:  # surface engine failures as one typed error
            raise LLMError(f"transformers failed on model {self.name!r}: {e}") from e
