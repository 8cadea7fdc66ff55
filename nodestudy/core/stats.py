"""Intervals and three-way decisions for comparing one model under two solvers.

Both solvers see the same evaluation points, so comparisons are *paired*: a point
classified correctly under both solvers says nothing about a difference, and the
information is in the discordant points. The intervals here use that:

- :func:`paired_difference_interval`: the difference of two accuracies on the same
  points (Newcombe 1998, "method 10": Wilson intervals of the two accuracies combined
  with their correlation). It behaves well with no or few discordant points, where
  the simple Wald interval collapses to a single value.
- :func:`wilson_interval`: one proportion, e.g. the share of predictions that change.
- :func:`bootstrap_mean_interval`: the mean of a continuous per-point quantity, e.g.
  the relative distance of end states.

:func:`decide` turns an interval and a limit of practical relevance into "valid"
(the interval lies within the limit), "invalid" (it lies beyond it) or
"inconclusive" (it straddles the limit: more points would tell).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from .errors import NodestudyError

VALID, INVALID, INCONCLUSIVE = "valid", "invalid", "inconclusive"


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a two-sided confidence interval."""

    value: float
    low: float
    high: float
    confidence: float

    def to_dict(self) -> dict[str, float]:
        return {
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "confidence": self.confidence,
        }


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> Estimate:
    """Wilson's score interval for a proportion ``successes / n``."""
    if n <= 0:
        return Estimate(math.nan, math.nan, math.nan, confidence)
    p, z = successes / n, _z(confidence)
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Estimate(p, low, high, confidence)


def paired_difference_interval(
    first_correct: np.ndarray, second_correct: np.ndarray, confidence: float = 0.95
) -> Estimate:
    """The difference of two accuracies measured on the same points, first minus
    second, with Newcombe's interval for paired proportions (his method 10).

    ``first_correct`` and ``second_correct`` are boolean arrays, one entry per point.
    """
    first = np.asarray(first_correct, dtype=bool)
    second = np.asarray(second_correct, dtype=bool)
    n = len(first)
    if n == 0 or len(second) != n:
        raise NodestudyError(
            "paired comparisons need two equally long, non-empty arrays (one value per "
            "evaluation point under each solver)"
        )
    both = int(np.sum(first & second))
    only_first = int(np.sum(first & ~second))
    only_second = int(np.sum(~first & second))
    neither = n - both - only_first - only_second
    p1, p2 = (both + only_first) / n, (both + only_second) / n
    first_interval = wilson_interval(both + only_first, n, confidence)
    second_interval = wilson_interval(both + only_second, n, confidence)
    margins = (both + only_first) * (only_second + neither) * (both + only_second)
    margins *= only_first + neither
    if margins == 0:
        phi = 0.0
    else:
        cross = both * neither - only_first * only_second
        if cross > 0:  # Newcombe's continuity correction of the correlation
            cross = max(cross - n / 2, 0.0)
        phi = cross / math.sqrt(margins)
    difference = p1 - p2
    d_low1, d_high1 = p1 - first_interval.low, first_interval.high - p1
    d_low2, d_high2 = p2 - second_interval.low, second_interval.high - p2
    low = difference - math.sqrt(max(0.0, d_low1**2 - 2 * phi * d_low1 * d_high2 + d_high2**2))
    high = difference + math.sqrt(max(0.0, d_high1**2 - 2 * phi * d_high1 * d_low2 + d_low2**2))
    return Estimate(difference, max(-1.0, low), min(1.0, high), confidence)


def bootstrap_mean_interval(
    values: np.ndarray, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> Estimate:
    """The mean of per-point values with a percentile bootstrap interval. Seeded, so
    the same values always give the same interval."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0 or not np.all(np.isfinite(values)):
        return Estimate(math.nan, math.nan, math.nan, confidence)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (resamples, len(values)))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return Estimate(float(values.mean()), float(low), float(high), confidence)


def decide(estimate: Estimate, limit: float, *, two_sided: bool) -> str:
    """ "valid" when the interval lies within the limit (within [-limit, limit] for a
    signed difference), "invalid" when it lies entirely beyond it, else
    "inconclusive"."""
    if not (math.isfinite(estimate.low) and math.isfinite(estimate.high)):
        return INCONCLUSIVE
    if estimate.low > limit or (two_sided and estimate.high < -limit):
        return INVALID
    if estimate.high <= limit and (not two_sided or estimate.low >= -limit):
        return VALID
    return INCONCLUSIVE
