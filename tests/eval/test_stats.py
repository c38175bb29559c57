"""Statistics of eval/stats.py (ROC-AUC moved here from the HieraMAS package)."""
from mastune.eval.stats import mean_group_auc, roc_auc


def test_roc_auc_matches_definition():
    assert roc_auc([1, 0, 1, 0], [0.9, 0.1, 0.8, 0.3]) == 1.0
    assert roc_auc([1, 0], [0.2, 0.9]) == 0.0
    assert roc_auc([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert roc_auc([1, 1], [0.1, 0.2]) is None
    # 2 positives, 2 negatives: pos {0.4, 0.8}, neg {0.5, 0.1} -> 3 of 4 pairs ordered
    assert roc_auc([1, 0, 1, 0], [0.4, 0.5, 0.8, 0.1]) == 0.75
    assert mean_group_auc(["a", "a", "b", "b", "c"], [1, 0, 0, 1, 1], [1, 0, 1, 0, 5]) == 0.5
