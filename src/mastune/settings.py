"""Run-wide settings as a context manager (no import-time globals to mutate).

    with mastune.settings.context(cache=CallCache.default()):
        ...
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Iterator


def home_dir() -> Path:
    """Root of mastune's user cache (models, call cache, expected outputs)."""
    env = os.environ.get("MASTUNE_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mastune"


@dataclasses.dataclass(frozen=True)
class Settings:
    cache: Any = None  # a mastune.llm.cache.CallCache, or None for no disk cache
    verbose: bool = False  # show backend (llama.cpp) logs


_current: ContextVar[Settings] = ContextVar("mastune_settings", default=Settings())


def get() -> Settings:
    return _current.get()


@contextlib.contextmanager
def context(**overrides: Any) -> Iterator[Settings]:
    new = dataclasses.replace(_current.get(), **overrides)
    token = _current.set(new)
    try:
        yield new
    finally:
        _current.reset(token)
