"""Model files: the built-in GGUF pool, pulling, and HF weights exported from it."""
from __future__ import annotations


def export_hf(*args, **kwargs):
    """See `mastune.models.export_hf.export_hf` (imported lazily: it needs transformers)."""
    from .export_hf import export_hf as _export

    return _export(*args, **kwargs)
