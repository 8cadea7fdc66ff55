"""The validity check applied to the study's own stored runs.

A stored run is one member of the paper's classifier; :meth:`ODEClassifier.member_ode`
turns it into a plain ``func(t, z)`` and ``head`` as a torchdiffeq user would write
them, and :func:`nodestudy.check_ode` checks it like any other model, on the run's
test split and with the solver it ended training with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import torch

from ...core.check.procedure import check_ode
from ...core.check.report import OdeCheck
from ...core.errors import NodestudyError
from ..data.datasets import load_dataset
from ..runtime.parallel import parallel_map
from ..session import Session, session_or_default
from ..store.runs import Run
from .evaluate import run_labels


def check_run(
    run: Run, *, split: str = "test", device: str | torch.device = "cpu", **options: Any
) -> OdeCheck:
    """:func:`~nodestudy.check_ode` of a stored run under the solver it ended training
    with, on its data set's ``split``; ``options`` go to ``check_ode``."""
    if run.diverged:
        raise NodestudyError(
            f"run {run.directory} diverged during training (non-finite loss at iteration "
            f"{run.metrics.get('diverged_at_iteration')}); there is no model to check"
        )
    ode = run.model(device=device).member_ode(0)
    x, y = load_dataset(run.config.data).split(split)
    solver = run.final_solver.to_torchdiffeq()
    return check_ode(ode.func, x.to(device), y.to(device), head=ode.head, **solver, **options)


def check_table(
    runs: Sequence[Run],
    session: Session | None = None,
    *,
    split: str = "test",
    **options: Any,
) -> pd.DataFrame:
    """One row per run (diverged runs left out): its labels and what
    :func:`check_run` found."""
    session = session_or_default(session)
    settings = sorted({"device", "n_jobs", "cache"} & options.keys())
    if settings:
        raise NodestudyError(
            f"check_table takes {', '.join(settings)} from its session: pass "
            "Session(device=..., n_jobs=...) as its second argument"
        )
    kept = [run for run in runs if not run.diverged]
    rows = parallel_map(
        _check_row, kept, session.n_jobs, split=split, device=session.device, options=options
    )
    return pd.DataFrame.from_records(rows)


def _check_row(run: Run, *, split: str, device, options: dict[str, Any]) -> dict[str, Any]:
    check = check_run(run, split=split, device=device, **options)
    crossings = check.crossings or {}
    return {
        **run_labels(run),
        "verdict": check.verdict,
        "measure": check.measure.value,
        "difference": check.estimate.value,
        "difference_low": check.estimate.low,
        "difference_high": check.estimate.high,
        "limit": check.limit,
        "training_accuracy": check.row("training").get("accuracy"),
        "reference_accuracy": check.row("reference").get("accuracy"),
        "reference": check.reference.label(),
        "reference_converged": check.reference_converged,
        "safe_steps": check.safe_steps,
        "crossings_training": crossings.get("training"),
        "crossings_reference": crossings.get("reference"),
        "crossing_pairs": crossings.get("pairs"),
        "check_seconds": check.seconds,
    }


def verdict_counts(checks: pd.DataFrame) -> pd.DataFrame:
    """How many seeds got each verdict, per training K (a :func:`check_table`)."""
    return checks.groupby(["train_steps", "verdict"]).size().unstack(fill_value=0).reset_index()
