"""Integrating z' = func(t, z) with a :class:`~nodestudy.core.solvers.SolverSpec`.

Fixed-step methods run as plain loops over their Butcher tableau on the exact grid
h = (t1 - t0)/K, passing ``t`` as a scalar tensor as torchdiffeq does; adaptive ones
call ``torchdiffeq.odeint``. Every solve counts its vector-field evaluations.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .errors import NodestudyError
from .solvers import (
    FIXED_STEP_METHODS,
    UNIT_INTERVAL,
    SolverSpec,
    Tableau,
    TimeSpan,
    VectorField,
)


@dataclass(frozen=True)
class ParametrisedField:
    """A vector field together with the tensors it is computed from.

    The adjoint method needs those tensors by name: it integrates their gradients
    backwards in time instead of recording the forward solve.
    """

    function: VectorField
    tensors: tuple[Tensor, ...]

    def __call__(self, t: Tensor, z: Tensor) -> Tensor:
        return self.function(t, z)


@dataclass(frozen=True)
class Solution:
    """The end state, the states on the grid if recorded, and the evaluations used."""

    final: Tensor
    trajectory: Tensor | None
    nfe: int


class EvaluationCounter:
    """Counts vector-field evaluations, including those made later in a backward pass."""

    def __init__(self) -> None:
        self.count = 0


@dataclass(frozen=True)
class AdjointSolution(Solution):
    """A solve whose gradient comes from the adjoint method. ``nfe`` counts the forward
    solve; :meth:`nfe_backward` the evaluations of the backward (adjoint) solve, known
    once ``backward()`` has run."""

    counter: EvaluationCounter = dataclasses.field(default_factory=EvaluationCounter)

    def nfe_backward(self) -> int:
        return self.counter.count - self.nfe


def solve(
    func: VectorField,
    z0: Tensor,
    spec: SolverSpec,
    *,
    t_span: TimeSpan = UNIT_INTERVAL,
    record: bool = False,
    max_num_steps: int | None = None,
) -> Solution:
    """Integrate z' = func(t, z) from ``t_span[0]`` to ``t_span[1]``.

    ``record=True`` returns the states at every grid point, stacked on a new first
    axis (K+1 of them for fixed-step methods; for adaptive ones 65 equally spaced
    output times, which do not influence the steps taken). ``max_num_steps`` bounds
    an adaptive solve (torchdiffeq raises when it is exceeded) and a fixed-step one
    (default :data:`MAX_FIXED_STEPS`: raise it to go past on purpose). Anything else
    than a SolverSpec, a tensor state and a finite span is refused in one line.
    """
    _check_solve(z0, spec, t_span, max_num_steps)
    if spec.is_fixed_step:
        tableau = FIXED_STEP_METHODS[spec.method]
        return _solve_fixed(func, z0, tableau, spec.steps, t_span, record)
    return _solve_adaptive(func, z0, spec, t_span, record, max_num_steps)


#: The most steps a fixed-step solve takes unless told otherwise (``max_num_steps``): a
#: million steps of a field is minutes; 10**10 would run for days.
MAX_FIXED_STEPS = 2**20


def _check_solve(z0, spec, t_span, max_num_steps) -> None:
    if not isinstance(spec, SolverSpec):
        raise NodestudyError(
            f"solve takes a SolverSpec, e.g. SolverSpec('euler', 8) or "
            f"SolverSpec('dopri5', tol=1e-6), not {spec!r}"
        )
    if not (isinstance(z0, Tensor) and z0.is_floating_point()):
        raise NodestudyError(
            f"z0 must be a floating-point torch tensor, not {type(z0).__name__}"
            + (f" of {z0.dtype}" if isinstance(z0, Tensor) else "")
            + "; e.g. torch.as_tensor(x, dtype=torch.float32) (check_ode takes tuple states)"
        )
    span = tuple(t_span) if isinstance(t_span, tuple | list) else ()
    numbers = all(isinstance(t, int | float) and not isinstance(t, bool) for t in span)
    if (
        len(span) != 2
        or not numbers
        or not all(math.isfinite(t) for t in span)
        or span[0] == span[1]
    ):
        raise NodestudyError(f"t_span must be two different finite numbers, not {t_span!r}")
    limit = MAX_FIXED_STEPS if max_num_steps is None else max_num_steps
    if spec.is_fixed_step and spec.steps > limit:
        raise NodestudyError(
            f"{spec.label()} is {spec.steps:,} steps, more than the {limit:,} a solve takes "
            "unless told: pass max_num_steps to go past it on purpose"
        )


def stage_times(tableau: Tableau, steps: int, t_span: TimeSpan, like: Tensor) -> list[Tensor]:
    """The time of every stage of every step, as scalar tensors (torchdiffeq passes
    ``t`` as a tensor), in the order the solver evaluates them."""
    h = (t_span[1] - t_span[0]) / steps
    starts = torch.arange(steps, dtype=torch.float64)[:, None]
    nodes = torch.tensor(tableau.c, dtype=torch.float64)[None, :]
    times = (t_span[0] + h * (starts + nodes)).to(dtype=like.dtype, device=like.device)
    return list(times.flatten().unbind())


def _solve_fixed(
    func: VectorField,
    z0: Tensor,
    tableau: Tableau,
    steps: int,
    t_span: TimeSpan,
    record: bool,
) -> Solution:
    h = (t_span[1] - t_span[0]) / steps
    times = iter(stage_times(tableau, steps, t_span, z0))
    z = z0
    states = [z0] if record else None
    for _ in range(steps):
        z = _rk_step(func, z, h, tableau, times)
        if states is not None:
            states.append(z)
    trajectory = torch.stack(states) if states is not None else None
    return Solution(final=z, trajectory=trajectory, nfe=steps * tableau.stages)


def _rk_step(func: VectorField, z: Tensor, h: float, tableau: Tableau, times) -> Tensor:
    if tableau.stages == 1:  # euler, the hot path of most sweeps
        return z + h * func(next(times), z)
    ks: list[Tensor] = []
    for row in tableau.a:
        stage = z
        for coefficient, k in zip(row, ks):
            if coefficient != 0.0:
                stage = stage + (h * coefficient) * k
        ks.append(func(next(times), stage))
    update = z
    for weight, k in zip(tableau.b, ks):
        if weight != 0.0:
            update = update + (h * weight) * k
    return update


def _solve_adaptive(
    func: VectorField,
    z0: Tensor,
    spec: SolverSpec,
    t_span: TimeSpan,
    record: bool,
    max_num_steps: int | None,
    times: Tensor | None = None,
) -> Solution:
    from torchdiffeq import odeint

    calls = 0

    def counted(t: Tensor, z: Tensor) -> Tensor:
        nonlocal calls
        calls += 1
        return func(t, z)

    if times is None:
        n_times = 65 if record else 2
        times = torch.linspace(*t_span, n_times, dtype=z0.dtype, device=z0.device)
    else:
        record = True
    options = {} if max_num_steps is None else {"max_num_steps": max_num_steps}
    states = odeint(
        counted,
        z0,
        times,
        method=spec.method,
        rtol=spec.tol,
        atol=spec.absolute_tol,
        options=options,
    )
    return Solution(final=states[-1], trajectory=states if record else None, nfe=calls)


def solve_through(
    func: VectorField,
    z0: Tensor,
    spec: SolverSpec,
    times: Tensor,
    *,
    max_num_steps: int | None = None,
) -> Solution:
    """The states at every one of the output ``times`` (odeint's layout: time first),
    as ``odeint(func, z0, times)`` gives them. A fixed-step method steps K times over
    the whole span, whatever the output times, and is read at them as torchdiffeq reads
    a fixed grid: linearly between the grid points around each time (exactly on a grid
    point). So the solver is the K it names, also when there are more output times
    than steps."""
    if not spec.is_fixed_step:
        t_span = (float(times[0]), float(times[-1]))
        return _solve_adaptive(func, z0, spec, t_span, True, max_num_steps, times)
    tableau = FIXED_STEP_METHODS[spec.method]
    t_span = (float(times[0]), float(times[-1]))
    grid = _solve_fixed(func, z0, tableau, spec.steps, t_span, record=True)
    states = read_at(grid.trajectory, t_span, spec.steps, times)
    return Solution(final=states[-1], trajectory=states, nfe=grid.nfe)


def read_at(trajectory: Tensor, t_span: TimeSpan, steps: int, times: Tensor) -> Tensor:
    """The states at ``times`` of a fixed grid's ``trajectory`` (its ``steps + 1``
    states over ``t_span``, forward or backward): linear between the grid points around
    each time, as torchdiffeq's fixed-grid solvers interpolate."""
    h = (t_span[1] - t_span[0]) / steps
    read = []
    for t in times:
        position = (float(t) - t_span[0]) / h
        nearest = round(position)
        if abs(position - nearest) <= 1e-9 * max(1.0, abs(position)):  # on the grid
            read.append(trajectory[min(max(nearest, 0), steps)])
            continue
        i = min(max(math.floor(position), 0), steps - 1)
        weight = position - i
        read.append(trajectory[i] + weight * (trajectory[i + 1] - trajectory[i]))
    return torch.stack(read)


def dense_path(
    func: VectorField, z0: Tensor, spec: SolverSpec, t_span: TimeSpan, per_step: int
) -> Tensor:
    """The fixed-step solve's states at ``per_step`` points inside every step (one
    step of the method from the step's start, of a fraction of its length), stacked
    on a new first axis: the method's own continuous extension, so that orbits drawn
    through them are not chords between distant grid points. The last point of each
    step is the ordinary step."""
    tableau = FIXED_STEP_METHODS[spec.method]
    h = (t_span[1] - t_span[0]) / spec.steps
    nodes = torch.tensor(tableau.c, dtype=torch.float64)
    z, points = z0, [z0]
    for n in range(spec.steps):
        start = t_span[0] + n * h
        for j in range(1, per_step + 1):
            fraction = h * j / per_step
            times = (start + fraction * nodes).to(dtype=z0.dtype, device=z0.device)
            points.append(_rk_step(func, z, fraction, tableau, iter(times.unbind())))
        z = points[-1]
    return torch.stack(points)


def solve_as_given(
    func: VectorField,
    z0: Tensor,
    method: str,
    options: Mapping[str, Any] | None,
    rtol: float | None,
    atol: float | None,
    t_span: TimeSpan = UNIT_INTERVAL,
    times: Tensor | None = None,
) -> Solution:
    """Exactly ``torchdiffeq.odeint(func, z0, t_span, ...)`` (or at the output
    ``times``, then with the states at each of them), counting evaluations: for
    solvers whose torchdiffeq grid is not an exact one (see
    :func:`is_exact_torchdiffeq_grid`), and for a user's grid of output times, between
    which torchdiffeq's fixed-step methods interpolate."""
    from torchdiffeq import odeint

    calls = 0

    def counted(t: Tensor, z: Tensor) -> Tensor:
        nonlocal calls
        calls += 1
        return func(t, z)

    tolerances = {}
    if rtol is not None:
        tolerances["rtol"] = rtol
    if atol is not None:
        tolerances["atol"] = atol
    through = times is not None
    if times is None:
        times = torch.tensor(t_span, dtype=z0.dtype, device=z0.device)
    states = odeint(counted, z0, times, method=method, options=dict(options or {}), **tolerances)
    return Solution(final=states[-1], trajectory=states if through else None, nfe=calls)


def solve_adjoint(
    field: ParametrisedField, z0: Tensor, spec: SolverSpec, *, t_span: TimeSpan = UNIT_INTERVAL
) -> AdjointSolution:
    """Integrate like :func:`solve`, with gradients by torchdiffeq's adjoint method.

    The adjoint method keeps no forward graph: ``backward()`` solves the adjoint ODE
    backwards in time with the same method (for fixed-step methods on the same exact
    grid, given to torchdiffeq as output times). Its gradient equals backpropagation's
    only up to the solver's error, which is the point of comparing the two.
    """
    from torchdiffeq import odeint_adjoint

    counter = EvaluationCounter()

    def counted(t: Tensor, z: Tensor) -> Tensor:
        counter.count += 1
        return field(t, z)

    if spec.is_fixed_step:
        times = torch.linspace(*t_span, spec.steps + 1, dtype=z0.dtype, device=z0.device)
        options: dict = {"method": spec.method}
    else:
        times = torch.tensor(t_span, dtype=z0.dtype, device=z0.device)
        options = {"method": spec.method, "rtol": spec.tol, "atol": spec.absolute_tol}
    states = odeint_adjoint(counted, z0, times, adjoint_params=field.tensors, **options)
    return AdjointSolution(final=states[-1], trajectory=None, nfe=counter.count, counter=counter)
