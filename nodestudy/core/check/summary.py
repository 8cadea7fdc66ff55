"""What :func:`~nodestudy.check_ode` reports beside its verdict: the verified
reference, the coarsest safe step, the observed order and trajectory crossings."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

from ..crossings import count_crossings
from ..integrate import dense_path
from ..solvers import SolverSpec
from ..states import state_distance
from ..stats import VALID, decide
from .compare import interval_of
from .outcomes import Measure, Outcome, Problem, Role

#: Crossings are counted on orbits of at least this many segments.
CROSSING_SEGMENTS = 512


def agree(problem: Problem, first: Outcome, second: Outcome, limits) -> bool:
    """Whether two solves agree closely enough to call either converged: a tenth of the
    limits the verdict uses, on answers and states; points that blow up must blow up
    under both (a flow that overflows is an answer too)."""
    if first.failed or second.failed or not torch.equal(first.finite, second.finite):
        return False
    finite = first.finite
    if not bool(finite.any()):
        return True
    if problem.measure in (Measure.ACCURACY, Measure.CHANGED):
        changed = float((first.answers != second.answers).double().mean())
        if changed > limits[problem.measure] / 10:
            return False
    distance = state_distance(first.paths[finite], second.paths[finite], problem.layout)
    return float(distance.mean()) <= limits[Measure.DISTANCE] / 10


def verified_reference(
    problem: Problem, training: SolverSpec, reference_steps: int, max_steps: int, limits
) -> tuple[Outcome, Outcome, bool]:
    """rk4 at k/4 and k steps, k growing four-fold until they agree or k would pass
    ``max_steps``: the reference, the solve it was checked against, and whether they
    agree."""
    k = reference_steps
    if training.is_fixed_step:
        k = max(k, 4 * training.steps)
    k = min(k, max_steps)
    check = problem.outcome(SolverSpec("rk4", max(1, k // 4)), Role.REFERENCE_CHECK)
    reference = problem.outcome(SolverSpec("rk4", k), Role.REFERENCE)
    while not agree(problem, check, reference, limits) and 4 * k <= max_steps:
        k *= 4
        check = replace(reference, role=Role.REFERENCE_CHECK)
        reference = problem.outcome(SolverSpec("rk4", k), Role.REFERENCE)
    return reference, check, agree(problem, check, reference, limits)


def safe_solver(problem, outcomes, reference, limit, confidence) -> SolverSpec | None:
    """The coarsest step (loosest tolerance) of the training method from which every
    finer one agrees with the reference, each by its own interval."""
    training = outcomes[0].solver
    ladder = [
        o
        for o in outcomes
        if o.solver.method == training.method
        and o.role in (Role.COARSER, Role.TRAINING, Role.FINER, Role.LOOSER, Role.TIGHTER)
    ]
    if training.is_fixed_step:
        ladder.sort(key=lambda o: -o.solver.steps)  # finest first
    else:
        ladder.sort(key=lambda o: o.solver.tol)  # tightest first
    safe = None
    for outcome in ladder:
        if outcome.failed or reference.failed:
            break
        estimate = interval_of(problem, outcome, reference)(confidence)
        if decide(estimate, limit, two_sided=True) != VALID:  # agreement, either way
            break
        safe = outcome.solver
    return safe


def observed_order(problem, outcomes, reference) -> float | None:
    """The slope of log(state error) against log(h) for the training method at its
    training step and finer, where the error stands above float32 noise."""
    training = outcomes[0].solver
    if not training.is_fixed_step or reference.failed:
        return None
    points = []
    for o in outcomes:
        if (
            o.solver.method == training.method
            and o.role in (Role.TRAINING, Role.FINER)
            and not o.failed
        ):
            error = float(state_distance(o.paths, reference.paths, problem.layout).mean())
            if 1e-5 < error < math.inf:
                points.append((1.0 / o.solver.steps, error))
    if len(points) < 2:
        return None
    h, error = np.log(np.array(points)).T
    return float(np.polyfit(h, error, 1)[0])


def crossings_of(problem, training, trained, reference, findings, points) -> dict | None:
    """Crossing pairs of orbits under the training solver and under a converged solve
    (the reference's check), for autonomous fields with one- or two-dimensional states
    (a tensor) and a fixed-step training solver; None where the count means nothing.
    Orbits are drawn densely (at least CROSSING_SEGMENTS segments, points inside each
    step from the method itself), so that chords between distant grid points of
    nearly touching orbits do not count as crossings."""
    sizes = problem.layout.sizes
    autonomous = not any(f.name == "time_dependent" for f in findings)
    flat = not problem.layout.is_tuple and sizes[0] in (1, 2)
    if not (training.is_fixed_step and autonomous and flat and points >= 2):
        return None
    if not (trained.all_finite and reference.all_finite) or reference.dtype != trained.dtype:
        return None  # orbits of a flow solved again in float64 are not drawn
    part = slice(0, points)
    z0 = problem.initial(part)
    counts = {}
    for name, spec in (("training", training), ("reference", reference.solver)):
        per_step = max(1, math.ceil(CROSSING_SEGMENTS / spec.steps))
        with torch.no_grad():
            path = dense_path(problem.func, z0, spec, problem.t_span, per_step)
        n = len(z0)
        paths = path.reshape(path.shape[0], n, sizes[0]).transpose(0, 1)
        counts[name] = count_crossings(paths.double().cpu().numpy())
    n = len(z0)
    return {**counts, "pairs": n * (n - 1) // 2}
