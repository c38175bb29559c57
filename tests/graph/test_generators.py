import math

import pytest

from mastune.graph import Node, Topology, chain, edges_to_ids, full, layer_sizes, layered, random_dag, random_dag_pool, star


def as_topology(n, edges):
    return Topology([Node(str(i)) for i in range(n)], edges_to_ids(edges, [str(i) for i in range(n)]))


def test_fixed_shapes():
    assert chain(3) == [(0, 1), (1, 2)]
    assert star(4) == [(0, 1), (0, 2), (0, 3)]
    assert full(3) == [(0, 1), (0, 2), (1, 2)]
    assert full(3, order=[2, 0, 1]) == [(2, 0), (2, 1), (0, 1)]
    assert layered([2, 1, 2]) == [(0, 2), (1, 2), (2, 3), (2, 4)]
    assert layer_sizes(5, 2) == [2, 2, 1]


def weakly_connected(n, edges):
    adj = {i: set() for i in range(n)}
    for s, d in edges:
        adj[s].add(d)
        adj[d].add(s)
    seen, stack = {0}, [0]
    while stack:
        for j in adj[stack.pop()] - seen:
            seen.add(j)
            stack.append(j)
    return len(seen) == n


@pytest.mark.parametrize("n, lo, hi", [(3, 0.0, 1.0), (5, 0.2, 0.5), (8, 0.4, 0.9), (8, 1.0, 1.0)])
def test_random_dag_density_bounds(n, lo, hi):
    pairs = n * (n - 1) / 2
    for seed in range(40):
        edges = random_dag(n, (lo, hi), seed)
        assert max(n - 1, math.floor(lo * pairs)) <= len(edges) <= max(n - 1, math.floor(hi * pairs))
        assert len(set(edges)) == len(edges)
        assert weakly_connected(n, edges)
        as_topology(n, edges)  # validates: acyclic, known nodes


def test_random_dag_is_seeded():
    assert random_dag(6, (0.2, 0.8), 7) == random_dag(6, (0.2, 0.8), 7)
    assert len({tuple(random_dag(6, (0.2, 0.8), s)) for s in range(20)}) > 10


def test_random_pool_is_deterministic_and_deduplicated():
    pool = random_dag_pool(6, 30, (0.1, 0.9), seed=3)
    assert pool == random_dag_pool(6, 30, (0.1, 0.9), seed=3)
    assert pool != random_dag_pool(6, 30, (0.1, 0.9), seed=4)
    assert len(pool) == 30 and len({tuple(g) for g in pool}) == 30


def test_random_pool_is_smaller_when_the_space_is():
    # On 2 nodes a connected DAG is 0->1 or 1->0.
    assert sorted(map(tuple, random_dag_pool(2, 10, seed=0))) == [((0, 1),), ((1, 0),)]


def test_bad_density():
    with pytest.raises(ValueError):
        random_dag(4, (0.8, 0.2), 0)
