"""LoRA adapters for the embedded engine: peft -> GGUF conversion and per-request selection.

Conversion (`peft_to_gguf`) writes llama.cpp's adapter format: metadata
`general.type=adapter`, `adapter.type=lora`, `adapter.lora.alpha`; one pair of
tensors per adapted base tensor, `<base tensor>.lora_a` (ggml [n_in, r]) and
`.lora_b` (ggml [r, n_out]). llama.cpp's llama-architecture converter permutes
the rows of attn_q / attn_k (rotary pairs interleaved per head), so B's rows
get the same permutation (A, the input side, is untouched): the adapter then
adds exactly peft's delta to the tensor as the GGUF stores it.

Serving (`AdapterSet`) works around two llama.cpp server bugs:
- adapters loaded "without apply" stay at scale 1 unless a request lists
  every adapter with an explicit scale: every request lists all of them, the
  chosen one at its scale and the others at 0;
- a slot's cached prompt (KV) is valid only under the adapter it was computed
  with: by default requests through an engine that holds adapters do not reuse
  the prompt cache (`cache_prompt: false`), and the engine's RAM prompt cache is
  off (it ignores adapters). `adapter_prompt_cache=True` turns reuse on, made
  safe by the engine's slot router (llm/slots.py): every request on an adapter
  engine is routed, and reuses a slot's cache only when the slot last held the
  same adapter selection. (The xllamacpp build pinned here also clears a slot
  itself when the selection changes; the router does not rely on it:
  tests/llm/test_slots.py runs it against a server that does not.)
  tests/llm/test_lora.py checks A/B/A on the engine in both modes.
New weights need a new engine (llama.cpp reads adapters at load only): the
engine key holds each adapter's file digest, so a rewritten file is a new load.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError

# peft module name -> llama.cpp tensor name (llama / qwen2 / gemma3 decoders).
MODULES = {
    "q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
    "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down",
}
# Architectures whose llama.cpp converter permutes q/k rows (rotary pairs interleaved).
PERMUTED_QK = frozenset({"llama"})
_KEY = re.compile(r"layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_([AB])(?:\.\w+)?\.weight$")


# ---- conversion --------------------------------------------------------------------------------
def permute_rows(w, n_head: int):
    """HF row order -> llama.cpp's for q/k: per head, [first half | second half] -> interleaved pairs."""
    rows = w.shape[0]
    return w.reshape(n_head, 2, rows // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _field(reader, key: str):
    f = reader.fields.get(key)
    if f is None:
        return None
    v = f.parts[f.data[0]]
    return bytes(v).decode() if f.types and f.types[0].name == "STRING" else v.tolist()[0]


def _base_info(base_gguf: str | Path) -> tuple[str, dict[str, tuple[int, int]], int, int]:
    """(architecture, 2-D tensor shapes in ggml order, heads, kv heads); parsed once per file version."""
    st = os.stat(base_gguf)
    return _base_info_cached(str(base_gguf), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _base_info_cached(base_gguf: str, size: int, mtime_ns: int):
    import gguf

    reader = gguf.GGUFReader(str(base_gguf))
    arch = _field(reader, "general.architecture")
    shapes = {t.name: tuple(int(x) for x in t.shape) for t in reader.tensors if len(t.shape) == 2}
    return arch, shapes, int(_field(reader, f"{arch}.attention.head_count") or 0), \
        int(_field(reader, f"{arch}.attention.head_count_kv") or _field(reader, f"{arch}.attention.head_count") or 0)


def _load_peft(adapter: str | Path | Mapping[str, Any], lora_alpha: float | None, use_rslora: bool):
    """(state dict of numpy float32 arrays, lora_alpha, use_rslora) from a peft folder or a state dict."""
    if isinstance(adapter, Mapping):
        if lora_alpha is None:
            raise ConfigError("peft_to_gguf: a state dict needs lora_alpha= (the adapter's LoraConfig.lora_alpha)")
        tensors = {k: v.detach().float().cpu().numpy() if hasattr(v, "detach") else v for k, v in adapter.items()}
        return tensors, float(lora_alpha), use_rslora
    folder = Path(adapter)
    cfg_file = folder / "adapter_config.json"
    if not cfg_file.is_file():
        raise ConfigError(f"{folder} is not a peft adapter folder (no adapter_config.json)")
    cfg = json.loads(cfg_file.read_text())
    if cfg.get("peft_type", "LORA") != "LORA" or cfg.get("use_dora"):
        raise ConfigError(f"{folder}: only plain LoRA adapters convert to llama.cpp (not {cfg.get('peft_type')}/DoRA)")
    if cfg.get("rank_pattern") or cfg.get("alpha_pattern"):
        raise ConfigError(f"{folder}: per-module rank/alpha patterns cannot be expressed in one GGUF alpha")
    if cfg.get("modules_to_save"):
        raise ConfigError(f"{folder}: modules_to_save (fully trained layers) are not LoRA; llama.cpp cannot add them")
    from safetensors.numpy import load_file

    weights = folder / "adapter_model.safetensors"
    if not weights.is_file():
        raise ConfigError(f"{folder}: no adapter_model.safetensors")
    try:
        tensors = load_file(str(weights))
    except Exception:  # bf16 tensors: numpy has no bf16, go through torch
        from safetensors.torch import load_file as load_torch

        tensors = {k: v.float().numpy() for k, v in load_torch(str(weights)).items()}
    alpha = lora_alpha if lora_alpha is not None else float(cfg.get("lora_alpha", cfg.get("r", 8)))
    return tensors, alpha, bool(cfg.get("use_rslora", use_rslora))


def peft_to_gguf(adapter: str | Path | Mapping[str, Any], base_gguf: str | Path, out_path: str | Path, *,
                 lora_alpha: float | None = None, use_rslora: bool = False) -> Path:
    """Convert a peft LoRA (folder, or a state dict + lora_alpha) for `base_gguf` (a .gguf path or a
    pool model name) into a GGUF adapter.

    Checked against the base: every adapted tensor must exist there with the
    same shape. Written atomically (a reader never sees half a file)."""
    import gguf
    import numpy as np

    tensors, alpha, rslora = _load_peft(adapter, lora_alpha, use_rslora)
    if not Path(base_gguf).is_file():  # a pool model name
        from ..models.export_hf import gguf_file

        base_gguf = gguf_file(str(base_gguf))
    arch, shapes, n_head, n_head_kv = _base_info(base_gguf)
    pairs: dict[str, dict[str, Any]] = {}
    for key, value in tensors.items():
        m = _KEY.search(key)
        if m is None:
            if "lora_" in key:
                raise ConfigError(f"peft_to_gguf: cannot place adapter tensor {key!r}")
            continue
        layer, module, ab = m.groups()
        if module not in MODULES:
            raise ConfigError(f"peft_to_gguf: module {module!r} has no llama.cpp tensor (supported: {sorted(MODULES)})")
        pairs.setdefault(f"blk.{layer}.{MODULES[module]}.weight", {})[ab] = np.asarray(value, dtype=np.float32)
    if not pairs:
        raise ConfigError("peft_to_gguf: no LoRA tensors found in the adapter")
    ranks = set()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", dir=out_path.parent)
    os.close(fd)
    try:
        writer = gguf.GGUFWriter(tmp, arch)
        writer.add_string("general.type", "adapter")
        writer.add_string("adapter.type", "lora")
        for name in sorted(pairs):
            a, b = pairs[name].get("A"), pairs[name].get("B")
            if a is None or b is None:
                raise ConfigError(f"peft_to_gguf: {name} has only one of lora_A / lora_B")
            if name not in shapes:
                raise ConfigError(f"peft_to_gguf: the base {Path(base_gguf).name} has no tensor {name}; "
                                  "was the adapter trained on another model?")
            n_in, n_out = shapes[name]
            if a.shape[1] != n_in or b.shape[0] != n_out or a.shape[0] != b.shape[1]:
                raise ConfigError(f"peft_to_gguf: {name}: A {a.shape} / B {b.shape} do not fit the base "
                                  f"[{n_in} -> {n_out}]")
            ranks.add(a.shape[0])
            if arch in PERMUTED_QK and name.endswith(("attn_q.weight", "attn_k.weight")):
                b = permute_rows(b, n_head if "attn_q" in name else n_head_kv)
            writer.add_tensor(f"{name}.lora_a", np.ascontiguousarray(a))  # numpy (r, n_in) = ggml [n_in, r]
            writer.add_tensor(f"{name}.lora_b", np.ascontiguousarray(b))  # numpy (n_out, r) = ggml [r, n_out]
        if len(ranks) != 1:
            raise ConfigError(f"peft_to_gguf: mixed ranks {sorted(ranks)} cannot share one adapter.lora.alpha")
        r = ranks.pop()
        # llama.cpp scales by alpha / rank; rsLoRA's alpha / sqrt(rank) needs alpha * sqrt(rank) here.
        writer.add_float32("adapter.lora.alpha", float(alpha * math.sqrt(r) if rslora else alpha))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the adapter from other users of a shared folder
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out_path


# ---- serving -----------------------------------------------------------------------------------
def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


_digests: dict[tuple, str] = {}


def cached_digest(path: str | Path) -> str:
    """The file's digest, re-hashed only when its inode, size or mtime change (a stat per call).

    A training step that writes new weights (atomically: a new inode) is seen on the next call."""
    st = os.stat(path)
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    digest = _digests.get(key)
    if digest is None:
        digest = _digests[key] = file_digest(path)
    return digest


@dataclass(frozen=True)
class Adapter:
    """A GGUF LoRA adapter by name; the digest makes new weights a new adapter (cache keys, engines)."""

    name: str
    path: str
    digest: str

    @classmethod
    def from_file(cls, name: str, path: str | Path) -> "Adapter":
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"adapter {name!r}: GGUF LoRA file not found: {p} (convert with peft_to_gguf)")
        with open(p, "rb") as f:
            if f.read(4) != b"GGUF":
                raise ConfigError(f"adapter {name!r}: {p} is not a GGUF file; convert a peft adapter with "
                                  "mastune.llm.lora.peft_to_gguf")
        return cls(name, str(p.resolve()), cached_digest(p))


@dataclass(frozen=True)
class AdapterSet:
    """The adapters loaded on one engine, in load order (their ids)."""

    adapters: tuple[Adapter, ...] = ()

    @classmethod
    def from_files(cls, files: Mapping[str, str | Path] | None) -> "AdapterSet":
        return cls(tuple(Adapter.from_file(n, p) for n, p in (files or {}).items()))

    def __bool__(self) -> bool:
        return bool(self.adapters)

    def names(self) -> list[str]:
        return [a.name for a in self.adapters]

    def get(self, name: str) -> Adapter:
        for a in self.adapters:
            if a.name == name:
                return a
        raise ConfigError(f"adapter {name!r} is not loaded on this model; loaded: {self.names() or 'none'}")

    def configure(self, params: Any) -> None:
        """Load every adapter at scale 0 ("without apply"): a request chooses."""
        import xllamacpp

        infos = []
        for a in self.adapters:
            info = xllamacpp.CommonAdapterLoraInfo()
            info.path, info.scale = a.path, 0.0
            infos.append(info)
        params.lora_adapters = infos
        params.lora_init_without_apply = True
        params.cache_ram_mib = 0  # the RAM prompt cache ignores adapters too

    def request_fields(self, name: str | None, scale: float = 1.0, prompt_cache: bool = False) -> dict[str, Any]:
        """Per-request fields: every adapter with an explicit scale; no prompt-cache reuse unless allowed."""
        if not self.adapters:
            if name is not None:
                raise ConfigError(f"adapter {name!r} requested but this model loads no adapters")
            return {}
        chosen = self.get(name).name if name is not None else None
        fields: dict[str, Any] = {"lora": [{"id": i, "scale": float(scale) if a.name == chosen else 0.0}
                                           for i, a in enumerate(self.adapters)]}
        if not prompt_cache:
            fields["cache_prompt"] = False
        return fields

    def same_files(self, other: "AdapterSet") -> bool:
        """The same adapters by name and path (the weights may differ)."""
        return [(a.name, a.path) for a in self.adapters] == [(a.name, a.path) for a in other.adapters]
