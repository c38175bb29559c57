"""Stable seeds: `hash()` is salted per process; these are not."""
from __future__ import annotations

import hashlib
from typing import Any


def stable_int(*parts: Any) -> int:
    """A seed from strings, the same in every process and run."""
    return int(hashlib.sha256("\x00".join(map(str, parts)).encode()).hexdigest()[:12], 16)
