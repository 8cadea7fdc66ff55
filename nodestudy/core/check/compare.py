"""How two solvers' answers differ on the same points: an interval at any confidence
(so that a p-value can be read off it, see ``stats.one_sided_p``) and one table row
per solver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..states import state_distance
from ..stats import (
    Estimate,
    paired_difference_interval,
    percentile_interval,
    resample_indices,
    wilson_interval,
)
from .outcomes import Measure, Outcome, Problem

IntervalAt = Callable[[float], Estimate]


def interval_of(problem: Problem, first: Outcome, second: Outcome) -> IntervalAt:
    """The change of the answer from ``first`` (the solver judged) to ``second``, by the
    problem's measure: the accuracy drop, the share of changed predictions, the
    relative increase of the mean loss, or the mean state distance."""
    measure = problem.measure
    if measure is Measure.ACCURACY:
        y = problem.y.cpu()
        own, other = (first.answers == y).numpy(), (second.answers == y).numpy()
        return lambda c: paired_difference_interval(own, other, c)
    if measure is Measure.CHANGED:
        changed, n = int((first.answers != second.answers).sum()), problem.n
        return lambda c: wilson_interval(changed, n, c)
    if measure is Measure.LOSS:
        return loss_increase_interval(first.answers.numpy(), second.answers.numpy())
    return distance_interval(problem, first, second)


def distance_interval(problem: Problem, first: Outcome, second: Outcome) -> IntervalAt:
    """The mean distance of ``first``'s states from ``second``'s, in units of the
    spread of ``second``'s states, with a bootstrap interval."""
    distances = state_distance(first.paths, second.paths, problem.layout).numpy()
    with np.errstate(invalid="ignore"):
        means = distances[resample_indices(len(distances))].mean(axis=1)
    value = float(distances.mean())
    return lambda c: percentile_interval(value, means, c)


def loss_increase_interval(own: np.ndarray, other: np.ndarray) -> IntervalAt:
    """How much the mean loss rises, mean other - mean own, in the metric's own units,
    with a paired bootstrap interval (both losses resampled at the same points). The
    limit it is held to is set from the model's own loss (:func:`loss_limit_of`)."""

    def increase(a: np.ndarray, b: np.ndarray):
        with np.errstate(invalid="ignore", over="ignore"):
            return b.mean(axis=-1) - a.mean(axis=-1)

    index = resample_indices(len(own))
    value, resampled = float(increase(own, other)), increase(own[index], other[index])
    return lambda c: percentile_interval(value, resampled, c)


#: A loss limit's floor, as a share of the loss of predicting zero: below it a change
#: is no change a user could mean (a squared error 1e-4 of the data's own is a fit to
#: 1% of its size), and float32 rounding moves a near-perfect fit's loss by more.
LOSS_FLOOR = 1e-4


def loss_limit_of(trained: Outcome, loss_limit: float, loss_atol: float) -> float:
    """The rise of the mean loss a solver may cause: ``loss_limit`` of the model's own
    mean loss under its training solver (but at least of :data:`LOSS_FLOOR` of the loss
    of predicting zero), plus ``loss_atol`` in the metric's units (torchdiffeq's rtol
    and atol, for a loss). The same whatever the layout of ``y``: nothing but the
    model's own output sets the scale."""
    losses = trained.answers.numpy()
    finite = losses[np.isfinite(losses)]
    own = float(np.abs(finite.mean())) if len(finite) else 0.0
    floor = LOSS_FLOOR * abs(trained.zero_loss) if np.isfinite(trained.zero_loss) else 0.0
    return loss_limit * max(own, floor) + loss_atol


def table_row(
    problem: Problem, outcome: Outcome, trained: Outcome, reference: Outcome, confidence: float
) -> dict:
    """One solver's numbers: its answers, and how they differ from the training
    solver's and from the reference's."""
    row: dict[str, Any] = {
        "role": outcome.role.value,
        "method": outcome.solver.method,
        "steps": outcome.solver.steps,
        "rtol": outcome.solver.rtol,
        "atol": outcome.solver.absolute_tol,
        "nfe": outcome.nfe,
        "seconds": outcome.seconds,
        "dtype": outcome.dtype or None,
        "error": outcome.error,
    }
    if outcome.nfe_per_sample:
        row["nfe_per_sample_median"] = float(np.median(outcome.nfe_per_sample))
        row["nfe_per_sample_max"] = int(max(outcome.nfe_per_sample))
    if outcome.failed:
        return row
    row["finite"] = float(outcome.finite.double().mean())
    if problem.measure is Measure.ACCURACY:
        row["accuracy"] = float((outcome.answers == problem.y.cpu()).double().mean())
    if problem.measure is Measure.LOSS:
        row["loss"] = float(outcome.answers.mean())
    if trained.failed:
        return row
    if problem.measure is not Measure.DISTANCE:
        change = interval_of(problem, trained, outcome)(confidence)
        name = {Measure.ACCURACY: "drop", Measure.CHANGED: "changed_predictions"}.get(
            problem.measure, "loss_increase"
        )
        row.update({name: change.value, f"{name}_low": change.low, f"{name}_high": change.high})
    if problem.measure in (Measure.ACCURACY, Measure.CHANGED) and not reference.failed:
        row["differs_from_reference"] = float(
            (outcome.answers != reference.answers).double().mean()
        )
    if not reference.failed:
        distance = state_distance(outcome.paths, reference.paths, problem.layout)
        row["state_distance"] = float(distance.mean())
        row["state_distance_median"] = float(distance.median())
    return row
