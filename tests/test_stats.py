"""The intervals the verdict rests on: coverage, edge cases, and the three-way rule."""

import numpy as np
import pytest

from nodestudy.core.stats import (
    Estimate,
    bootstrap_mean_interval,
    decide,
    paired_difference_interval,
    wilson_interval,
)


def test_the_paired_interval_covers_the_true_difference_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    # joint distribution of (first correct, second correct): both, first only, second only
    probabilities = np.array([0.80, 0.06, 0.02, 0.12])
    true_difference = probabilities[1] - probabilities[2]
    covered = 0
    trials = 1500
    for _ in range(trials):
        cells = rng.choice(4, size=300, p=probabilities)
        first = np.isin(cells, [0, 1])
        second = np.isin(cells, [0, 2])
        estimate = paired_difference_interval(first, second)
        covered += estimate.low <= true_difference <= estimate.high
    assert 0.93 <= covered / trials <= 0.975


def test_the_paired_interval_is_not_degenerate_without_discordant_points():
    same = np.ones(50, dtype=bool)
    estimate = paired_difference_interval(same, same)
    assert estimate.value == 0.0
    assert estimate.low < 0 < estimate.high  # 50 points cannot prove equality
    assert estimate.high < 0.1


def test_wilson_interval_of_zero_successes_is_not_zero_width():
    estimate = wilson_interval(0, 20)
    assert estimate.value == 0.0 and estimate.low == 0.0 and 0.1 < estimate.high < 0.2
    assert wilson_interval(20, 20).low > 0.8


def test_bootstrap_interval_is_seeded_and_brackets_the_mean():
    values = np.random.default_rng(1).exponential(size=200)
    first, second = bootstrap_mean_interval(values), bootstrap_mean_interval(values)
    assert first == second
    assert first.low < values.mean() < first.high


@pytest.mark.parametrize(
    ("low", "high", "two_sided", "verdict"),
    [
        (-0.01, 0.02, True, "valid"),
        (0.04, 0.09, True, "invalid"),
        (-0.09, -0.04, True, "invalid"),
        (0.01, 0.05, True, "inconclusive"),
        (-0.05, 0.01, True, "inconclusive"),
        (0.0, 0.02, False, "valid"),
        (0.04, 0.2, False, "invalid"),
        (0.02, 0.04, False, "inconclusive"),
        (float("nan"), float("nan"), False, "inconclusive"),
    ],
)
def test_decide_is_valid_within_invalid_beyond_and_inconclusive_across(
    low, high, two_sided, verdict
):
    estimate = Estimate((low + high) / 2, low, high, 0.95)
    assert decide(estimate, 0.03, two_sided=two_sided) == verdict
