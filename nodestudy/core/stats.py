"""Intervals and three-way decisions for comparing one model under two solvers.

Both solvers see the same evaluation points, so comparisons are *paired*: a point
classified correctly under both solvers says nothing about a difference, and the
information is in the discordant points. The intervals here use that:

- :func:`paired_difference_interval` (and :class:`PairedCounts`, the same from the
  four counts): the difference of two accuracies on the same points (Newcombe 1998,
  "method 10": Wilson intervals of the two accuracies combined with their correlation).
  It behaves well with no or few discordant points, where the simple Wald interval
  collapses to a single value.
- :func:`wilson_interval`: one proportion, e.g. the share of predictions that change.
- :func:`bootstrap_mean_interval`: the mean of a continuous per-point quantity, e.g.
  the distance of end states (and :func:`percentile_interval` for any statistic of
  paired resamples, e.g. the relative increase of a mean loss).

:func:`one_sided_p` turns any of these intervals into a p-value for "the difference
lies beyond the limit", and :func:`holm` decides which of several such comparisons
(one per test solver) are beyond it with the family's error rate held.

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


@dataclass(frozen=True)
class PairedCounts:
    """How the same points fare under two solvers: correct under both, under the
    first only, under the second only, under neither. The difference of the two
    accuracies and its interval are functions of these four integers alone, so equal
    counts always give equal decisions (no rounding of accuracies enters)."""

    both: int
    only_first: int
    only_second: int
    neither: int

    @classmethod
    def of(cls, first_correct: np.ndarray, second_correct: np.ndarray) -> PairedCounts:
        """The counts of two boolean arrays, one entry per point under each solver."""
        first = np.asarray(first_correct, dtype=bool)
        second = np.asarray(second_correct, dtype=bool)
        if len(first) == 0 or len(second) != len(first):
            raise NodestudyError(
                "paired comparisons need two equally long, non-empty arrays (one value per "
                "evaluation point under each solver)"
            )
        both, only_first = int(np.sum(first & second)), int(np.sum(first & ~second))
        only_second = int(np.sum(~first & second))
        return cls(both, only_first, only_second, len(first) - both - only_first - only_second)

    @property
    def n(self) -> int:
        return self.both + self.only_first + self.only_second + self.neither

    def difference_interval(self, confidence: float = 0.95) -> Estimate:
        """The first accuracy minus the second, with Newcombe's interval for paired
        proportions (his method 10)."""
        both, only_first, only_second, neither, n = (
            self.both, self.only_first, self.only_second, self.neither, self.n
        )  # fmt: skip
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
        difference = (only_first - only_second) / n  # exact, where p1 - p2 would round
        d_low1, d_high1 = p1 - first_interval.low, first_interval.high - p1
        d_low2, d_high2 = p2 - second_interval.low, second_interval.high - p2
        low = difference - math.sqrt(max(0.0, d_low1**2 - 2 * phi * d_low1 * d_high2 + d_high2**2))
        high = difference + math.sqrt(max(0.0, d_high1**2 - 2 * phi * d_high1 * d_low2 + d_low2**2))
        return Estimate(difference, max(-1.0, low), min(1.0, high), confidence)


def paired_difference_interval(
    first_correct: np.ndarray, second_correct: np.ndarray, confidence: float = 0.95
) -> Estimate:
    """The difference of two accuracies measured on the same points, first minus
    second, with Newcombe's interval for paired proportions (:class:`PairedCounts`).

    ``first_correct`` and ``second_correct`` are boolean arrays, one entry per point.
    """
    return PairedCounts.of(first_correct, second_correct).difference_interval(confidence)


def resample_indices(n: int, resamples: int = 2000, seed: int = 0) -> np.ndarray:
    """Bootstrap resamples of ``n`` points, (resamples, n) indices. Seeded, so the same
    values always give the same interval; two quantities resampled with the same
    indices stay paired."""
    return np.random.default_rng(seed).integers(0, n, (resamples, n))


def percentile_interval(value: float, resampled: np.ndarray, confidence: float) -> Estimate:
    """A percentile bootstrap interval from the statistic's resampled values. An
    infinite statistic (a distance to a solve that overflowed) gives infinite bounds
    rather than none."""
    if math.isnan(value) or np.isnan(resampled).any():
        return Estimate(math.nan, math.nan, math.nan, confidence)
    tail = (1 - confidence) / 2
    if np.isfinite(resampled).all():
        low, high = np.quantile(resampled, [tail, 1 - tail])
    else:  # no interpolation between infinities
        low = np.quantile(resampled, tail, method="lower")
        high = np.quantile(resampled, 1 - tail, method="higher")
    return Estimate(float(value), float(low), float(high), confidence)


def bootstrap_mean_interval(
    values: np.ndarray, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> Estimate:
    """The mean of per-point values with a percentile bootstrap interval."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0 or np.isnan(values).any():
        return Estimate(math.nan, math.nan, math.nan, confidence)
    with np.errstate(invalid="ignore"):
        means = values[resample_indices(len(values), resamples, seed)].mean(axis=1)
    return percentile_interval(float(values.mean()), means, confidence)


def one_sided_p(interval_at, limit: float, *, two_sided: bool) -> float:
    """The one-sided p-value of "the difference lies beyond ``limit``": the smallest
    tail probability a at which the interval ``interval_at(1 - 2a)`` lies wholly
    beyond the limit (above ``limit``, or, ``two_sided``, below ``-limit``). 1 when no
    interval does. Any interval method serves, so every comparison of the check gets
    its p-value from the interval it reports."""

    def smallest_tail(beyond) -> float:
        low, high = 1e-12, 0.5 - 1e-9
        if beyond(interval_at(1 - 2 * low)):
            return low
        if not beyond(interval_at(1 - 2 * high)):
            return 1.0
        for _ in range(45):
            middle = (low + high) / 2
            if beyond(interval_at(1 - 2 * middle)):
                high = middle
            else:
                low = middle
        return high

    above = smallest_tail(lambda e: e.low > limit)
    if not two_sided:
        return above
    return min(above, smallest_tail(lambda e: e.high < -limit))


def holm(p_values: list[float], alpha: float) -> list[bool]:
    """Holm's step-down procedure: which of several hypotheses are rejected at family
    level ``alpha`` (the smallest p against alpha/m, the next against alpha/(m-1), ...,
    stopping at the first that is not rejected)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    rejected = [False] * len(p_values)
    for rank, i in enumerate(order):
        if p_values[i] > alpha / (len(p_values) - rank):
            break
        rejected[i] = True
    return rejected


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
