"""``check_ode``: is a trained Neural ODE an ODE, or a ResNet that only works with
its training solver?

A flow does not depend on how it is computed: a solver of equal or smaller error
than the training solver must give the model's answers back. The check solves the
model under such solvers (the training method with finer steps or tighter
tolerances, methods of higher order, an adaptive solver) and under a converged
reference whose convergence is verified (refined until two solves four times apart
in step agree). How the verdict is decided from them is ``decision.py``; what
a point's answer is (a class, a loss, the states) is ``outcomes.py``.

Solvers that overflow the model's float type where the training solver stays finite
are solved again in float64; a flow that blows up even then changes the answer, so
the model is not an ODE flow at its training step.

It also reports the coarsest step of the training method that still agrees with the
reference (the steps a user may deploy with), the observed order of convergence
(information only: ReLU fields lower it), trajectory crossings for one- and
two-dimensional states (on dense orbits), and pre-flight findings.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import torch

from ..errors import NodestudyError
from ..integrate import solve_as_given
from ..scoring import CHUNK_SIZE, Readout
from ..solvers import SolverSpec, VectorField, is_exact_torchdiffeq_grid
from ..states import first_tensor
from ..stats import Estimate
from .compare import interval_of, loss_limit_of, table_row
from .decision import comparisons, verdict_of
from .inputs import check_settings, checked_options, checked_work
from .outcomes import Measure, Outcome, Problem, Role, float64_modules
from .preflight import NOTE, PROBLEM, Finding, left_unchanged, modules_of
from .problem import FLOAT64, learned_finding, problem_and_findings, test_solvers
from .report import OdeCheck, reasons_for, whole_table
from .summary import crossings_of, observed_order, safe_solver, verified_reference

NO_SHAPELY = Finding(
    "crossings",
    NOTE,
    "crossings of 2-D orbits were not counted: they need shapely (pip install shapely)",
)


#: The state distance that matters where the states are the answer, and where a head
#: or metric reads them (then only a solve that lands elsewhere, half the states'
#: spread away, is no ODE solve: a fine euler grid's own error is a tenth of that).
STATE_LIMIT, HEAD_STATE_LIMIT = 0.05, 0.5


#: Fewer points give intervals that say nothing (on one, a bootstrap interval is a
#: point; on five, a paired interval cannot exclude a change of the whole accuracy).
MIN_POINTS = 10


def check_ode(
    func: VectorField,
    x: Any,
    y: Any = None,
    *,
    t: Any = None,
    head: Readout | None = None,
    metric: Callable | None = None,
    method: str = "dopri5",
    options: Mapping[str, Any] | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    t_span: tuple[float, float] = (0.0, 1.0),
    encode: Readout | None = None,
    device: str | torch.device | None = None,
    drop_limit: float = 0.03,
    state_limit: float | None = None,
    loss_limit: float = 0.1,
    loss_atol: float = 0.0,
    confidence: float = 0.95,
    reference_steps: int = 512,
    max_reference_steps: int = 8192,
    crossing_points: int = 300,
    nfe_points: int = 32,
    chunk_size: int = CHUNK_SIZE,
) -> OdeCheck:
    """Check whether a trained Neural ODE behaves as an ODE flow under the solver it
    was trained with.

    ``func(t, z)``, ``t``, ``method``, ``options``, ``rtol`` and ``atol`` are what you
    give ``torchdiffeq.odeint``, with its defaults (dopri5, rtol 1e-7, atol 1e-9);
    ``x`` are evaluation inputs (points on the first axis; tensors or numpy arrays; a
    tuple of them for a tuple state such as a CNF's ``(z, logp)``), turned into initial
    states by ``encode`` (identity when None).
    Without ``t`` the model is solved over ``t_span`` and read at its end; with ``t``
    (a 1-D grid of output times) at every output time.

    The *answer* of a point, compared across solvers:

    - ``metric(pred, y) -> per-point loss`` (lower is better): ``pred`` is ``head`` of
      the solution (or the solution itself), in odeint's layout (time first when
      ``t`` is given); the mean loss may rise by at most ``loss_limit`` times the
      model's own mean loss under its training solver (at least 1e-4 of the loss of
      predicting zero: a near-perfect fit's loss is rounding noise) plus ``loss_atol``
      (in the metric's units; torchdiffeq's rtol and atol, for a loss): by default
      10 % of its own loss, whatever the layout of ``y``. A log-likelihood's zero is arbitrary
      (rescaling the data shifts it), so a share of it means nothing: for a density
      model give ``loss_limit=0`` and ``loss_atol`` the change you accept, in nats;
    - else, with ``head`` (end states -> logits) and labels ``y``: the accuracy, limit
      ``drop_limit`` (an absolute drop); with ``head`` alone, the share of
      predictions that change, same limit;
    - else the states, whose distance is measured in units of the spread of the
      reference's states (so translating or rescaling the state space changes
      nothing), limit ``state_limit`` (default 0.05).

    The verdict: "invalid" if some solver of equal or smaller error changes the answer
    beyond the limit (each solver with its own paired interval, Holm-corrected), or
    if the training solver's states lie beyond ``state_limit`` from the reference's
    (where a head or metric gives the answer, the default is 0.5: half the states'
    spread, a solve that lands elsewhere, not a step's own discretisation error);
    "valid" if every such interval lies within its limit and the reference has
    converged; "inconclusive" otherwise, or when the model breaks the ODE contract
    (dropout, batch norm in training mode, randomness). ``confidence`` is the
    intervals' level. The model is left as it was (buffers, call counters, random
    number generators); ``device`` defaults to the field's parameters' device.
    """
    started = time.perf_counter()
    settings = dict(locals())
    check_settings(settings)
    options = checked_options(method, options, t_span)
    modules = modules_of(func, head, encode, metric)
    problem, findings = problem_and_findings(settings, modules)
    _require_points(problem.n)
    training = SolverSpec.from_torchdiffeq(method, options, rtol, atol, problem.t_span)
    checked_work(training, max_reference_steps)
    if state_limit is None:
        state_limit = STATE_LIMIT if problem.measure is Measure.DISTANCE else HEAD_STATE_LIMIT
    limits = dict(zip(Measure, (drop_limit, drop_limit, loss_limit, state_limit), strict=True))
    if any(f.status == PROBLEM for f in findings):  # per-point costs would measure noise
        problem = replace(problem, nfe_points=0)
    like = first_tensor(problem.x)
    with left_unchanged(modules, like):
        trained = _training_outcome(problem, training, method, options, rtol, atol)
        if problem.measure is Measure.LOSS and not trained.failed:
            limits[Measure.LOSS] = loss_limit_of(trained, loss_limit, loss_atol)
        solved = _tests(problem, training, settings, limits)
        if _overflowed(trained, solved) and like.dtype != torch.float64:
            with float64_modules(modules):
                solved = _tests(problem.in_float64(), training, settings, limits)
            findings.append(FLOAT64)
        tests, check, reference, converged = solved
        try:
            crossings = crossings_of(problem, training, trained, check, findings, crossing_points)
        except ModuleNotFoundError:  # shapely, for 2-D orbits: not in the base install
            crossings = None
            findings.append(NO_SHAPELY)
        findings += learned_finding(problem, trained)
    outcomes = [trained, *tests, check, reference]
    seconds = time.perf_counter() - started
    return _assemble(problem, outcomes, findings, converged, crossings, limits, confidence, seconds)


def _require_points(n: int) -> None:
    if n < MIN_POINTS:
        raise NodestudyError(
            f"check_ode needs at least {MIN_POINTS} points to put an interval on a change "
            f"(got {n}): on fewer, an interval says nothing; pass more of x"
        )


def _training_outcome(problem, training, method, options, rtol, atol) -> Outcome:
    """The training solver, reproduced exactly: by torchdiffeq itself where its grid is
    not the exact one this package steps on, and on a user's grid of output times."""
    exact = True
    if training.is_fixed_step and (options or {}).get("step_size") is not None:
        span = problem.t_span[1] - problem.t_span[0]
        exact = abs(training.steps * options["step_size"] - span) <= 1e-6 * abs(span)
        exact = exact and is_exact_torchdiffeq_grid(training.steps, problem.t_span)
    if exact and problem.times is None:
        return problem.outcome(training, Role.TRAINING)
    func = problem.layout.flat_field(problem.func) if problem.layout.is_tuple else problem.func

    def as_given(z0):
        z0 = problem.layout.flatten(z0) if problem.layout.is_tuple else z0
        return solve_as_given(
            func, z0, method, options, rtol, atol, problem.t_span, times=problem.times
        )

    return problem.outcome(training, Role.TRAINING, solve_chunk=as_given)


def _tests(problem: Problem, training: SolverSpec, settings, limits):
    """Every test solver, and the verified reference with the solve it was checked
    against."""
    dtype = first_tensor(problem.x).dtype
    tests = [problem.outcome(s, role) for s, role in test_solvers(training, dtype)]
    reference, check, converged = verified_reference(
        problem,
        training,
        settings["reference_steps"],
        settings["max_reference_steps"],
        limits,
    )
    return tests, check, reference, converged


def _overflowed(trained: Outcome, solved) -> bool:
    """Whether solvers of smaller error gave non-finite states (or raised) where the
    training solver stayed finite: then float32 may be what failed, not the flow."""
    tests, check, reference, _ = solved
    if not trained.all_finite:
        return False
    deciding = [o for o in [*tests, check, reference] if not o.role.probes_coarser]
    return any(not o.all_finite for o in deciding)


def _assemble(
    problem, outcomes, findings, converged, crossings, limits, confidence, seconds
) -> OdeCheck:
    trained, reference = outcomes[0], outcomes[-1]
    measure, limit = problem.measure, limits[problem.measure]
    if trained.failed or reference.failed:
        estimate = Estimate(math.nan, math.nan, math.nan, confidence)
    else:
        estimate = interval_of(problem, trained, reference)(confidence)
    problems = [f for f in findings if f.status == PROBLEM]
    if trained.failed or not trained.all_finite:
        problems.append(
            Finding("finite", PROBLEM, "the training solve gives non-finite end states")
        )
    family = comparisons(problem, outcomes, converged, limits, confidence)
    verdict = verdict_of(family, converged, usable=not problems)
    table = whole_table([table_row(problem, o, trained, reference, confidence) for o in outcomes])
    result = OdeCheck(
        verdict=verdict,
        reasons=(),
        measure=measure,
        estimate=estimate,
        limit=limit,
        comparisons=family,
        training=trained.solver,
        reference=reference.solver,
        reference_check=outcomes[-2].solver,
        reference_converged=converged,
        safe_solver=safe_solver(problem, outcomes, reference, limit, confidence),
        observed_order=observed_order(problem, outcomes, reference),
        crossings=crossings,
        preflight=tuple(findings + [p for p in problems if p not in findings]),
        table=table,
        n_points=problem.n,
        t_span=problem.t_span,
        seconds=seconds,
    )
    return replace(result, reasons=tuple(reasons_for(result)))


__all__ = ["check_ode", "test_solvers"]
