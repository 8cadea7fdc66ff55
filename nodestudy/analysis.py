"""Pure functions from tidy accuracy tables to the study's numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .core.solvers import SolverSpec

RUN_COLUMNS = ["data", "train_method", "train_steps", "seed"]


def reference_drop(table: pd.DataFrame, reference: SolverSpec) -> pd.DataFrame:
    """Per run: accuracy with its training solver, with the reference, and the drop.

    ``table`` is an :func:`nodestudy.evaluate.accuracy_table` holding, for every run,
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


def critical_steps(drops: pd.DataFrame, tolerance: float = 0.03) -> pd.DataFrame:
    """The critical step count of each training method, from :func:`reference_drop`.

    A training step count K *passes* when the accuracy drop from the training solver
    to the converged reference, averaged over seeds, is at most ``tolerance``. The
    critical K is the smallest K of the sweep from which every finer K passes; the
    critical step size then lies between 1/K and the next coarser grid value. NaN
    when even the finest K fails (the sweep does not reach the critical size).
    """
    rows = []
    by = ["data", "train_method", *(["gradient"] if "gradient" in drops else [])]
    for labels, group in drops.groupby(by):
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
                **dict(zip(by, labels)),
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


def _mean_std(values: pd.Series) -> str:
    if len(values) == 0:
        return "no learned seed"
    return f"{values.mean():.3f} ± {values.std(ddof=1) if len(values) > 1 else 0.0:.3f}"


def grid_vs_adaptation(
    grid_runs: pd.DataFrame,
    grid_drops: pd.DataFrame,
    critical_k: float,
    adapted: pd.DataFrame,
    learned_bar: float = 0.0,
) -> pd.DataFrame:
    """Table 1: the grid search's critical K and its two neighbours against the
    step-size adaptation.

    ``grid_runs`` is a :func:`nodestudy.evaluate.runs_frame` table, ``grid_drops`` a
    :func:`reference_drop` of the grid, ``adapted`` a runs_frame of the adapted runs
    with their ``reference_accuracy``. NFE are forward evaluations per training
    iteration, the adaptation's checks included. Training time is seconds per seed;
    the grid search's total is every K of the grid, the price of finding the critical
    K. A seed whose accuracy under its own solver is below ``learned_bar`` has not
    learned: it enters no mean, and ``learned_seeds`` of ``seeds`` says so.
    """
    grid_total = grid_runs.groupby("seed")["train_seconds"].sum()
    rows = []
    ks = sorted(grid_drops.train_steps.unique())
    if not np.isnan(critical_k):
        position = ks.index(critical_k)
        for k in ks[max(0, position - 1) : position + 2]:
            drops = grid_drops[grid_drops.train_steps == k]
            learned = drops[drops.train_solver_accuracy >= learned_bar]
            runs = grid_runs[grid_runs.train_steps == k]
            rows.append(
                {
                    "method": f"grid search, K={k}" + (" (critical)" if k == critical_k else ""),
                    "nfe_per_iteration": float(runs.nfe_forward.mean()),
                    "steps": f"{k}",
                    "accuracy_training_solver": _mean_std(learned.train_solver_accuracy),
                    "accuracy_reference": _mean_std(learned.reference_accuracy),
                    "train_seconds_per_seed": float(runs.train_seconds.mean()),
                    "grid_total_seconds_per_seed": float(grid_total.mean()),
                    "learned_seeds": len(learned),
                    "seeds": len(drops),
                }
            )
    learned = adapted[adapted.test_accuracy >= learned_bar]
    rows.append(
        {
            "method": "step adaptation",
            "nfe_per_iteration": float(learned.nfe_forward.mean()),
            "steps": "final " + ", ".join(str(k) for k in adapted.final_steps),
            "accuracy_training_solver": _mean_std(learned.test_accuracy),
            "accuracy_reference": _mean_std(learned.reference_accuracy),
            "train_seconds_per_seed": float(learned.train_seconds.mean()),
            "grid_total_seconds_per_seed": np.nan,
            "learned_seeds": len(learned),
            "seeds": len(adapted),
        }
    )
    return pd.DataFrame(rows)
