"""Figure 4 (c, d): models trained with adaptive solvers at fixed tolerances, tested
at other tolerances; what the image notebook shows and writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import torch

from ..analysis.evaluate import accuracy_table, runs_frame
from ..profiles import Study
from ..store.runs import Run


@dataclass(frozen=True)
class ToleranceResults:
    #: One row per run and test solver (an :func:`accuracy_table`).
    table: pd.DataFrame
    #: Mean test accuracy per training and test solver, one column per training tol.
    by_tolerance: pd.DataFrame
    #: Forward evaluations per training iteration, per run.
    costs: pd.DataFrame
    #: Their mean per training method and tolerance.
    mean_nfe: pd.DataFrame


def fixed_tolerance_results(
    runs: Sequence[Run], study: Study, *, device: str | torch.device = "cpu", n_jobs: int = 1
) -> ToleranceResults:
    """Score the fixed-tolerance runs under ``study.tolerance_test_solvers``."""
    table = accuracy_table(runs, study.tolerance_test_solvers, device=device, n_jobs=n_jobs)
    by_tolerance = (
        table.groupby(
            ["train_method", "train_tol", "test_method", "test_tol", "test_steps"], dropna=False
        )["accuracy"]
        .mean()
        .unstack("train_tol")
    )
    costs = runs_frame(runs)[["train_method", "train_tol", "seed", "nfe_forward"]]
    mean_nfe = costs.groupby(["train_method", "train_tol"])["nfe_forward"].mean().reset_index()
    return ToleranceResults(table, by_tolerance, costs, mean_nfe)


def tolerance_adaptation_summary(
    runs: Sequence[Run], study: Study, *, device: str | torch.device = "cpu", n_jobs: int = 1
) -> pd.DataFrame:
    """Per run adapted by tolerance: its final tolerance, cost, and accuracy under its
    final solver and under the study's reference."""
    reference = accuracy_table(runs, lambda c: [study.reference], device=device, n_jobs=n_jobs)
    columns = ["seed", "iterations", "final_tol", "nfe_forward", "nfe_check", "test_accuracy"]
    return (
        runs_frame(runs)
        .merge(reference[["run", "accuracy"]], on="run")[[*columns, "accuracy"]]
        .rename(columns={"accuracy": "reference_accuracy"})
    )
