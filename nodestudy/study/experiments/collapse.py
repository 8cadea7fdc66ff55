"""The numbers written beside the collapse figures: Figure 4 (a, b) on any data set, the
appendix's collapse on other data sets, the adjoint comparison and Figure 4 (c, d).

One function per figure, so that a notebook draws and writes, and the layout of each
figure's JSON (``figures/layouts.py``) is filled in one place. The notebook adds what only
it knows: its profile's name and its wall time.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..analysis.collapse import CollapseAnalysis
from ..analysis.critical import CRITICAL_STEP_DEFINITION
from ..analysis.verdicts import verdict_counts
from ..figures.records import frame_records
from ..profiles import AppendixStudy, Study
from ..store.runs import Run
from .tolerance import ToleranceResults


def _run_numbers(study: Study) -> dict:
    """What every sweep's JSON says of its runs."""
    return {
        "seeds": list(study.seeds),
        "iterations": study.iterations,
        "reference": study.reference.label(),
    }


def _critical_numbers(collapse: CollapseAnalysis) -> dict:
    return {
        "critical": frame_records(collapse.critical),
        "critical_definition": CRITICAL_STEP_DEFINITION,
    }


def sphere_collapse_numbers(study: Study, collapse: CollapseAnalysis, checks: pd.DataFrame) -> dict:
    """Figure 4 (a, b) on Sphere2 (``fig4_sphere2``): critical steps, drops by training
    K over the seeds that learned, and ``check_ode``'s verdict counts (``checks``, a
    ``check_table``)."""
    return {
        **_run_numbers(study),
        "drop_limit": study.drop_limit,
        **_critical_numbers(collapse),
        "by_training_steps": frame_records(collapse.summary),
        "checks": frame_records(verdict_counts(checks)),
    }


def image_collapse_numbers(study: Study, collapse: CollapseAnalysis) -> dict:
    """Figure 4 (a) on an image data set (``fig4_{data}``)."""
    return {
        "data": study.data.short_name,
        "hidden_channels": study.model.hidden_channels,
        **_run_numbers(study),
        "drop_limit": study.drop_limit,
        **_critical_numbers(collapse),
        "by_training_steps": frame_records(collapse.summary),
    }


def datasets_collapse_numbers(study: AppendixStudy, collapse: CollapseAnalysis) -> dict:
    """The appendix's collapse on several data sets (``figA_collapse_datasets``)."""
    return {
        **_run_numbers(study),
        "drop_limit": study.drop_limit,
        "learning_rates": dict(study.learning_rates),
        **_critical_numbers(collapse),
        "summary": frame_records(collapse.summary.reset_index()),
    }


def adjoint_numbers(
    study: AppendixStudy, collapse: CollapseAnalysis, comparison: pd.DataFrame
) -> dict:
    """The appendix's adjoint comparison (``figA_adjoint``): critical steps per gradient
    method, and ``gradient_comparison``'s table."""
    return {
        **_run_numbers(study),
        **_critical_numbers(collapse),
        "comparison": frame_records(comparison),
    }


def tolerance_numbers(
    study: Study, tolerance: ToleranceResults, runs: Sequence[Run], majority_rate: float
) -> dict:
    """Figure 4 (c, d) on one data set (``fig4cd_{data}``): the fixed-tolerance runs'
    summary, with the seeds and length they actually ran with."""
    return {
        "data": study.data.short_name,
        "seeds": list(study.fixed_tolerance_run_seeds),
        "iterations": study.fixed_tolerance_run_iterations,
        "tolerances": list(study.tolerances),
        "test_factors": list(study.tolerance_test_factors),
        "reference": study.reference.label(),
        "majority_rate": majority_rate,
        "runs": len(runs),
        "diverged": sum(run.diverged for run in runs),
        "summary": frame_records(tolerance.summary),
    }
