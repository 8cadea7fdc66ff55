"""``check_ode``: is a trained Neural ODE an ODE, or a ResNet that only works with
its training solver?

A flow does not depend on how it is computed: a solver of equal or smaller error
than the training solver must give the model's answers back. The check solves the
model under such solvers (the training method with finer steps or tighter
tolerances, methods of higher order, an adaptive solver) and under a converged
reference whose convergence is verified: the reference is refined until two solves
four times apart in step agree, else the verdict is "inconclusive". The verdict
compares the training solver with the reference on the same points with a paired
interval (see ``stats.py``) against a limit of practical relevance, so one batch's
noise cannot decide it.

It also reports the coarsest step of the training method that still agrees with the
reference (the steps a user may deploy with), the observed order of convergence of
the end states (information only: ReLU fields lower it), trajectory crossings for one-
and two-dimensional states, and pre-flight findings (``preflight.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .check_report import OdeCheck, reasons_for
from .crossings import count_crossings
from .errors import NodestudyError
from .preflight import PROBLEM, Finding, left_unchanged, modules_of, run_preflight
from .scoring import CHUNK_SIZE, EndStates, Readout, predictions, solved_chunks
from .solvers import (
    ADAPTIVE_METHODS,
    FIXED_STEP_METHODS,
    SolverSpec,
    TimeSpan,
    VectorField,
    is_exact_torchdiffeq_grid,
    solve,
    solve_as_given,
)
from .stats import (
    INCONCLUSIVE,
    Estimate,
    bootstrap_mean_interval,
    decide,
    paired_difference_interval,
    wilson_interval,
)

#: An adaptive test solve may take at most this many steps (then it counts as failed).
MAX_ADAPTIVE_STEPS = 2000


@dataclass(frozen=True)
class Outcome:
    """One solver's answers on every point."""

    solver: SolverSpec
    role: str
    states: Tensor | None  # (N, state size), float64
    predicted: Tensor | None  # (N,)
    nfe: float
    seconds: float
    error: str | None = None
    nfe_per_sample: tuple[int, ...] = ()

    @property
    def failed(self) -> bool:
        return self.states is None or not bool(torch.isfinite(self.states).all())


@dataclass(frozen=True)
class _Problem:
    """What is checked: the model, the points and the settings."""

    func: VectorField
    x: Tensor
    y: Tensor | None
    head: Readout | None
    encode: Readout | None
    t_span: TimeSpan
    chunk_size: int
    nfe_points: int

    def outcome(
        self, solver: SolverSpec, role: str, solve_chunk: Callable | None = None
    ) -> Outcome:
        started = time.perf_counter()
        if solve_chunk is None and not solver.is_fixed_step:

            def solve_chunk(z0: Tensor):
                return solve(
                    self.func, z0, solver, t_span=self.t_span, max_num_steps=MAX_ADAPTIVE_STEPS
                )

        try:
            ends = EndStates.collect(
                solved_chunks(
                    self.func,
                    self.x,
                    solver,
                    encode=self.encode,
                    t_span=self.t_span,
                    chunk_size=self.chunk_size,
                    solve_chunk=solve_chunk,
                )
            )
        except (AssertionError, RuntimeError) as error:  # torchdiffeq: underflow, max steps
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            return Outcome(solver, role, None, None, float("nan"), 0.0, error=message)
        predicted = None
        if self.head is not None:
            with torch.no_grad():
                predicted = predictions(self.head(ends.states)).reshape(-1).cpu()
        states = ends.states.reshape(len(self.x), -1).double().cpu()
        per_sample = () if solver.is_fixed_step else self._nfe_per_sample(solver)
        seconds = time.perf_counter() - started
        return Outcome(solver, role, states, predicted, ends.nfe, seconds, None, per_sample)

    def _nfe_per_sample(self, solver: SolverSpec) -> tuple[int, ...]:
        """Evaluations of an adaptive solve of each of the first ``nfe_points`` points
        alone (a batch shares one step size, so its NFE is not any point's). Best
        effort: it stops at the first point that cannot be solved alone (a solver
        failure, or a model that needs a batch, as batch norm in training mode does)."""
        counts = []
        for i in range(min(self.nfe_points, len(self.x))):
            z0 = self.x[i : i + 1]
            try:
                with torch.no_grad():
                    z0 = self.encode(z0) if self.encode is not None else z0
                    solution = solve(
                        self.func, z0, solver, t_span=self.t_span, max_num_steps=MAX_ADAPTIVE_STEPS
                    )
            except Exception:  # the user's model or torchdiffeq; the batch solve worked
                break
            counts.append(solution.nfe)
        return tuple(counts)


def check_ode(
    func: VectorField,
    x: Tensor,
    y: Tensor | None = None,
    *,
    head: Readout | None = None,
    method: str,
    options: Mapping[str, Any] | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    t_span: tuple[float, float] = (0.0, 1.0),
    encode: Readout | None = None,
    drop_limit: float = 0.03,
    state_limit: float = 0.05,
    confidence: float = 0.95,
    reference_steps: int = 512,
    max_reference_steps: int = 8192,
    crossing_points: int = 300,
    nfe_points: int = 32,
    chunk_size: int = CHUNK_SIZE,
) -> OdeCheck:
    """Check whether a trained Neural ODE behaves as an ODE flow under the solver it
    was trained with.

    ``func(t, z)``, ``method``, ``options``, ``rtol`` and ``atol`` are what you give
    ``torchdiffeq.odeint``; ``t_span`` is the interval integrated over. ``x`` are
    evaluation inputs (first axis = points), turned into initial states by
    ``encode`` (identity when None). With ``head`` (end states -> logits) and labels
    ``y`` the verdict compares accuracies; with ``head`` alone, the share of
    predictions that change; without either, the relative distance of end states.

    ``drop_limit`` is the accuracy drop (or share of changed predictions) that
    matters in practice, ``state_limit`` the relative end-state distance that does;
    ``confidence`` the level of the paired interval the verdict rests on. The
    reference is rk4, refined from ``reference_steps`` up to ``max_reference_steps``
    until two solves four times apart in step agree. Nothing about the model changes
    (batch-norm statistics and random number generators are restored).
    """
    t_span = _checked_span(t_span)
    x, y = _checked_data(x, y, head)
    _check_settings(drop_limit, state_limit, confidence, reference_steps, max_reference_steps)
    training = SolverSpec.from_torchdiffeq(method, options, rtol, atol, t_span)
    problem = _Problem(func, x, y, head, encode, t_span, chunk_size, nfe_points)
    started = time.perf_counter()
    with torch.no_grad():
        z_probe = encode(x[:16]) if encode is not None else x[:16]
    findings = run_preflight(func, head, z_probe, method, options, t_span)
    if any(f.status == PROBLEM for f in findings):  # per-point costs would measure noise
        problem = replace(problem, nfe_points=0)
    with left_unchanged(modules_of(func, head, encode), x):
        trained = _training_outcome(problem, training, method, options, rtol, atol)
        reference, check, converged = _verified_reference(
            problem, training, reference_steps, max_reference_steps, drop_limit, state_limit
        )
        tests = [problem.outcome(s, role) for s, role in test_solvers(training, x.dtype)]
        crossings = _crossings(problem, training, trained, check, findings, crossing_points)
    outcomes = [trained, *tests, check, reference]
    return _assemble(
        problem,
        outcomes,
        findings,
        converged,
        crossings,
        drop_limit,
        state_limit,
        confidence,
        time.perf_counter() - started,
    )


def _training_outcome(problem, training, method, options, rtol, atol) -> Outcome:
    """The training solver, reproduced exactly: by torchdiffeq itself where its grid is
    not the exact one this package steps on."""
    if training.is_fixed_step and (options or {}).get("step_size") is not None:
        span = problem.t_span[1] - problem.t_span[0]
        exact = abs(training.steps * options["step_size"] - span) <= 1e-6 * abs(span)
        if not (exact and is_exact_torchdiffeq_grid(training.steps, problem.t_span)):

            def as_given(z0: Tensor):
                return solve_as_given(problem.func, z0, method, options, rtol, atol, problem.t_span)

            return problem.outcome(training, "training", solve_chunk=as_given)
    return problem.outcome(training, "training")


def test_solvers(training: SolverSpec, dtype: torch.dtype) -> list[tuple[SolverSpec, str]]:
    """Solvers of equal or smaller error than ``training`` (and, for the coarsest safe
    step, the training method with coarser steps or looser tolerances), with roles."""
    if training.is_fixed_step:
        k, order = training.steps, training.order
        coarser = [
            (SolverSpec(training.method, k // 2**i), "coarser") for i in range(1, k.bit_length())
        ]
        finer = [(SolverSpec(training.method, k * f), "finer") for f in (2, 4, 8)]
        higher = [
            (SolverSpec(m, k * f), "higher order")
            for m in ("midpoint", "rk4")
            if FIXED_STEP_METHODS[m].order > order
            for f in (1, 2, 4)
        ]
        tol = 1e-5 if dtype != torch.float64 else 1e-8
        adaptive = [(SolverSpec("dopri5", tol=tol), "adaptive")]
        return list(dict.fromkeys([*reversed(coarser), *finer, *higher, *adaptive]))
    looser = [(training.tightened(1 / f), "looser") for f in (100, 10)]
    tighter = [(training.tightened(f), "tighter") for f in (10, 100)]
    higher_method = next(
        (m for m in ("dopri5", "dopri8") if ADAPTIVE_METHODS[m] > training.order), None
    )
    higher = []
    if higher_method is not None:
        base = replace(training, method=higher_method)
        higher = [(base, "higher order"), (base.tightened(10), "higher order")]
    return [*looser, *tighter, *higher]


def _agree(first: Outcome, second: Outcome, drop_limit: float, state_limit: float) -> bool:
    """Whether two solves agree closely enough to call either converged: a tenth of the
    limits the verdict uses."""
    if first.failed or second.failed:
        return False
    if first.predicted is not None:
        return float((first.predicted != second.predicted).float().mean()) <= drop_limit / 10
    return float(_relative_distance(first.states, second.states).mean()) <= state_limit / 10


def _verified_reference(
    problem, training, reference_steps, max_reference_steps, drop_limit, state_limit
) -> tuple[Outcome, Outcome, bool]:
    """rk4 at k/4 and k steps, k growing four-fold until they agree or k would pass
    ``max_reference_steps``: the reference, the solve it was checked against, and
    whether they agree."""
    k = reference_steps
    if training.is_fixed_step:
        k = max(k, 4 * training.steps)
    k = min(k, max_reference_steps)
    check = problem.outcome(SolverSpec("rk4", max(1, k // 4)), "reference check")
    reference = problem.outcome(SolverSpec("rk4", k), "reference")
    while not _agree(check, reference, drop_limit, state_limit) and 4 * k <= max_reference_steps:
        k *= 4
        check = replace(reference, role="reference check")
        reference = problem.outcome(SolverSpec("rk4", k), "reference")
    return reference, check, _agree(check, reference, drop_limit, state_limit)


def _crossings(problem, training, trained, reference, findings, points) -> dict | None:
    """Crossing pairs of trajectories under the training solver and under a converged
    solve (the reference's check, the cheaper of the two that agree), for autonomous
    fields with one- or two-dimensional states and a fixed-step training solver; None
    where the count means nothing. Chords between grid points of nearly touching
    orbits can cross even for an exact flow: the converged solve's count is that
    floor."""
    state_size = trained.states.shape[1] if trained.states is not None else 0
    autonomous = not any(f.name == "time_dependent" for f in findings)
    if not (training.is_fixed_step and autonomous and state_size in (1, 2) and points >= 2):
        return None
    if trained.failed or reference.failed:
        return None
    x = problem.x[:points]
    counts = {}
    for name, spec in (("training", training), ("reference", reference.solver)):
        with torch.no_grad():
            z0 = problem.encode(x) if problem.encode is not None else x
            path = solve(problem.func, z0, spec, t_span=problem.t_span, record=True).trajectory
        paths = path.reshape(path.shape[0], len(x), state_size).transpose(0, 1)
        counts[name] = count_crossings(paths.double().cpu().numpy())
    n = len(x)
    return {**counts, "pairs": n * (n - 1) // 2}


def _relative_distance(states: Tensor, reference: Tensor) -> Tensor:
    """Per point: |z - z_ref| / |z_ref| (the distance itself where |z_ref| is 0)."""
    scale = reference.norm(dim=1).clamp_min(1e-12)
    return (states - reference).norm(dim=1) / scale


def _assemble(
    problem, outcomes, findings, converged, crossings, drop_limit, state_limit, confidence, seconds
) -> OdeCheck:
    trained, reference = outcomes[0], outcomes[-1]
    metric, limit = _metric(problem, drop_limit, state_limit)
    estimate = _compare(problem, metric, trained, reference, confidence)
    verdict = decide(estimate, limit, two_sided=metric == "accuracy drop")
    problems = [f for f in findings if f.status == PROBLEM]
    if trained.failed:
        problems.append(
            Finding("finite", PROBLEM, "the training solve gives non-finite end states")
        )
    if problems or not converged:
        verdict = INCONCLUSIVE
    rows = [_row(problem, o, trained, reference) for o in outcomes]
    table = _table(rows)
    safe = _safe_solver(problem, outcomes, reference, metric, limit, confidence)
    order = _observed_order(outcomes, reference)
    result = OdeCheck(
        verdict=verdict,
        reasons=(),
        metric=metric,
        estimate=estimate,
        limit=limit,
        training=trained.solver,
        reference=reference.solver,
        reference_check=outcomes[-2].solver,
        reference_converged=converged,
        safe_solver=safe,
        observed_order=order,
        crossings=crossings,
        preflight=tuple(findings + [p for p in problems if p not in findings]),
        table=table,
        n_points=len(problem.x),
        t_span=problem.t_span,
        seconds=seconds,
    )
    return replace(result, reasons=tuple(reasons_for(result)))


def _metric(problem: _Problem, drop_limit: float, state_limit: float) -> tuple[str, float]:
    """What the verdict measures, and its limit: the accuracy drop (with labels), the
    share of changed predictions (with a head) or the mean relative end-state
    distance (with neither)."""
    if problem.y is not None:
        return "accuracy drop", drop_limit
    if problem.head is not None:
        return "changed predictions", drop_limit
    return "end-state distance", state_limit


def _compare(
    problem: _Problem, metric: str, first: Outcome, second: Outcome, confidence: float
) -> Estimate:
    """How ``first`` differs from ``second`` on the same points, by ``metric``."""
    if first.failed or second.failed:
        return Estimate(float("nan"), float("nan"), float("nan"), confidence)
    if metric == "accuracy drop":
        y = problem.y.cpu()
        return paired_difference_interval(
            (first.predicted == y).numpy(), (second.predicted == y).numpy(), confidence
        )
    if metric == "changed predictions":
        changed = int((first.predicted != second.predicted).sum())
        return wilson_interval(changed, len(problem.x), confidence)
    distances = _relative_distance(first.states, second.states).numpy()
    return bootstrap_mean_interval(distances, confidence)


def _row(problem, outcome: Outcome, trained: Outcome, reference: Outcome) -> dict:
    row: dict[str, Any] = {
        "role": outcome.role,
        "method": outcome.solver.method,
        "steps": outcome.solver.steps,
        "rtol": outcome.solver.rtol,
        "atol": outcome.solver.absolute_tol,
        "nfe": outcome.nfe,
        "seconds": outcome.seconds,
        "error": outcome.error,
    }
    if outcome.nfe_per_sample:
        row["nfe_per_sample_median"] = float(np.median(outcome.nfe_per_sample))
        row["nfe_per_sample_max"] = int(max(outcome.nfe_per_sample))
    if outcome.failed or trained.failed or reference.failed:
        return row
    if problem.y is not None:
        y = problem.y.cpu()
        own = (trained.predicted == y).numpy()
        this = (outcome.predicted == y).numpy()
        drop = paired_difference_interval(own, this)
        row.update(
            accuracy=float(this.mean()), drop=drop.value, drop_low=drop.low, drop_high=drop.high
        )
    if problem.head is not None:
        row["changed_predictions"] = float((outcome.predicted != trained.predicted).float().mean())
        row["differs_from_reference"] = float(
            (outcome.predicted != reference.predicted).float().mean()
        )
    distance = _relative_distance(outcome.states, reference.states)
    row["state_distance"] = float(distance.mean())
    row["state_distance_median"] = float(distance.median())
    return row


def _table(rows: list[dict]):
    import pandas as pd

    return pd.DataFrame.from_records(rows)


def _safe_solver(problem, outcomes, reference, metric, limit, confidence) -> SolverSpec | None:
    """The coarsest step (loosest tolerance) of the training method from which every
    finer one agrees with the reference by the verdict's own rule."""
    training = outcomes[0].solver
    ladder = [
        o
        for o in outcomes
        if o.solver.method == training.method
        and o.role in ("coarser", "training", "finer", "looser", "tighter")
    ]
    if training.is_fixed_step:
        ladder.sort(key=lambda o: -o.solver.steps)  # finest first
    else:
        ladder.sort(key=lambda o: o.solver.tol)  # tightest first
    safe = None
    for outcome in ladder:
        estimate = _compare(problem, metric, outcome, reference, confidence)
        if decide(estimate, limit, two_sided=metric == "accuracy drop") != "valid":
            break
        safe = outcome.solver
    return safe


def _observed_order(outcomes, reference) -> float | None:
    """The slope of log(end-state error) against log(h) for the training method at
    its training step and finer, where the error stands above float32 noise."""
    training = outcomes[0].solver
    if not training.is_fixed_step or reference.failed:
        return None
    points = []
    for o in outcomes:
        if o.solver.method == training.method and o.role in ("training", "finer") and not o.failed:
            error = float(_relative_distance(o.states, reference.states).mean())
            if error > 1e-5:
                points.append((1.0 / o.solver.steps, error))
    if len(points) < 2:
        return None
    h, error = np.log(np.array(points)).T
    return float(np.polyfit(h, error, 1)[0])


def _checked_span(t_span) -> TimeSpan:
    try:
        t0, t1 = (float(t) for t in t_span)
    except (TypeError, ValueError):
        raise NodestudyError(
            f"t_span must be two numbers (t0, t1), as the t you give odeint (got {t_span!r})"
        ) from None
    if t0 == t1:
        raise NodestudyError(f"t_span must be an interval with t0 != t1 (got {t_span!r})")
    return (t0, t1)


def _checked_data(x, y, head) -> tuple[Tensor, Tensor | None]:
    if not isinstance(x, Tensor) or x.dim() < 1 or len(x) == 0:
        raise NodestudyError("x must be a tensor of evaluation inputs, one per row (non-empty)")
    if not x.is_floating_point():
        raise NodestudyError(f"x must hold floating-point inputs (got {x.dtype})")
    if y is None:
        return x, None
    if head is None:
        raise NodestudyError(
            "labels y need a head: pass head=... (end states -> logits), or drop y to "
            "compare end states"
        )
    if not isinstance(y, Tensor) or y.shape != (len(x),):
        shape = tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__
        raise NodestudyError(f"y must be a tensor of {len(x)} class labels (got {shape})")
    return x, y.long()


def _check_settings(drop_limit, state_limit, confidence, reference_steps, max_reference_steps):
    if not 0 < drop_limit < 1:
        raise NodestudyError(f"drop_limit must lie in (0, 1) (got {drop_limit})")
    if not state_limit > 0:
        raise NodestudyError(f"state_limit must be positive (got {state_limit})")
    if not 0.5 < confidence < 1:
        raise NodestudyError(f"confidence must lie in (0.5, 1) (got {confidence})")
    if reference_steps < 4 or max_reference_steps < reference_steps:
        raise NodestudyError(
            "reference_steps must be at least 4 and max_reference_steps at least "
            f"reference_steps (got {reference_steps}, {max_reference_steps})"
        )
