"""Small statistics for reports."""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Hashable, Sequence

import numpy as np


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval: sane at 0%, 100% and small n (unlike p ± 1.96·se)."""
    if n == 0:
        return (0.0, 0.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for paired right/wrong outcomes on the same items.

    b and c count the discordant items (right only under A, right only under B); with no
    difference between A and B they split as Binomial(b + c, 1/2). The exact form, since the
    discordant counts of a 100-item benchmark are far too small for the chi-square one."""
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got {b}, {c}")
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of points not dominated in (lower cost, higher accuracy), by cost."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], -math.inf
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


# ---- ranking quality (ROC-AUC as a rank statistic: no extra dependency)


def roc_auc(labels: Sequence[float], scores: Sequence[float]) -> float | None:
    """Probability a random positive outscores a random negative (ties count 1/2).
    None when only one class is present (undefined)."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    # average ranks (1-based) handle ties: Mann-Whitney U
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def mean_group_auc(groups: Sequence[Hashable], labels: Sequence[float], scores: Sequence[float]) -> float | None:
    """Mean ROC-AUC over groups (queries) that hold both classes: the classifier is
    used to rank graphs *for one query*, so that is what it is judged on."""
    by: dict[Hashable, tuple[list, list]] = defaultdict(lambda: ([], []))
    for g, y, s in zip(groups, labels, scores):
        by[g][0].append(y)
        by[g][1].append(s)
    aucs = [a for ys, ss in by.values() if (a := roc_auc(ys, ss)) is not None]
    return float(np.mean(aucs)) if aucs else None
