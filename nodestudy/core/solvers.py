"""Solving z' = func(t, z) over an interval, in torchdiffeq's conventions.

``func(t, z)`` is any callable (an ``nn.Module`` or a function) taking a scalar time
tensor and the state, as for ``torchdiffeq.odeint``. A :class:`SolverSpec` names the
solver: a fixed-step method with K steps, or an adaptive method with tolerances.
:meth:`SolverSpec.from_torchdiffeq` reads torchdiffeq's own terms (``method``,
``options``, ``rtol``, ``atol``) and :meth:`SolverSpec.to_torchdiffeq` writes them.

Fixed-step methods are written here as Butcher tableaux rather than taken from
torchdiffeq, for two reasons: the grid is exactly h = (t1 - t0)/K, and a plain loop
over a tableau has far less per-step overhead for small batched models.
torchdiffeq's ``step_size`` option builds its grid as ``ceil(span / h + 1)`` points
and overwrites the last one, so for some K (61, 109, 115, ... in float32) ``step_size
= 1/K`` gives K + 1 steps, the last a sliver; :func:`torchdiffeq_grid` reproduces that
rule so that callers can tell. ``tests/test_solvers.py`` checks the tableaux against
torchdiffeq and checks their order of convergence. Adaptive methods are torchdiffeq's.

The solver facts (order, evaluations per step) are data that tests and the step-size
adaptation read, not numbers repeated in code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .errors import NodestudyError

#: torchdiffeq's convention: ``func(t, z) -> dz/dt``.
VectorField = Callable[[Tensor, Tensor], Tensor]
TimeSpan = tuple[float, float]
UNIT_INTERVAL: TimeSpan = (0.0, 1.0)


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
class Tableau:
    """An explicit Runge-Kutta method: z_next = z + h * sum_i b_i k_i."""

    order: int
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]

    @property
    def stages(self) -> int:
        """Function evaluations per step."""
        return len(self.b)

    @property
    def c(self) -> tuple[float, ...]:
        """Where in the step each stage is evaluated (fractions of h)."""
        return tuple(sum(row) for row in self.a)


FIXED_STEP_METHODS: dict[str, Tableau] = {
    "euler": Tableau(order=1, a=((),), b=(1.0,)),
    "midpoint": Tableau(order=2, a=((), (0.5,)), b=(0.0, 1.0)),
    "heun2": Tableau(order=2, a=((), (1.0,)), b=(0.5, 0.5)),
    "heun3": Tableau(order=3, a=((), (1 / 3,), (0.0, 2 / 3)), b=(0.25, 0.0, 0.75)),
    # Kutta's 3/8 rule, which is what torchdiffeq calls "rk4".
    "rk4": Tableau(
        order=4,
        a=((), (1 / 3,), (-1 / 3, 1.0), (1.0, -1.0, 1.0)),
        b=(1 / 8, 3 / 8, 3 / 8, 1 / 8),
    ),
}

#: Adaptive methods (torchdiffeq names) and their orders.
ADAPTIVE_METHODS: dict[str, int] = {
    "adaptive_heun": 2,
    "fehlberg2": 2,
    "bosh3": 3,
    "dopri5": 5,
    "dopri8": 8,
}

METHODS = (*FIXED_STEP_METHODS, *ADAPTIVE_METHODS)

#: torchdiffeq's defaults for adaptive solvers.
TORCHDIFFEQ_RTOL, TORCHDIFFEQ_ATOL = 1e-7, 1e-9


@dataclass(frozen=True)
class SolverSpec:
    """How an ODE is integrated: a method with K steps, or with tolerances.

    Fixed-step methods take ``steps`` = K >= 1 and step with h = (t1 - t0)/K exactly
    (h = 1/K on the unit interval). Adaptive methods take ``tol``, the relative
    tolerance, and ``atol``, the absolute one; ``atol`` None means equal to ``tol``,
    as in the paper (rtol = atol = tol).
    """

    method: str
    steps: int | None = None
    tol: float | None = None
    atol: float | None = None

    def __post_init__(self) -> None:
        if self.method in FIXED_STEP_METHODS:
            if isinstance(self.steps, bool) or not isinstance(self.steps, int):
                raise NodestudyError(
                    f"solver {self.method!r} needs a whole number of steps K >= 1 "
                    f"(got steps={self.steps!r}); the step size is then h = 1/K"
                )
            if self.steps < 1:
                raise NodestudyError(
                    f"number of steps must be at least 1 (got {self.steps}); "
                    "pass K >= 1, the step size is h = 1/K"
                )
            if self.tol is not None or self.atol is not None:
                raise NodestudyError(
                    f"solver {self.method!r} is fixed-step and takes no tolerance; "
                    "pass steps=K instead"
                )
        elif self.method in ADAPTIVE_METHODS:
            _check_tolerance(self.method, "tol", self.tol)
            if self.atol is not None:
                _check_tolerance(self.method, "atol", self.atol)
            if self.steps is not None:
                raise NodestudyError(
                    f"adaptive solver {self.method!r} chooses its own steps; "
                    "pass tol instead of steps"
                )
        else:
            raise NodestudyError(
                f"unknown solver {self.method!r}; choose one of {', '.join(METHODS)}"
            )

    @property
    def is_fixed_step(self) -> bool:
        return self.method in FIXED_STEP_METHODS

    @property
    def order(self) -> int:
        if self.is_fixed_step:
            return FIXED_STEP_METHODS[self.method].order
        return ADAPTIVE_METHODS[self.method]

    @property
    def step_size(self) -> float:
        """h = 1/K for fixed-step solvers on the unit interval."""
        if not self.is_fixed_step:
            raise NodestudyError(f"adaptive solver {self.method!r} has no fixed step size")
        return 1.0 / self.steps

    @property
    def rtol(self) -> float | None:
        return self.tol

    @property
    def absolute_tol(self) -> float | None:
        """The absolute tolerance in force: ``atol``, else ``tol``."""
        return self.atol if self.atol is not None else self.tol

    @property
    def nfe(self) -> int | None:
        """Function evaluations of one solve, known in advance for fixed-step methods."""
        if not self.is_fixed_step:
            return None
        return self.steps * FIXED_STEP_METHODS[self.method].stages

    def tightened(self, factor: float) -> SolverSpec:
        """The same adaptive method with both tolerances divided by ``factor``."""
        atol = None if self.atol is None else self.atol / factor
        return SolverSpec(self.method, tol=self.tol / factor, atol=atol)

    def label(self) -> str:
        if self.is_fixed_step:
            return f"{self.method} K={self.steps}"
        if self.atol is None:
            return f"{self.method} tol={self.tol:g}"
        return f"{self.method} rtol={self.tol:g} atol={self.atol:g}"

    def to_dict(self) -> dict[str, Any]:
        """Plain data; ``atol`` only when it differs from ``tol``, so the keys of runs
        stored before it existed stay the same."""
        values = dataclasses.asdict(self)
        if values["atol"] is None:
            del values["atol"]
        return values

    # -- torchdiffeq's terms --------------------------------------------------------

    @classmethod
    def from_torchdiffeq(
        cls,
        method: str,
        options: Mapping[str, Any] | None = None,
        rtol: float | None = None,
        atol: float | None = None,
        t_span: TimeSpan = UNIT_INTERVAL,
    ) -> SolverSpec:
        """The solver that ``odeint(func, z0, t_span, method, options, rtol, atol)``
        uses. A fixed-step ``step_size`` becomes the nearest whole number of steps
        (see :func:`torchdiffeq_grid` for whether torchdiffeq's own grid is exactly
        that); without one, torchdiffeq steps once per output interval: K = 1."""
        options = dict(options or {})
        if method in FIXED_STEP_METHODS:
            step_size = options.get("step_size")
            if step_size is None:
                return cls(method, 1)
            return cls(method, nearest_steps(step_size, t_span))
        if method in ADAPTIVE_METHODS:
            rtol = TORCHDIFFEQ_RTOL if rtol is None else float(rtol)
            atol = TORCHDIFFEQ_ATOL if atol is None else float(atol)
            return cls(method, tol=rtol, atol=None if atol == rtol else atol)
        raise NodestudyError(
            f"unknown or unsupported torchdiffeq method {method!r}; nodestudy handles "
            f"{', '.join(METHODS)}"
        )

    def to_torchdiffeq(self, t_span: TimeSpan = UNIT_INTERVAL) -> dict[str, Any]:
        """Keyword arguments for ``torchdiffeq.odeint``: method and options, or
        method, rtol and atol."""
        if self.is_fixed_step:
            span = t_span[1] - t_span[0]
            return {"method": self.method, "options": {"step_size": span / self.steps}}
        return {"method": self.method, "rtol": self.tol, "atol": self.absolute_tol}


def _check_tolerance(method: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise NodestudyError(
            f"adaptive solver {method!r} needs a tolerance {name} > 0 (got {value!r})"
        )


def nearest_steps(step_size: float, t_span: TimeSpan = UNIT_INTERVAL) -> int:
    """The whole number of steps of size closest to ``step_size`` on the interval."""
    if isinstance(step_size, bool) or not isinstance(step_size, int | float) or step_size <= 0:
        raise NodestudyError(f"options['step_size'] must be a positive number (got {step_size!r})")
    span = abs(t_span[1] - t_span[0])
    return max(1, round(span / step_size))


def torchdiffeq_grid(
    step_size: float, t_span: TimeSpan = UNIT_INTERVAL, dtype: torch.dtype = torch.float32
) -> Tensor:
    """The time grid torchdiffeq steps on for ``options={"step_size": step_size}``:
    ``ceil(span / h + 1)`` points h apart, the last one moved to the end time."""
    t = torch.tensor(t_span, dtype=dtype)
    points = torch.ceil((t[-1] - t[0]) / step_size + 1).item()
    grid = torch.arange(0, points, dtype=dtype) * step_size + t[0]
    grid[-1] = t[-1]
    return grid


def is_exact_torchdiffeq_grid(
    steps: int, t_span: TimeSpan = UNIT_INTERVAL, dtype: torch.dtype = torch.float32
) -> bool:
    """Whether ``step_size = span / steps`` makes torchdiffeq take exactly ``steps``
    steps of equal size (to rounding), for states of ``dtype``."""
    span = t_span[1] - t_span[0]
    grid = torchdiffeq_grid(span / steps, t_span, dtype)
    if len(grid) != steps + 1:
        return False
    widths = grid.diff().double()
    return bool(torch.allclose(widths, torch.full_like(widths, span / steps), rtol=1e-4))


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
    an adaptive solve (torchdiffeq raises when it is exceeded).
    """
    if spec.is_fixed_step:
        tableau = FIXED_STEP_METHODS[spec.method]
        return _solve_fixed(func, z0, tableau, spec.steps, t_span, record)
    return _solve_adaptive(func, z0, spec, t_span, record, max_num_steps)


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
) -> Solution:
    from torchdiffeq import odeint

    calls = 0

    def counted(t: Tensor, z: Tensor) -> Tensor:
        nonlocal calls
        calls += 1
        return func(t, z)

    n_times = 65 if record else 2
    times = torch.linspace(*t_span, n_times, dtype=z0.dtype, device=z0.device)
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


def solve_as_given(
    func: VectorField,
    z0: Tensor,
    method: str,
    options: Mapping[str, Any] | None,
    rtol: float | None,
    atol: float | None,
    t_span: TimeSpan = UNIT_INTERVAL,
) -> Solution:
    """Exactly ``torchdiffeq.odeint(func, z0, t_span, ...)``, counting evaluations:
    for solvers whose torchdiffeq grid is not an exact one (see
    :func:`is_exact_torchdiffeq_grid`)."""
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
    times = torch.tensor(t_span, dtype=z0.dtype, device=z0.device)
    states = odeint(counted, z0, times, method=method, options=dict(options or {}), **tolerances)
    return Solution(final=states[-1], trajectory=None, nfe=calls)


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
