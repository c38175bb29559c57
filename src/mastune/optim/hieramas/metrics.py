"""ROC-AUC, computed here (rank statistic) so no extra dependency is needed."""
from __future__ import annotations

from collections import defaultdict
from typing import Hashable, Sequence

import numpy as np


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
