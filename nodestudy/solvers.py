"""Numerical solvers for the autonomous ODE z' = f(z) on the interval [0, 1].

Fixed-step methods are written here as Butcher tableaux rather than taken from
torchdiffeq, for two reasons: the grid is exactly h = 1/K (torchdiffeq's
``step_size`` option adds a short last step when 1/h is not an exact float), and a
plain loop over a tableau has far less per-step overhead for the small batched models
of this study. ``tests/test_solvers.py`` checks them against torchdiffeq and checks
their order of convergence. Adaptive methods (dopri5, fehlberg2) are torchdiffeq's.

The solver facts (order, evaluations per step) are data that tests and the step-size
adaptation read, not numbers repeated in code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .errors import NodestudyError

VectorField = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class ParametrisedField:
    """A vector field together with the tensors it is computed from.

    The adjoint method needs those tensors by name: it integrates their gradients
    backwards in time instead of recording the forward solve.
    """

    function: VectorField
    tensors: tuple[Tensor, ...]

    def __call__(self, z: Tensor) -> Tensor:
        return self.function(z)


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


FIXED_STEP_METHODS: dict[str, Tableau] = {
    "euler": Tableau(order=1, a=((),), b=(1.0,)),
    "midpoint": Tableau(order=2, a=((), (0.5,)), b=(0.0, 1.0)),
    # Kutta's 3/8 rule, which is what torchdiffeq calls "rk4".
    "rk4": Tableau(
        order=4,
        a=((), (1 / 3,), (-1 / 3, 1.0), (1.0, -1.0, 1.0)),
        b=(1 / 8, 3 / 8, 3 / 8, 1 / 8),
    ),
}

#: Adaptive methods (torchdiffeq names) and their orders.
ADAPTIVE_METHODS: dict[str, int] = {"fehlberg2": 2, "dopri5": 5}

METHODS = (*FIXED_STEP_METHODS, *ADAPTIVE_METHODS)


@dataclass(frozen=True)
class SolverSpec:
    """How the ODE block is integrated: a method with K steps, or with tolerances.

    Fixed-step methods take ``steps`` = K >= 1 and step with h = 1/K exactly.
    Adaptive methods take ``tol`` (used for both rtol and atol, as in the paper).
    """

    method: str
    steps: int | None = None
    tol: float | None = None

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
            if self.tol is not None:
                raise NodestudyError(
                    f"solver {self.method!r} is fixed-step and takes no tolerance; "
                    "pass steps=K instead"
                )
        elif self.method in ADAPTIVE_METHODS:
            if self.tol is None or not self.tol > 0:
                raise NodestudyError(
                    f"adaptive solver {self.method!r} needs a tolerance tol > 0 (got {self.tol!r})"
                )
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
        """h = 1/K for fixed-step solvers."""
        if not self.is_fixed_step:
            raise NodestudyError(f"adaptive solver {self.method!r} has no fixed step size")
        return 1.0 / self.steps

    @property
    def nfe(self) -> int | None:
        """Function evaluations of one solve, known in advance for fixed-step methods."""
        if not self.is_fixed_step:
            return None
        return self.steps * FIXED_STEP_METHODS[self.method].stages

    def label(self) -> str:
        if self.is_fixed_step:
            return f"{self.method} K={self.steps}"
        return f"{self.method} tol={self.tol:g}"


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


def solve(field: VectorField, z0: Tensor, spec: SolverSpec, *, record: bool = False) -> Solution:
    """Integrate z' = field(z) from t=0 to t=1.

    ``record=True`` returns the states at every grid point, stacked on a new first
    axis (K+1 of them for fixed-step methods; for adaptive ones 65 equally spaced
    output times, which do not influence the steps taken).
    """
    if spec.is_fixed_step:
        return _solve_fixed(field, z0, FIXED_STEP_METHODS[spec.method], spec.steps, record)
    return _solve_adaptive(field, z0, spec, record)


def _solve_fixed(
    field: VectorField, z0: Tensor, tableau: Tableau, steps: int, record: bool
) -> Solution:
    h = 1.0 / steps
    z = z0
    states = [z0] if record else None
    for _ in range(steps):
        z = _rk_step(field, z, h, tableau)
        if states is not None:
            states.append(z)
    trajectory = torch.stack(states) if states is not None else None
    return Solution(final=z, trajectory=trajectory, nfe=steps * tableau.stages)


def _rk_step(field: VectorField, z: Tensor, h: float, tableau: Tableau) -> Tensor:
    if tableau.stages == 1:  # euler, the hot path of most sweeps
        return z + h * field(z)
    ks: list[Tensor] = []
    for row in tableau.a:
        stage = z
        for coefficient, k in zip(row, ks):
            if coefficient != 0.0:
                stage = stage + (h * coefficient) * k
        ks.append(field(stage))
    update = z
    for weight, k in zip(tableau.b, ks):
        if weight != 0.0:
            update = update + (h * weight) * k
    return update


def _solve_adaptive(field: VectorField, z0: Tensor, spec: SolverSpec, record: bool) -> Solution:
    from torchdiffeq import odeint

    calls = 0

    def counted(t: Tensor, z: Tensor) -> Tensor:
        nonlocal calls
        calls += 1
        return field(z)

    n_times = 65 if record else 2
    times = torch.linspace(0.0, 1.0, n_times, dtype=z0.dtype, device=z0.device)
    states = odeint(counted, z0, times, method=spec.method, rtol=spec.tol, atol=spec.tol)
    return Solution(final=states[-1], trajectory=states if record else None, nfe=calls)


def solve_adjoint(field: ParametrisedField, z0: Tensor, spec: SolverSpec) -> AdjointSolution:
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
        return field(z)

    if spec.is_fixed_step:
        times = torch.linspace(0.0, 1.0, spec.steps + 1, dtype=z0.dtype, device=z0.device)
        options: dict = {"method": spec.method}
    else:
        times = torch.tensor([0.0, 1.0], dtype=z0.dtype, device=z0.device)
        options = {"method": spec.method, "rtol": spec.tol, "atol": spec.tol}
    states = odeint_adjoint(counted, z0, times, adjoint_params=field.tensors, **options)
    return AdjointSolution(final=states[-1], trajectory=None, nfe=counter.count, counter=counter)
