"""Small helpers shared by the training stages: stable seeds, bounded gather, JSONL files."""
from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any, Awaitable, Iterable, Sequence, TypeVar

T = TypeVar("T")


def stable_int(*parts: Any) -> int:
    """A seed from strings (hash() is salted per process; this is not)."""
    return int(hashlib.sha256("\x00".join(map(str, parts)).encode()).hexdigest()[:12], 16)


async def bounded(coros: Sequence[Awaitable[T]], limit: int) -> list[T]:
    """gather with at most `limit` running at once, results in input order."""
    sem = asyncio.Semaphore(max(1, limit))

    async def one(c: Awaitable[T]) -> T:
        async with sem:
            return await c

    return list(await asyncio.gather(*(one(c) for c in coros)))


def append_jsonl(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(record, default=float) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    """Every complete line; a line cut by a kill (and anything after it) is dropped."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return out


def write_jsonl(path: Path, records: Iterable[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, default=float) + "\n" for r in records))
