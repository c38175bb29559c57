"""Disk cache of LLM calls (SQLite: safe across threads and processes).

The key is a hash of the full request minus secrets, plus an optional rollout
id: two samples at temperature > 0 that should differ are given different
rollout ids (or seeds); a sampled call with neither is never cached, so
independent samples are not collapsed into one.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from ..settings import home_dir

# Request fields that must never reach a key, a log or the disk.
SECRET_FIELDS = frozenset({"api_key", "authorization", "headers", "extra_headers", "api_key_env_value"})


def strip_secrets(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: strip_secrets(v) for k, v in obj.items() if k.lower() not in SECRET_FIELDS}
    if isinstance(obj, (list, tuple)):
        return [strip_secrets(v) for v in obj]
    return obj


def cache_key(request: dict[str, Any], rollout: str | int | None = None) -> str:
    payload = {"request": strip_secrets(request), "rollout": rollout}
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def is_cacheable(request: dict[str, Any], rollout: str | int | None) -> bool:
    """Greedy calls are deterministic; sampled ones only with a seed or rollout id."""
    return request.get("temperature", 0.0) == 0.0 or request.get("seed") is not None or rollout is not None


class CallCache:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    @classmethod
    def default(cls) -> "CallCache":
        return cls(home_dir() / "calls.sqlite")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            self._local.conn = conn
        return conn

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._conn().execute("SELECT value FROM calls WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        self._conn().execute(
            "INSERT OR REPLACE INTO calls (key, value) VALUES (?, ?)", (key, json.dumps(value, ensure_ascii=False))
        )

    def __len__(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM calls").fetchone()[0]
