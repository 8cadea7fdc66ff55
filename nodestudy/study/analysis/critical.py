"""The critical step of a sweep: one definition, on the paired test ``check_ode`` makes.

The definition is :data:`CRITICAL_STEP_DEFINITION`, word for word the sentence the
README, docs/design.md and every figure JSON that states a critical step carry. Two
choices in it matter:

- A seed's verdict at K is the paired test's, read off four integer counts
  (:class:`~nodestudy.core.stats.PairedCounts`), not a rounded accuracy against the
  limit: two runs with the same counts always get the same verdict.
- A run that diverged or did not learn at some K is a failure there, never skipped: a
  seed that cannot be trained at K has no critical step coarser than K.

More than half of the seeds must be valid (3 of 4, 2 of 3): with an even count that is
the finer of the two middle seeds, the cautious side. The seeds' own critical steps
give the range, the interval a few seeds allow.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ...core.errors import NodestudyError

#: The one definition of the critical step (the README, docs/design.md and the JSON
#: carry this sentence; a test holds them to it).
CRITICAL_STEP_DEFINITION = (
    "The critical K is the coarsest K of the grid from which more than half of the seeds "
    "that learned at the finest K are valid at every finer K, where a seed is valid at K "
    "when the 95% paired interval of its accuracy drop from the training solver to the "
    "reference, on the same test points (the test check_ode makes), does not lie wholly "
    "above the limit, and a run that diverged, did not learn or is missing is not valid; "
    "the range of those seeds' own critical Ks is its interval."
)
#: A critical step rests on at least this many seeds that learned at the finest K.
MIN_LEARNED_SEEDS = 3


def valid_runs(drops: pd.DataFrame, drop_limit: float) -> pd.Series:
    """Per row of :func:`~nodestudy.study.analysis.collapse.reference_drop` (with the
    paired counts): whether the run is valid at its K in the sense of
    :data:`CRITICAL_STEP_DEFINITION`."""
    if "drop_low" not in drops:
        raise NodestudyError(
            "the critical step rests on the paired test: build the drops with "
            "reference_drop(table, reference, pairs=paired_counts_table(runs, reference))"
        )
    learned = drops["learned"].fillna(False).astype(bool) if "learned" in drops else True
    diverged = drops["diverged"].fillna(False).astype(bool)
    shows_drop = drops["drop_low"] > drop_limit
    return learned & ~diverged & ~shows_drop & drops["drop_low"].notna()


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
    K or when no K of the grid has more than half of them valid.
    """
    drops = drops.assign(valid=valid_runs(drops, drop_limit))
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
    per_seed = {
        s: seed_critical_steps(
            {float(k): bool(v) for k, v in zip(rows.train_steps, rows.valid)}, grid
        )
        for s, rows in ((s, group[group.seed == s]) for s in seeds)
    }
    values = sorted(per_seed.values())
    critical, reason = _majority_k(values, grid, min_seeds)
    if len(values) < min_seeds:
        reason = (
            f"{len(values)} of {group.seed.nunique()} seeds learned at the finest "
            f"K={finest:g}; a critical step needs {min_seeds}"
        )
    found = not math.isnan(critical)
    coarser = [k for k in grid if k < critical] if found else []
    at_critical = learned[(learned.train_steps == critical) & learned.seed.isin(seeds)]
    at_finest = learned[(learned.train_steps == finest) & learned.seed.isin(seeds)]
    return {
        "drop_limit": drop_limit,
        "critical_steps": critical,
        "critical_step_size": 1.0 / critical if found else np.nan,
        "critical_steps_min": values[0] if found else np.nan,
        "critical_steps_max": values[-1] if found else np.nan,
        "per_seed_critical_steps": ", ".join(f"{s}: {k:g}" for s, k in per_seed.items()),
        "seeds_valid_from_critical": sum(v <= critical for v in values) if found else 0,
        "seeds_not_valid_at_finest": sum(math.isinf(v) for v in values),
        "coarsest_failing_steps": coarser[-1] if coarser else np.nan,
        "mean_drop_at_critical": at_critical["drop"].mean() if len(at_critical) else np.nan,
        "finest_steps": finest,
        "mean_drop_at_finest": at_finest["drop"].mean() if len(at_finest) else np.nan,
        "learned_seeds": len(values),
        "seeds": int(group.seed.nunique()),
        "reason": reason,
    }


def _majority_k(values: list[float], grid: list[float], min_seeds: int) -> tuple[float, str]:
    """The coarsest K of ``grid`` from which more than half of the seeds' critical Ks
    (``values``) lie: counted in integers, so a tie is decided by the count."""
    if len(values) < min_seeds:
        return np.nan, "too few seeds learned"
    for k in grid:
        if 2 * sum(v <= k for v in values) > len(values):
            return k, ""
    return np.nan, (
        f"fewer than half of the {len(values)} learned seeds are valid even at the finest "
        f"K={grid[-1]:g}"
    )
