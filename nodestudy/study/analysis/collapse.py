"""Pure functions from tidy accuracy tables to the study's numbers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...core.errors import NodestudyError
from ...core.solvers import SolverSpec

RUN_COLUMNS = ["data", "train_method", "train_steps", "seed"]


def reference_drop(table: pd.DataFrame, reference: SolverSpec) -> pd.DataFrame:
    """Per run: accuracy with its training solver, with the reference, and the drop.

    ``table`` is an :func:`nodestudy.study.analysis.evaluate.accuracy_table` holding, for every run,
    the row of its training solver and the row of ``reference``.
    """
    own = table[(table.test_method == table.train_method) & (table.test_steps == table.train_steps)]
    ref = table[(table.test_method == reference.method) & (table.test_steps == reference.steps)]
    keys = _run_columns(table)
    merged = own[[*keys, "accuracy"]].merge(
        ref[[*keys, "accuracy"]], on=keys, suffixes=("_train_solver", "_reference")
    )
    merged = merged.rename(
        columns={
            "accuracy_train_solver": "train_solver_accuracy",
            "accuracy_reference": "reference_accuracy",
        }
    )
    merged["drop"] = merged.train_solver_accuracy - merged.reference_accuracy
    merged["train_step_size"] = 1.0 / merged.train_steps
    return merged.sort_values(["train_method", "train_steps", "seed"], ignore_index=True)


def _run_columns(table: pd.DataFrame) -> list[str]:
    """The columns that tell runs apart; ``gradient`` where the table has it."""
    return [*RUN_COLUMNS, *(["gradient"] if "gradient" in table else [])]


#: A run has learned when its accuracy under its own training solver reaches this share
#: of the best such accuracy at the finest step of its sweep (same data, same training
#: method and gradient).
LEARNED_SHARE = 0.9
#: A sweep has learned at all only when that best accuracy lies at least this far (as a
#: share) from the majority-class rate towards 1.
LEARNED_ABOVE_CHANCE = 0.5
#: A critical step rests on at least this many seeds that learned at the finest K.
MIN_LEARNED_SEEDS = 3


def learned_bar(best_accuracy: float, majority_rate: float) -> float:
    """The accuracy a run on a data set must reach to count as learned.

    A seed that never learned has no drop to show (its accuracy is near chance under
    every solver), so it would pull a mean drop towards 0 and fake a critical step.
    The bar is ``LEARNED_SHARE`` of ``best_accuracy``, and infinite, so that no run
    counts, when that is not ``LEARNED_ABOVE_CHANCE`` of the way from the majority-class
    rate to 1.
    """
    if best_accuracy < majority_rate + LEARNED_ABOVE_CHANCE * (1.0 - majority_rate):
        return float("inf")
    return LEARNED_SHARE * best_accuracy


def mark_learned(drops: pd.DataFrame, majority_rates: Mapping[str, float]) -> pd.DataFrame:
    """:func:`reference_drop` rows with ``learned_bar`` and ``learned`` (the run reached
    it) added; ``majority_rates`` maps each ``data`` to the share of its largest class
    in the test set.

    The bar comes from the best run at the *finest* K of each sweep (data, training
    method, gradient): that is what the model learns as an ODE. A coarse run's own
    accuracy can be higher because it exploits the discretisation (Sphere2 at K = 2
    reaches 1.00), and a bar set from it would throw out seeds that learned.
    """
    missing = sorted(set(drops["data"]) - set(majority_rates))
    if missing:
        raise NodestudyError(
            f"no majority-class rate for {', '.join(missing)}; pass majority_rates={{name: "
            "share of the largest class in the test set}} (Dataset.majority_rate)"
        )
    sweep = ["data", "train_method", *(["gradient"] if "gradient" in drops else [])]
    finest = drops.train_steps == drops.groupby(sweep)["train_steps"].transform("max")
    best = (
        drops.train_solver_accuracy.where(finest)
        .groupby([drops[c] for c in sweep])
        .transform("max")
    )
    bars = [learned_bar(b, majority_rates[d]) for b, d in zip(best, drops["data"])]
    return drops.assign(learned_bar=bars, learned=drops.train_solver_accuracy >= bars)


def learned_only(drops: pd.DataFrame) -> pd.DataFrame:
    """The rows of runs that learned (every row where ``learned`` was never marked)."""
    return drops[drops.learned] if "learned" in drops else drops


def seed_critical_steps(series: pd.DataFrame, drop_limit: float) -> float:
    """One seed's critical K from its rows (one per K; only K at which it learned):
    the smallest K from which every finer K keeps the drop within ``drop_limit``;
    inf when even the finest fails (its critical step lies beyond the sweep)."""
    critical = float("inf")
    for k, drop in series.sort_values("train_steps", ascending=False)[
        ["train_steps", "drop"]
    ].itertuples(index=False):
        if drop > drop_limit:
            break
        critical = float(k)
    return critical


def critical_steps(
    drops: pd.DataFrame, drop_limit: float = 0.03, min_seeds: int = MIN_LEARNED_SEEDS
) -> pd.DataFrame:
    """The critical step count of each training method, from :func:`reference_drop`.

    Per seed that learned at the sweep's finest K, the critical K is the smallest K
    from which every finer K (at which it learned) keeps the accuracy drop from the
    training solver to the converged reference within ``drop_limit``. The critical K
    of the method is the median of the seeds' (the finer of the two middle ones for an
    even count), so that one odd seed cannot move it; their range is reported. It is
    NaN, with the ``reason``, when fewer than ``min_seeds`` seeds learned or when the
    median seed fails even at the finest K. Rows of runs that did not learn (``learned``
    False, see :func:`mark_learned`) enter nothing.
    """
    rows = []
    by = ["data", "train_method", *(["gradient"] if "gradient" in drops else [])]
    for labels, group in drops.groupby(by):
        rows.append({**dict(zip(by, labels)), **_critical_row(group, drop_limit, min_seeds)})
    return pd.DataFrame(rows)


def _critical_row(group: pd.DataFrame, drop_limit: float, min_seeds: int) -> dict:
    learned = learned_only(group)
    finest = group.train_steps.max()
    seeds = sorted(learned.seed[learned.train_steps == finest])
    per_seed = {s: seed_critical_steps(learned[learned.seed == s], drop_limit) for s in seeds}
    values = sorted(per_seed.values())
    critical, reason = np.nan, ""
    if len(values) < min_seeds:
        reason = (
            f"{len(values)} of {group.seed.nunique()} seeds learned at the finest K={finest:g}; "
            f"a critical step needs {min_seeds}"
        )
    elif np.isinf(values[len(values) // 2]):
        reason = f"the median seed's drop exceeds {drop_limit:g} even at the finest K={finest:g}"
    else:
        critical = values[len(values) // 2]
    grid = sorted(group.train_steps.unique())
    coarser = [k for k in grid if k < critical] if not np.isnan(critical) else []
    at_critical = learned[(learned.train_steps == critical) & learned.seed.isin(seeds)]
    at_finest = learned[(learned.train_steps == finest) & learned.seed.isin(seeds)]
    return {
        "drop_limit": drop_limit,
        "critical_steps": critical,
        "critical_step_size": 1.0 / critical if not np.isnan(critical) else np.nan,
        "critical_steps_min": values[0] if values and not np.isnan(critical) else np.nan,
        "critical_steps_max": values[-1] if values and not np.isnan(critical) else np.nan,
        "per_seed_critical_steps": ", ".join(f"{s}: {k:g}" for s, k in per_seed.items()),
        "coarsest_failing_steps": coarser[-1] if coarser else np.nan,
        "mean_drop_at_critical": at_critical["drop"].mean() if len(at_critical) else np.nan,
        "finest_steps": finest,
        "mean_drop_at_finest": at_finest["drop"].mean() if len(at_finest) else np.nan,
        "learned_seeds": len(values),
        "seeds": int(group.seed.nunique()),
        "reason": reason,
    }


def accuracy_by_test_steps(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, std and count over seeds for each training and test configuration."""
    keys = ["data", "train_method", "train_steps", "test_method", "test_steps"]
    return table.groupby(keys)["accuracy"].agg(["mean", "std", "count"]).reset_index()


def drop_summary(drops: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over the seeds that learned of the :func:`reference_drop` columns
    per training K, with ``learned_seeds`` of ``seeds`` beside them (NaN means where
    none learned)."""
    keys = ["data", "train_method", *(["gradient"] if "gradient" in drops else []), "train_steps"]
    columns = ["train_solver_accuracy", "reference_accuracy", "drop"]
    summary = learned_only(drops).groupby(keys)[columns].agg(["mean", "std"])
    summary.columns = [f"{column}_{stat}" for column, stat in summary.columns]
    counts = drops.groupby(keys).size().rename("seeds").to_frame()
    counts["learned_seeds"] = learned_only(drops).groupby(keys).size()
    summary = counts.join(summary).fillna({"learned_seeds": 0})
    summary["learned_seeds"] = summary.learned_seeds.astype(int)
    return summary.reset_index()


@dataclass(frozen=True)
class CollapseAnalysis:
    """What a collapse sweep shows: per run the drop to the reference and whether it
    learned (``drops``), per training method the critical step (``critical``), and per
    training K the means over the seeds that learned (``summary``)."""

    drops: pd.DataFrame
    critical: pd.DataFrame
    summary: pd.DataFrame

    def learned_rows(self, table: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``table`` (an accuracy table of the same runs) whose run
        learned: what every mean drawn from that table must rest on."""
        keys = _run_columns(table)
        learned = learned_only(self.drops)[keys].drop_duplicates()
        return table.merge(learned, on=keys)


def analyse_collapse(
    table: pd.DataFrame,
    reference: SolverSpec,
    drop_limit: float,
    majority_rates: Mapping[str, float],
    min_seeds: int = MIN_LEARNED_SEEDS,
) -> CollapseAnalysis:
    """:func:`reference_drop`, :func:`mark_learned`, :func:`critical_steps` and
    :func:`drop_summary` in one call: every collapse figure is analysed the same way."""
    drops = mark_learned(reference_drop(table, reference), majority_rates)
    return CollapseAnalysis(
        drops=drops,
        critical=critical_steps(drops, drop_limit, min_seeds),
        summary=drop_summary(drops),
    )
