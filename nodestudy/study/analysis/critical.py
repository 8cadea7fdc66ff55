"""The critical step of a sweep: one definition, decided as ``check_ode`` decides.

The definition is :data:`CRITICAL_STEP_DEFINITION`, word for word the sentence the
README, docs/design.md and every figure JSON that states a critical step carry. Three
choices in it matter:

- A seed's verdict at K is the check's own decision of its comparison with the
  reference (:func:`nodestudy.core.stats.decide`, which ``check_ode`` calls too): valid
  when the paired interval of the drop lies within the limit, invalid when it lies
  wholly above it, inconclusive otherwise. An inconclusive seed is not counted valid:
  fewer test points must not make a coarser critical step.
- A run that diverged, did not learn or is missing at some K has failed there, never
  skipped: a seed that cannot be trained at K has no critical step coarser than K.
- The critical step is a bracket: the coarsest K from which more than half of the
  learned seeds are shown valid at every finer K (and the learned seeds' mean drop
  there is within the limit), and the finest K at which more than half are shown
  invalid or failed; the K between are inconclusive, and are stated as such.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ...core.errors import NodestudyError
from ...core.stats import INCONCLUSIVE, INVALID, VALID, Estimate, decide

#: The one definition of the critical step (the README, docs/design.md and the JSON
#: carry this sentence; a test holds them to it).
CRITICAL_STEP_DEFINITION = (
    "A seed is valid at K when the 95% paired interval of its accuracy drop from the "
    "training solver to the reference, on the same test points, lies within the limit, "
    "invalid when it lies wholly above it, inconclusive otherwise (check_ode's decision, "
    "one function for both), and failed where it diverged, did not learn or is missing. "
    "The critical K is the coarsest K of the grid from which more than half of the seeds "
    "that learned at the finest K are valid at every finer K and their mean drop there is "
    "within the limit; the bracket's other end is the finest K at which more than half of "
    "them are invalid or failed; the K between are inconclusive."
)
#: A critical step rests on at least this many seeds that learned at the finest K.
MIN_LEARNED_SEEDS = 3
#: A seed's verdict at a K where it diverged, did not learn or has no run.
FAILED = "failed"
#: The paired intervals' confidence (``reference_drop``'s, the check's default).
CONFIDENCE = 0.95


def seed_verdicts(drops: pd.DataFrame, drop_limit: float) -> pd.Series:
    """Per row of :func:`~nodestudy.study.analysis.collapse.reference_drop` (with the
    paired counts): valid, invalid, inconclusive (the check's decision) or failed."""
    if "drop_low" not in drops:
        raise NodestudyError(
            "the critical step rests on the paired test: build the drops with "
            "reference_drop(table, reference, pairs=paired_counts_table(runs, reference))"
        )
    learned = drops["learned"].fillna(False).astype(bool) if "learned" in drops else True
    diverged = drops["diverged"].fillna(False).astype(bool)
    decided = [
        decide(Estimate(value, low, high, CONFIDENCE), drop_limit, two_sided=False)
        for value, low, high in zip(drops["drop"], drops["drop_low"], drops["drop_high"])
    ]
    failed = ~(learned & ~diverged & drops["drop_low"].notna())
    return pd.Series(np.where(failed, FAILED, decided), index=drops.index)


def valid_runs(drops: pd.DataFrame, drop_limit: float) -> pd.Series:
    """Per row: whether the run is shown valid at its K (:func:`seed_verdicts`)."""
    return seed_verdicts(drops, drop_limit) == VALID


def seed_critical_steps(valid_by_k: dict[float, bool], grid: list[float]) -> float:
    """One seed's critical K: the coarsest K of ``grid`` from which it is valid at
    every finer K (a K it has no run at counts as not valid); inf when it is not valid
    even at the finest (its critical step lies beyond the grid)."""
    critical = math.inf
    for k in sorted(grid, reverse=True):
        if not valid_by_k.get(k, False):
            break
        critical = float(k)
    return critical


def critical_steps(
    drops: pd.DataFrame, drop_limit: float = 0.03, min_seeds: int = MIN_LEARNED_SEEDS
) -> pd.DataFrame:
    """The critical step of each sweep (data, training method, gradient), by
    :data:`CRITICAL_STEP_DEFINITION`, from a
    :func:`~nodestudy.study.analysis.collapse.reference_drop` with paired counts and
    ``learned`` marked.

    NaN, with the ``reason``, when fewer than ``min_seeds`` seeds learned at the finest
    K or when no K of the grid has more than half of them shown valid.
    """
    drops = drops.assign(verdict=seed_verdicts(drops, drop_limit))
    rows = []
    by = ["data", "train_method", *(["gradient"] if "gradient" in drops else [])]
    for labels, group in drops.groupby(by):
        rows.append({**dict(zip(by, labels)), **_critical_row(group, drop_limit, min_seeds)})
    return pd.DataFrame(rows)


def _critical_row(group: pd.DataFrame, drop_limit: float, min_seeds: int) -> dict:
    grid = sorted(float(k) for k in group.train_steps.unique())
    finest = grid[-1]
    learned = group[group.learned] if "learned" in group else group[~group.diverged]
    seeds = sorted(learned.seed[learned.train_steps == finest])
    verdict = {(float(k), s): v for k, s, v in zip(group.train_steps, group.seed, group.verdict)}
    per_seed = {
        s: seed_critical_steps({k: verdict.get((k, s)) == VALID for k in grid}, grid) for s in seeds
    }
    counts = {
        k: {v: sum(verdict.get((k, s), FAILED) == v for s in seeds) for v in _VERDICTS}
        for k in grid
    }
    at = {k: learned[(learned.train_steps == k) & learned.seed.isin(seeds)] for k in grid}
    mean_drop = {k: at[k]["drop"].mean() if len(at[k]) else np.nan for k in grid}
    values = sorted(per_seed.values())
    critical, reason = _majority_k(values, grid, min_seeds, mean_drop, drop_limit)
    if len(values) < min_seeds:
        reason = (
            f"{len(values)} of {group.seed.nunique()} seeds learned at the finest "
            f"K={finest:g}; a critical step needs {min_seeds}"
        )
    found = not math.isnan(critical)
    invalid, between = _bracket(grid, counts, len(seeds), critical, len(values) >= min_seeds)
    return {
        "drop_limit": drop_limit,
        "critical_steps": critical,
        "critical_step_size": 1.0 / critical if found else np.nan,
        "critical_steps_min": values[0] if found else np.nan,
        "critical_steps_max": values[-1] if found else np.nan,
        "per_seed_critical_steps": ", ".join(f"{s}: {k:g}" for s, k in per_seed.items()),
        "seeds_valid_from_critical": sum(v <= critical for v in values) if found else 0,
        "seeds_not_valid_at_finest": sum(math.isinf(v) for v in values),
        "invalid_steps": invalid,
        "inconclusive_steps": ", ".join(f"{k:g}" for k in between),
        "verdicts_by_steps": "; ".join(
            f"{k:g}: " + ", ".join(f"{counts[k][v]} {v}" for v in _VERDICTS if counts[k][v])
            for k in grid
            if seeds
        ),
        "coarsest_failing_steps": max((k for k in grid if k < critical), default=np.nan)
        if found
        else np.nan,
        "mean_drop_at_critical": mean_drop[critical] if found else np.nan,
        "finest_steps": finest,
        "mean_drop_at_finest": mean_drop[finest],
        "learned_seeds": len(values),
        "seeds": int(group.seed.nunique()),
        "reason": reason,
    }


_VERDICTS = (VALID, INCONCLUSIVE, INVALID, FAILED)


def _bracket(
    grid: list[float], counts: dict, n_seeds: int, critical: float, enough: bool
) -> tuple[float, list[float]]:
    """The finest K (coarser than the critical one) at which more than half of the
    ``n_seeds`` learned seeds are invalid or failed, and the K between it and the
    critical K: inconclusive."""
    if not enough:
        return np.nan, []
    found = not math.isnan(critical)
    shown = [
        k
        for k in grid
        if 2 * (counts[k][INVALID] + counts[k][FAILED]) > n_seeds and (not found or k < critical)
    ]
    invalid = shown[-1] if shown else np.nan
    between = [
        k for k in grid if (math.isnan(invalid) or k > invalid) and (not found or k < critical)
    ]
    return invalid, between


def _majority_k(
    values: list[float],
    grid: list[float],
    min_seeds: int,
    mean_drop: dict[float, float],
    drop_limit: float,
) -> tuple[float, str]:
    """The coarsest K of ``grid`` from which more than half of the seeds' critical Ks
    (``values``) lie and at which the learned seeds' mean drop is within the limit:
    counted in integers, so a tie is decided by the count."""
    if len(values) < min_seeds:
        return np.nan, "too few seeds learned"
    for k in grid:
        if 2 * sum(v <= k for v in values) > len(values) and not mean_drop[k] > drop_limit:
            return k, ""
    return np.nan, (
        f"fewer than half of the {len(values)} learned seeds are shown valid even at the "
        f"finest K={grid[-1]:g}"
    )
