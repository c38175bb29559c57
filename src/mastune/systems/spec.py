"""A picklable description of a system: what another process needs to build it.

Live systems hold a pool and the pool holds engines, which cannot travel to
another process (a Ray worker, a subprocess). A `SystemSpec` is plain data:
the kind, the kind's config (a dict), the pool's config (a dict) and, for
trained kinds, the checkpoint folder; `build_system(spec)` turns it back into
the same system wherever it runs.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class SystemSpec:
    kind: str  # a registered kind: graph | collab | hieramas | ...
    config: dict[str, Any] = field(default_factory=dict)  # the kind's config as plain data
    pool: dict[str, Any] | None = None  # PoolConfig as data; None: the built-in local pool
    checkpoint: str | None = None  # trained kinds: the artifact folder
    provider: str | None = None  # module that registers `kind` (imported first in a fresh process)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SystemSpec":
        return cls(**d)

    def key(self) -> str:
        """A stable identity (same spec, same key in every process): caches of built systems use it."""
        blob = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def __hash__(self) -> int:  # dict fields are not hashable; the content key is
        return hash(self.key())
