"""Pure functions from tidy accuracy tables to the study's numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .solvers import SolverSpec

RUN_COLUMNS = ["data", "train_method", "train_steps", "seed"]


def reference_drop(table: pd.DataFrame, reference: SolverSpec) -> pd.DataFrame:
    """Per run: accuracy with its training solver, with the reference, and the drop.

    ``table`` is an :func:`nodestudy.evaluate.accuracy_table` holding, for every run,
    the row of its training solver and the row of ``reference``.
    """
    own = table[(table.test_method == table.train_method) & (table.test_steps == table.train_steps)]
    ref = table[(table.test_method == reference.method) & (table.test_steps == reference.steps)]
    merged = own[[*RUN_COLUMNS, "accuracy"]].merge(
        ref[[*RUN_COLUMNS, "accuracy"]], on=RUN_COLUMNS, suffixes=("_train_solver", "_reference")
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


def critical_steps(drops: pd.DataFrame, tolerance: float = 0.03) -> pd.DataFrame:
    """The critical step count of each training method, from :func:`reference_drop`.

    A training step count K *passes* when the accuracy drop from the training solver
    to the converged reference, averaged over seeds, is at most ``tolerance``. The
    critical K is the smallest K of the sweep from which every finer K passes; the
    critical step size then lies between 1/K and the next coarser grid value. NaN
    when even the finest K fails (the sweep does not reach the critical size).
    """
    rows = []
    for (data, method), group in drops.groupby(["data", "train_method"]):
        per_k = group.groupby("train_steps")["drop"].agg(["mean", "std", "count"]).sort_index()
        passes = per_k["mean"] <= tolerance
        # Walk down from the finest K while K keeps passing.
        critical = np.nan
        for k in per_k.index[::-1]:
            if not passes[k]:
                break
            critical = k
        coarser = per_k.index[per_k.index < critical] if not np.isnan(critical) else []
        rows.append(
            {
                "data": data,
                "train_method": method,
                "tolerance": tolerance,
                "critical_steps": critical,
                "critical_step_size": 1.0 / critical if not np.isnan(critical) else np.nan,
                "coarsest_failing_steps": coarser[-1] if len(coarser) else np.nan,
                "mean_drop_at_critical": per_k["mean"].get(critical, np.nan),
                "finest_steps": per_k.index.max(),
                "mean_drop_at_finest": per_k["mean"].iloc[-1],
                "seeds": int(per_k["count"].min()),
            }
        )
    return pd.DataFrame(rows)


def accuracy_by_test_steps(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, std and count over seeds for each training and test configuration."""
    keys = ["data", "train_method", "train_steps", "test_method", "test_steps"]
    return table.groupby(keys)["accuracy"].agg(["mean", "std", "count"]).reset_index()


def drop_summary(drops: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds of the :func:`reference_drop` columns per training K."""
    columns = ["train_solver_accuracy", "reference_accuracy", "drop"]
    summary = drops.groupby(["data", "train_method", "train_steps"])[columns].agg(["mean", "std"])
    summary.columns = [f"{column}_{stat}" for column, stat in summary.columns]
    summary["seeds"] = drops.groupby(["data", "train_method", "train_steps"]).size()
    return summary.reset_index()
