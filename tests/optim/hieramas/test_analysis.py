"""Report numbers: per-query AUC spread, the topologies chosen (Fig. 3), the stage-1 summary."""
import pytest

from mastune.optim.hieramas.analysis import (density, format_spread, format_stage1, group_aucs, jaccard, spread,
                                             stage1_summary, topology_stats)


def test_spread_and_group_aucs():
    s = spread([0.5, 1.0, 0.75, None])
    assert s["n"] == 3 and s["mean"] == pytest.approx(0.75) and s["sd"] == pytest.approx(0.25)
    assert (s["min"], s["median"], s["max"]) == (0.5, 0.75, 1.0)
    assert spread([]) is None and "none" in format_spread("x", None)
    aucs = group_aucs(["a", "a", "a", "b", "b", "c"], [1, 0, 0, 1, 0, 1], [0.9, 0.1, 0.5, 0.2, 0.8, 0.3])
    assert aucs == {"a": 1.0, "b": 0.0}  # c has one label only: no AUC
    assert "0.500 ± 0.707 (n=2" in format_spread("auc", spread(list(aucs.values())))


def test_topology_stats_counts_distinct_dags_density_and_jaccard():
    a = (["Critic", "Doctor", "Lawyer"], [("Critic", "Doctor"), ("Doctor", "Lawyer")])
    b = (["Critic", "Doctor", "Lawyer"], [("Critic", "Doctor"), ("Critic", "Lawyer")])
    c = (["Critic", "Doctor"], [("Critic", "Doctor")])
    s = topology_stats([a, a, b, c])
    assert s["queries"] == 4 and s["distinct_dags"] == 3 and s["distinct_role_sets"] == 2
    assert s["density"]["mean"] == pytest.approx((2 / 3 * 3 + 1) / 4)
    # pairs: aa 1, ab 1/3, ac 1/2 (twice each for the two a's), bc 1/2
    assert s["pairwise_jaccard"]["mean"] == pytest.approx((1 + 1 / 3 + 1 / 3 + 0.5 + 0.5 + 0.5) / 6)
    assert s["most_common"]["Critic -> Doctor; Doctor -> Lawyer"] == 2
    constant = topology_stats([a] * 5)
    assert constant["distinct_dags"] == 1 and constant["pairwise_jaccard"]["sd"] == 0.0
    assert density(1, 0) is None and density(4, 3) == 0.5 and jaccard([], []) == 1.0


def test_stage1_summary_rates_and_entropy():
    log = [{"episodes": 4, "episodes_s": 36.0, "time_s": 40.0, "entropy": 1.6, "entropy_after": 1.5,
            "entropy_uniform": 1.609, "reward": -1.0, "accuracy": 0.25, "val": None},
           {"episodes": 4, "episodes_s": 36.0, "time_s": 80.0, "entropy": 1.2, "entropy_after": 0.9,
            "entropy_uniform": 1.609, "reward": 0.5, "accuracy": 0.75, "val": {"n": 4}, "prefs": {"r": {"m": 1.0}}}]
    s = stage1_summary(log)
    assert s["episodes"] == 8 and s["val_episodes"] == 4
    assert s["episodes_per_hour"] == pytest.approx(400.0) and s["all_episodes_per_hour"] == pytest.approx(360.0)
    assert (s["entropy_first"], s["entropy_last"]) == (1.6, 0.9) and s["reward_curve"] == [-1.0, 0.5]
    assert "400 training episodes/hour" in format_stage1(s) and "1.600 -> 0.900" in format_stage1(s)
    assert stage1_summary([]) == {"iterations": 0}
    old = stage1_summary([{"queries": ["a", "b"], "time_s": 10.0, "entropy": 1.6}])  # a log from before
    assert old["episodes"] == 2 and "1.600 -> 1.600" in format_stage1(old) and "uniform" not in format_stage1(old)
