import math

import pytest

from mastune.errors import ConfigError
from mastune.optim.rl.estimators import ADVANTAGES, get_estimator, informative_groups


def test_loo_is_reward_minus_mean_of_the_others_within_the_question():
    adv = get_estimator("loo")([1.0, 0.0, 0.0, 1.0, 1.0, 1.0], [0, 0, 0, 1, 1, 1], {})
    assert adv[:3] == pytest.approx([1.0, -0.5, -0.5])
    assert adv[3:] == [0.0, 0.0, 0.0]  # a question every sample got right teaches nothing


def test_masked_rewards_neither_count_in_the_baseline_nor_get_an_advantage():
    adv = get_estimator("loo")([1.0, None, 0.0], [0, 0, 0], {})
    assert adv == pytest.approx([1.0, 0.0, -1.0])
    assert get_estimator("group_norm")([None, 1.0, 0.0], [0, 0, 0], {})[0] == 0.0


def test_group_mean_and_group_norm():
    r, g = [1.0, 0.0, 0.0, 0.0], [0, 0, 0, 0]
    assert get_estimator("group_mean")(r, g, {}) == pytest.approx([0.75, -0.25, -0.25, -0.25])
    sd = math.sqrt(0.1875)
    assert get_estimator("group_norm")(r, g, {})[0] == pytest.approx(0.75 / (sd + 1e-4))


def test_ema_scores_with_the_old_average_then_updates_it():
    state = {"ema_decay": 0.5}
    assert get_estimator("ema")([1.0, 0.0], [0, 1], state) == [1.0, 0.0]  # no average yet: baseline 0
    assert state["ema"] == 0.5
    assert get_estimator("ema")([1.0], [0], state) == [0.5]
    assert state["ema"] == 0.75


def test_none_and_unknown():
    assert get_estimator("none")([1.0, None, 0.0], [0, 0, 0], {}) == [1.0, 0.0, 0.0]
    with pytest.raises(ConfigError, match="unknown advantage estimator"):
        get_estimator("nope")
    assert {"loo", "group_mean", "group_norm", "ema", "none"} <= set(ADVANTAGES)


def test_informative_groups_are_those_whose_unmasked_samples_disagree():
    assert informative_groups([1.0, 0.0, 1.0, 1.0, None, 1.0, None], [0, 0, 1, 1, 2, 2, 3]) == {0}
