"""Figure 4 (c, d): models trained with adaptive solvers at fixed tolerances, tested
at other tolerances; what the image notebook shows and writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..analysis.collapse import learned_bar
from ..analysis.evaluate import accuracy_table, runs_frame
from ..profiles import Study
from ..session import Session
from ..store.runs import Run


@dataclass(frozen=True)
class ToleranceResults:
    #: One row per run and test solver (an :func:`accuracy_table`), ``learned`` marked.
    table: pd.DataFrame
    #: Mean test accuracy per training and test solver, one column per training tol.
    by_tolerance: pd.DataFrame
    #: Forward evaluations per training iteration, per run.
    costs: pd.DataFrame
    #: Their mean per training method and tolerance.
    mean_nfe: pd.DataFrame
    #: Per training method and tolerance, over the seeds that learned: the accuracy at
    #: the training tolerance, 10 and 100 times tighter and under the reference.
    summary: pd.DataFrame

    @property
    def learned_rows(self) -> pd.DataFrame:
        """The rows of seeds that learned, which the figure averages."""
        return self.table[self.table.learned]


def fixed_tolerance_results(
    runs: Sequence[Run],
    study: Study,
    majority_rate: float,
    session: Session | None = None,
) -> ToleranceResults:
    """Score the fixed-tolerance runs under ``study.tolerance_test_solvers``;
    ``majority_rate`` (the largest class's share) sets which seeds learned."""
    table = accuracy_table(runs, study.tolerance_test_solvers, session)
    by_tolerance = (
        table.groupby(
            ["train_method", "train_tol", "test_method", "test_tol", "test_steps"], dropna=False
        )["accuracy"]
        .mean()
        .unstack("train_tol")
    )
    costs = runs_frame(runs)[["train_method", "train_tol", "seed", "nfe_forward"]]
    mean_nfe = costs.groupby(["train_method", "train_tol"])["nfe_forward"].mean().reset_index()
    learned = learned_runs(table, study, majority_rate)
    summary = tolerance_summary(table, costs, study, majority_rate, learned)
    table["learned"] = [
        (method, tol, seed) in learned
        for method, tol, seed in zip(table.train_method, table.train_tol, table.seed)
    ]
    return ToleranceResults(table, by_tolerance, costs, mean_nfe, summary)


def learned_runs(
    table: pd.DataFrame, study: Study, majority_rate: float
) -> set[tuple[str, float, int]]:
    """The (training method, training tolerance, seed) of every run that learned: its
    own score, under its training solver at its training tolerance, reaches the learned
    bar, and its seed, trained at the tightest tolerance, reached it under the reference
    (as a seed of a K sweep must at the finest K, the bar set by the best of them
    there). A run near the majority-class rate has no drop to show, whatever its seed
    did at a tighter tolerance."""
    reference = study.reference
    scored = table[(table.test_method == reference.method) & (table.test_steps == reference.steps)]
    own = table[
        (table.test_method == table.train_method) & np.isclose(table.test_tol, table.train_tol)
    ]
    learned = set()
    for method, group in scored.groupby("train_method"):
        tightest = group[group.train_tol == group.train_tol.min()]
        bar = learned_bar(tightest.accuracy.max(), majority_rate)
        seeds = set(tightest.seed[tightest.accuracy >= bar])
        mine = own[(own.train_method == method) & own.seed.isin(seeds) & (own.accuracy >= bar)]
        learned |= {(method, tol, seed) for tol, seed in zip(mine.train_tol, mine.seed)}
    return learned


def tolerance_summary(
    table: pd.DataFrame,
    costs: pd.DataFrame,
    study: Study,
    majority_rate: float,
    learned: set[tuple[str, float, int]] | None = None,
) -> pd.DataFrame:
    """Where the dependence on the test tolerance starts: per training method and
    tolerance, the mean accuracy of the runs that learned (:func:`learned_runs`) tested with
    the training method at the training tolerance (``at_train_tol``), at 10 and 100
    times tighter, and under the reference, the drops from the first to the last two,
    and the forward NFE per iteration of those runs (:func:`learned_runs`: each run by its
    own score; diverged runs, which have no accuracies, enter neither)."""
    own = table[table.test_method == table.train_method]
    ratio = own.test_tol / own.train_tol
    reference = study.reference
    is_reference = (table.test_method == reference.method) & (table.test_steps == reference.steps)
    columns = {
        "at_train_tol": own[np.isclose(ratio, 1.0)],
        "at_tol_over_10": own[np.isclose(ratio, 0.1)],
        "at_tol_over_100": own[np.isclose(ratio, 0.01)],
        "reference": table[is_reference],
    }
    if learned is None:
        learned = learned_runs(table, study, majority_rate)
    scored = columns["reference"][["train_method", "train_tol", "seed"]]
    costs = costs.merge(scored, on=["train_method", "train_tol", "seed"])  # not diverged
    rows = []
    for method, group in columns["reference"].groupby("train_method"):
        for tol in sorted(group.train_tol.unique(), reverse=True):
            row = {"train_method": method, "train_tol": tol, "seeds": 0, "learned_seeds": 0}
            for name, rows_of in columns.items():
                picked = rows_of[(rows_of.train_method == method) & (rows_of.train_tol == tol)]
                row["seeds"] = max(row["seeds"], picked.seed.nunique())
                picked = picked[[(method, tol, seed) in learned for seed in picked.seed]]
                row["learned_seeds"] = max(row["learned_seeds"], picked.seed.nunique())
                row[name] = picked.accuracy.mean() if len(picked) else np.nan
            nfe = costs[(costs.train_method == method) & (costs.train_tol == tol)]
            row["nfe_forward"] = nfe[
                [(method, tol, seed) in learned for seed in nfe.seed]
            ].nfe_forward.mean()
            rows.append(row)
    summary = pd.DataFrame(rows)
    if len(summary):
        summary["drop_to_tol_over_100"] = summary.at_train_tol - summary.at_tol_over_100
        summary["drop_to_reference"] = summary.at_train_tol - summary.reference
    return summary


def tolerance_adaptation_summary(
    runs: Sequence[Run], study: Study, session: Session | None = None
) -> pd.DataFrame:
    """Per run adapted by tolerance: its final tolerance, cost, and accuracy under its
    final solver and under the study's reference."""
    reference = accuracy_table(runs, lambda c: [study.reference], session)
    columns = ["seed", "iterations", "final_tol", "nfe_forward", "nfe_check", "test_accuracy"]
    return (
        runs_frame(runs)
        .merge(reference[["run", "accuracy"]], on="run")[[*columns, "accuracy"]]
        .rename(columns={"accuracy": "reference_accuracy"})
    )
