"""What :func:`~nodestudy.check_ode` checks: the problem built from its arguments, the
solvers it tests with, and the notes it adds about the model itself."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch import Tensor

from ..errors import NodestudyError
from ..solvers import ADAPTIVE_METHODS, FIXED_STEP_METHODS, SolverSpec, TimeSpan
from ..states import StateLayout, first_tensor, points_of, take
from .inputs import checked_labels, checked_times, placed_inputs
from .outcomes import NO_CLASS, Measure, Outcome, Problem, Role, per_sample_losses
from .preflight import NOTE, Finding, left_unchanged, run_preflight

FLOAT64 = Finding(
    "float64",
    NOTE,
    "solvers of smaller error gave non-finite states in the model's float type where the "
    "training solver stayed finite; they were solved again in float64",
)
#: Points the pre-flight probes the field and head with.
PROBE_POINTS = 16


def checked_span(t_span: Any) -> TimeSpan:
    try:
        t0, t1 = (float(t) for t in t_span)
    except (TypeError, ValueError):
        raise NodestudyError(
            f"t_span must be two numbers (t0, t1), as the t you give odeint (got {t_span!r})"
        ) from None
    if not (abs(t0) < float("inf") and abs(t1) < float("inf")) or t0 == t1:
        raise NodestudyError(f"t_span must be two finite times t0 != t1 (got {t_span!r})")
    return (t0, t1)


def measure_of(y: Any, head: Any, metric: Any, times: Tensor | None) -> Measure:
    """What a point's answer is, from what the user gave."""
    if metric is not None:
        if not callable(metric):
            raise NodestudyError("metric must be a function metric(pred, y) -> per-point loss")
        return Measure.LOSS
    if times is not None and (head is not None or y is not None):
        raise NodestudyError(
            "with output times t the answer is a trajectory: pass metric=..., a per-point "
            "loss, e.g. lambda pred, y: ((pred - y) ** 2).mean(dim=(0, 2))"
        )
    if y is not None:
        if head is None:
            raise NodestudyError(
                "labels y need a head: pass head=... (end states -> logits), or a metric, "
                "or drop y to compare end states"
            )
        return Measure.ACCURACY
    return Measure.CHANGED if head is not None else Measure.DISTANCE


def problem_and_findings(settings: dict[str, Any], modules) -> tuple[Problem, list[Finding]]:
    """The problem as the solvers see it, and the pre-flight findings."""
    s = settings
    t_span = checked_span(s["t_span"])
    x, y, findings = placed_inputs(s["x"], s["y"], modules, s["device"], s["metric"])
    like = first_tensor(x)
    times = checked_times(s["t"], like.dtype, like.device)
    if times is not None:
        if t_span != (0.0, 1.0) and t_span != (float(times[0]), float(times[-1])):
            raise NodestudyError("give either t (output times) or t_span, not both")
        t_span = (float(times[0]), float(times[-1]))
    measure = measure_of(y, s["head"], s["metric"], times)
    probe_x = take(x, slice(0, PROBE_POINTS))
    with left_unchanged(modules, like), torch.no_grad():
        z_probe = s["encode"](probe_x) if s["encode"] is not None else probe_x
        findings += run_preflight(s["func"], s["head"], z_probe, s["method"], s["options"], t_span)
        if measure in (Measure.ACCURACY, Measure.CHANGED):
            classes = _classes(s["head"], z_probe)
            if measure is Measure.ACCURACY:
                y = checked_labels(y, points_of(x), classes)
    problem = Problem(
        func=s["func"],
        x=x,
        y=y,
        head=s["head"],
        encode=s["encode"],
        t_span=t_span,
        times=times,
        metric=s["metric"],
        measure=measure,
        layout=StateLayout.of(z_probe),
        chunk_size=s["chunk_size"],
        nfe_points=s["nfe_points"],
    )
    if measure is Measure.LOSS and isinstance(y, Tensor):
        problem = replace(problem, baseline_loss=_mean_prediction_loss(problem))
    return problem, findings


def _classes(head, z: Any) -> int:
    """How many classes the head tells apart, refusing a head that does not give one
    row of logits per point."""
    logits = head(z)
    n = points_of(z)
    if not isinstance(logits, Tensor) or logits.dim() < 1 or logits.shape[0] != n:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise NodestudyError(
            f"head(z) must give one row of logits per point: got {shape} for {n} points"
        )
    if logits.dim() == 1 or logits.shape[-1] == 1:
        return 2  # one logit: positive or not
    return int(logits.shape[-1])


def test_solvers(training: SolverSpec, dtype: torch.dtype) -> list[tuple[SolverSpec, Role]]:
    """Solvers of equal or smaller error than ``training`` (and, for the coarsest safe
    step, the training method with coarser steps or looser tolerances), with roles."""
    if training.is_fixed_step:
        k, order = training.steps, training.order
        coarser = [
            (SolverSpec(training.method, k // 2**i), Role.COARSER) for i in range(1, k.bit_length())
        ]
        finer = [(SolverSpec(training.method, k * f), Role.FINER) for f in (2, 4, 8)]
        higher = [
            (SolverSpec(m, k * f), Role.HIGHER_ORDER)
            for m in ("midpoint", "rk4")
            if FIXED_STEP_METHODS[m].order > order
            for f in (1, 2, 4)
        ]
        tol = 1e-5 if dtype != torch.float64 else 1e-8
        adaptive = [(SolverSpec("dopri5", tol=tol), Role.ADAPTIVE)]
        return list(dict.fromkeys([*reversed(coarser), *finer, *higher, *adaptive]))
    looser = [(training.tightened(1 / f), Role.LOOSER) for f in (100, 10)]
    tighter = [(training.tightened(f), Role.TIGHTER) for f in (10, 100)]
    higher_method = next(
        (m for m in ("dopri5", "dopri8") if ADAPTIVE_METHODS[m] > training.order), None
    )
    higher = []
    if higher_method is not None:
        base = replace(training, method=higher_method)
        higher = [(base, Role.HIGHER_ORDER), (base.tightened(10), Role.HIGHER_ORDER)]
    return [*looser, *tighter, *higher]


def learned_finding(problem: Problem, trained: Outcome) -> list[Finding]:
    """A note when the model scores no better than a trivial answer under its own
    solver: a verdict on a model that never learned its task says little."""
    if trained.failed:
        return []
    if problem.measure is Measure.ACCURACY:
        y = problem.y.cpu()
        majority = float(torch.bincount(y).max()) / len(y)
        accuracy = float((trained.answers == y).double().mean())
        if accuracy < majority + (1 - majority) / 2:
            return [_not_learned(f"scores {accuracy:.3f}", f"{majority:.3f}", "the majority class")]
    if problem.measure is Measure.LOSS and problem.baseline_loss is not None:
        baseline = problem.baseline_loss
        loss = float(trained.answers[torch.isfinite(trained.answers)].mean())
        if loss >= baseline:
            return [_not_learned(f"has a mean loss of {loss:.3g}", f"{baseline:.3g}", "the mean")]
    return []


def _not_learned(score: str, trivial: str, what: str) -> Finding:
    return Finding(
        "learned",
        NOTE,
        f"under its training solver the model {score}, no better than always predicting "
        f"{what} ({trivial}): it may not have learned its task, and a verdict on a model "
        "that did not learn says little",
    )


def _mean_prediction_loss(problem: Problem) -> float | None:
    """The metric of predicting the mean of y over the points at every point; None where
    the metric does not take a prediction shaped like y."""
    axis = 0 if problem.times is None else 1
    y = problem.y
    mean = y.float().mean(dim=axis, keepdim=True).expand_as(y).to(y.dtype)
    try:
        losses = per_sample_losses(problem.metric, mean, y, problem.n)
    except Exception:  # the user's metric wants another layout; no note then
        return None
    return float(losses.mean())


__all__ = ["FLOAT64", "NO_CLASS", "learned_finding", "problem_and_findings", "test_solvers"]
