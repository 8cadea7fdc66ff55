"""The study's comparison tables: Table 1 (the grid search against the step-size
adaptation) and the appendix's adjoint table."""

from __future__ import annotations

import numpy as np
import pandas as pd


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

    ``grid_runs`` is a :func:`nodestudy.study.analysis.evaluate.runs_frame` table, ``grid_drops`` a
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
            learned = (
                drops[drops.learned]
                if "learned" in drops
                else drops[drops.train_solver_accuracy >= learned_bar]
            )
            runs = grid_runs[grid_runs.train_steps == k]
            rows.append(
                {
                    "method": f"grid search, K={k}" + (" (critical)" if k == critical_k else ""),
                    "critical": bool(k == critical_k),
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
            "critical": False,
            "nfe_per_iteration": float(learned.nfe_forward.mean()),
            "steps": "final "
            + ", ".join(
                f"{k}" if accuracy >= learned_bar else f"{k} (not learned)"
                for k, accuracy in zip(adapted.final_steps, adapted.test_accuracy)
            ),
            "accuracy_training_solver": _mean_std(learned.test_accuracy),
            "accuracy_reference": _mean_std(learned.reference_accuracy),
            "train_seconds_per_seed": float(learned.train_seconds.mean()),
            "grid_total_seconds_per_seed": np.nan,
            "learned_seeds": len(learned),
            "seeds": len(adapted),
        }
    )
    return pd.DataFrame(rows)


def gradient_comparison(summary: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """The appendix's adjoint table: per gradient method and K, the means of
    :func:`drop_summary` (learned seeds) beside the mean forward and backward NFE and
    training seconds of every run (a ``runs_frame``)."""
    costs = (
        runs.groupby(["gradient", "train_steps"])[["nfe_forward", "nfe_backward", "train_seconds"]]
        .mean()
        .reset_index()
    )
    return summary.merge(costs, on=["gradient", "train_steps"])
