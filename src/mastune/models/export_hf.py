"""HF (transformers) weights from a pool GGUF, for training with torch.

transformers loads a GGUF (dequantised) with `gguf_file=`, but refuses to
`save_pretrained` a model loaded that way. So the model is rebuilt from its
config (quantization_config removed), the dequantised state dict is loaded
into it, and that plain model is saved: config, safetensors, tokenizer and
chat template, a folder any transformers / peft code can use.

    from mastune.models import export_hf
    export_hf("smollm2-135m", "hf/smollm2-135m", dtype="bf16")
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import ConfigError, ModelUnavailable

DTYPES = {"fp32": "float32", "float32": "float32", "bf16": "bfloat16", "bfloat16": "bfloat16",
          "fp16": "float16", "float16": "float16"}


def torch_dtype(name: str):
    import torch

    if name not in DTYPES:
        raise ConfigError(f"unknown dtype {name!r}; use one of: fp32, bf16, fp16")
    return getattr(torch, DTYPES[name])


def gguf_file(name_or_path: str) -> Path:
    """A pool model name (pulled if needed) or a path to a .gguf file."""
    p = Path(name_or_path)
    if p.suffix == ".gguf" or p.is_file():
        if not p.is_file():
            raise ModelUnavailable(f"GGUF file not found: {p}")
        return p
    from .pull import pull

    return Path(pull(name_or_path))


def load_gguf_hf(name_or_path: str, dtype: str = "fp32"):
    """(tokenizer, model) from a GGUF via transformers (dequantised; the model cannot be saved as is)."""
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging
    except ImportError as e:
        raise ConfigError("exporting HF weights needs transformers, gguf and accelerate: "
                          "pip install 'mastune[sft]'") from e
    path = gguf_file(name_or_path)
    hf_logging.disable_progress_bar()
    kw = dict(gguf_file=path.name)
    try:
        tok = AutoTokenizer.from_pretrained(str(path.parent), **kw)
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), dtype=torch_dtype(dtype), **kw)
    except ImportError as e:
        raise ConfigError(f"transformers cannot read GGUF files here ({e}); pip install gguf accelerate") from e
    except (OSError, ValueError, RuntimeError) as e:
        raise ModelUnavailable(f"transformers could not load {path}: {e}") from e
    return tok, model.eval()


def export_hf(name_or_path: str, out: str | Path, *, dtype: str = "bf16", overwrite: bool = False) -> Path:
    """Write a transformers folder for a pool model (or GGUF path) to `out`; returns `out`."""
    out = Path(out)
    _check_out(out, overwrite)
    torch_dtype(dtype)  # a bad dtype fails before the (slow) GGUF load
    tok, loaded = load_gguf_hf(name_or_path, "fp32")
    return save_hf(tok, loaded, out, dtype=dtype, overwrite=overwrite,
                   source=gguf_file(name_or_path).name)


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise ConfigError(f"{out} exists and is not empty; choose another --out or pass overwrite")


def save_hf(tok, loaded, out: str | Path, *, dtype: str = "bf16", overwrite: bool = False,
            source: str = "") -> Path:
    """Save a GGUF-loaded (tokenizer, model) as a plain transformers folder.

    Written into a temporary folder beside `out` and renamed at the end, so a
    killed export never leaves a half folder that looks complete."""
    from transformers import AutoModelForCausalLM

    out = Path(out)
    _check_out(out, overwrite)
    dt = torch_dtype(dtype)
    config = copy.deepcopy(loaded.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # what makes save_pretrained refuse the model
    config.dtype = dt
    plain = AutoModelForCausalLM.from_config(config, dtype=dt)
    missing, unexpected = plain.load_state_dict(loaded.state_dict(), strict=False)  # copies, casting to dt
    # Tied embeddings appear as a missing lm_head in some architectures: anything else is a real gap.
    missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        raise ModelUnavailable(f"GGUF weights do not fit the rebuilt model: missing {missing[:5]}, "
                               f"unexpected {unexpected[:5]}")
    plain.generation_config = copy.deepcopy(loaded.generation_config)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        plain.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / "mastune_export.json").write_text(json.dumps({"source": source, "dtype": DTYPES[dtype]}, indent=1))
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
