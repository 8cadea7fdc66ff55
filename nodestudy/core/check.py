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
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .check_outcomes import (
    Outcome,
    Problem,
    check_settings,
    checked_data,
    checked_span,
    compare,
    metric_of,
    outcome_table,
    relative_distance,
    table_row,
)
from .check_report import OdeCheck, reasons_for
from .crossings import count_crossings
from .integrate import solve, solve_as_given
from .preflight import PROBLEM, Finding, left_unchanged, modules_of, run_preflight
from .scoring import CHUNK_SIZE, Readout
from .solvers import (
    ADAPTIVE_METHODS,
    FIXED_STEP_METHODS,
    SolverSpec,
    VectorField,
    is_exact_torchdiffeq_grid,
)
from .stats import (
    INCONCLUSIVE,
    decide,
)


#: An adaptive test solve may take at most this many steps (then it counts as failed).
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
    t_span = checked_span(t_span)
    x, y = checked_data(x, y, head)
    check_settings(drop_limit, state_limit, confidence, reference_steps, max_reference_steps)
    training = SolverSpec.from_torchdiffeq(method, options, rtol, atol, t_span)
    problem = Problem(func, x, y, head, encode, t_span, chunk_size, nfe_points)
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
    return float(relative_distance(first.states, second.states).mean()) <= state_limit / 10


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


def _assemble(
    problem, outcomes, findings, converged, crossings, drop_limit, state_limit, confidence, seconds
) -> OdeCheck:
    trained, reference = outcomes[0], outcomes[-1]
    metric, limit = metric_of(problem, drop_limit, state_limit)
    estimate = compare(problem, metric, trained, reference, confidence)
    verdict = decide(estimate, limit, two_sided=metric == "accuracy drop")
    problems = [f for f in findings if f.status == PROBLEM]
    if trained.failed:
        problems.append(
            Finding("finite", PROBLEM, "the training solve gives non-finite end states")
        )
    if problems or not converged:
        verdict = INCONCLUSIVE
    rows = [table_row(problem, o, trained, reference) for o in outcomes]
    table = outcome_table(rows)
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
        estimate = compare(problem, metric, outcome, reference, confidence)
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
            error = float(relative_distance(o.states, reference.states).mean())
            if error > 1e-5:
                points.append((1.0 / o.solver.steps, error))
    if len(points) < 2:
        return None
    h, error = np.log(np.array(points)).T
    return float(np.polyfit(h, error, 1)[0])
