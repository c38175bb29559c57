"""Edge-list generators over nodes 0..n-1 (map them onto nodes with `edges_to_ids`).

Every generator returns forward edges of some order, so the result is a DAG.
"""
from __future__ import annotations

import math
import random
from typing import Sequence

Edge = tuple[int, int]


def chain(n: int) -> list[Edge]:
    return [(i, i + 1) for i in range(n - 1)]


def star(n: int, hub: int = 0) -> list[Edge]:
    """The hub speaks first and every other node reads it."""
    return [(hub, i) for i in range(n) if i != hub]


def full(n: int, order: Sequence[int] | None = None) -> list[Edge]:
    """All forward edges of `order` (default 0..n-1): the densest DAG."""
    order = list(range(n)) if order is None else list(order)
    return [(order[i], order[j]) for i in range(n) for j in range(i + 1, n)]


def layered(sizes: Sequence[int]) -> list[Edge]:
    """Consecutive layers fully connected; nodes numbered layer by layer."""
    edges: list[Edge] = []
    start = 0
    for a, b in zip(sizes, sizes[1:]):
        edges += [(start + i, start + a + j) for i in range(a) for j in range(b)]
        start += a
    return edges


def layer_sizes(n: int, width: int) -> list[int]:
    """Split n nodes into layers of `width` (the last may be smaller)."""
    return [min(width, n - i) for i in range(0, n, width)]


def random_dag(n: int, density: tuple[float, float] = (0.0, 1.0), rng: random.Random | int | None = None) -> list[Edge]:
    """HieraMAS random DAG.

    1. a random permutation is the topological order; 2. a spanning tree: the
    i-th node gets one parent uniform from the earlier ones (so the graph is
    connected); 3. density d ~ U(lo, hi), target edges max(n-1, floor(d n(n-1)/2));
    4. random forward edges are added until the target is reached.
    """
    rng = rng if isinstance(rng, random.Random) else random.Random(rng)
    lo, hi = density
    if not 0.0 <= lo <= hi <= 1.0:
        raise ValueError(f"density range must satisfy 0 <= lo <= hi <= 1, got {density}")
    perm = list(range(n))
    rng.shuffle(perm)
    edges = {(perm[rng.randrange(i)], perm[i]) for i in range(1, n)}
    d = rng.uniform(lo, hi)
    target = max(n - 1, math.floor(d * n * (n - 1) / 2))
    candidates = [e for e in full(n, perm) if e not in edges]
    rng.shuffle(candidates)
    edges.update(candidates[: max(0, target - len(edges))])
    return sorted(edges)


def random_dag_pool(
    n: int, k: int, density: tuple[float, float] = (0.0, 1.0), seed: int = 0, max_tries: int | None = None
) -> list[list[Edge]]:
    """k distinct random DAGs (fewer when the space of DAGs on n nodes is smaller)."""
    rng = random.Random(seed)
    pool: list[list[Edge]] = []
    seen: set[tuple[Edge, ...]] = set()
    for _ in range(max_tries or 50 * k):
        if len(pool) == k:
            break
        edges = random_dag(n, density, rng)
        key = tuple(edges)
        if key not in seen:
            seen.add(key)
            pool.append(edges)
    return pool


def edges_to_ids(edges: Sequence[Edge], ids: Sequence[str]) -> list[tuple[str, str]]:
    return [(ids[s], ids[d]) for s, d in edges]
