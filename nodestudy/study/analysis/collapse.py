"""Pure functions from tidy accuracy tables to the study's numbers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...core.errors import NodestudyError
from ...core.solvers import SolverSpec
from ...core.stats import PairedCounts
from .critical import MIN_LEARNED_SEEDS, critical_steps
from .paired import PAIRED_COLUMNS

RUN_COLUMNS = ["data", "train_method", "train_steps", "seed"]


def reference_drop(
    table: pd.DataFrame, reference: SolverSpec, pairs: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per run: accuracy with its training solver, with the reference, and the drop.

    ``table`` is an :func:`nodestudy.study.analysis.evaluate.accuracy_table` holding,
    for every run, the row of its training solver and the row of ``reference``.
    ``pairs`` (:func:`nodestudy.study.analysis.paired.paired_counts_table`, with the
    same reference) adds the paired test: ``drop`` becomes the exact ratio of counts,
    ``drop_low`` and ``drop_high`` its 95% interval, and the diverged runs appear as
    rows with ``diverged`` True and no accuracies, so that nothing skips them.
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
    if pairs is not None:
        merged = _with_paired_test(merged, pairs, keys)
    merged["train_step_size"] = 1.0 / merged.train_steps
    return merged.sort_values(["train_method", "train_steps", "seed"], ignore_index=True)


def _with_paired_test(drops: pd.DataFrame, pairs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The drops with each run's paired counts and interval; every run of ``pairs``
    is a row, a diverged one without accuracies."""
    columns = [*keys, "diverged", *PAIRED_COLUMNS]
    merged = drops.merge(pairs.reindex(columns=columns), on=keys, how="outer")
    merged["diverged"] = merged["diverged"].fillna(False).astype(bool)
    estimates = [
        PairedCounts(*(int(v) for v in counts)).difference_interval()
        if not np.isnan(counts).any()
        else None
        for counts in merged[list(PAIRED_COLUMNS)].to_numpy(dtype=float)
    ]
    merged["drop"] = [e.value if e else np.nan for e in estimates]
    merged["drop_low"] = [e.low if e else np.nan for e in estimates]
    merged["drop_high"] = [e.high if e else np.nan for e in estimates]
    return merged


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
    it, and its seed reached it at the sweep's finest K) added; ``majority_rates`` maps
    each ``data`` to the share of its largest class in the test set.

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
    reached = drops.train_solver_accuracy >= bars
    # a seed that did not learn at the finest K never learned the ODE: a coarse run of
    # it that reaches the bar does so by exploiting the discretisation
    seed_learned = (reached & finest).groupby([drops[c] for c in [*sweep, "seed"]]).transform("max")
    return drops.assign(learned_bar=bars, learned=reached & seed_learned)


def learned_only(drops: pd.DataFrame) -> pd.DataFrame:
    """The rows of runs that learned (every row where ``learned`` was never marked)."""
    return drops[drops.learned] if "learned" in drops else drops


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
    pairs: pd.DataFrame,
    reference: SolverSpec,
    drop_limit: float,
    majority_rates: Mapping[str, float],
    min_seeds: int = MIN_LEARNED_SEEDS,
) -> CollapseAnalysis:
    """:func:`reference_drop` (with the paired counts ``pairs``), :func:`mark_learned`,
    :func:`~nodestudy.study.analysis.critical.critical_steps` and :func:`drop_summary`
    in one call: every collapse figure is analysed the same way."""
    drops = mark_learned(reference_drop(table, reference, pairs), majority_rates)
    return CollapseAnalysis(
        drops=drops,
        critical=critical_steps(drops, drop_limit, min_seeds),
        summary=drop_summary(drops),
    )
