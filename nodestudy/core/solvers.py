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
adaptation read, not numbers repeated in code. Integrating is ``integrate.py``.
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
        """h = 1/K on the unit interval (:meth:`step_size_over` for another)."""
        return self.step_size_over(UNIT_INTERVAL)

    def step_size_over(self, t_span: TimeSpan) -> float:
        """h = span/K: a fixed-step solver's K steps over ``t_span``, the one place a
        step count becomes a step size."""
        if not self.is_fixed_step:
            raise NodestudyError(f"adaptive solver {self.method!r} has no fixed step size")
        return (t_span[1] - t_span[0]) / self.steps

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
            unknown = sorted(set(options) - TORCHDIFFEQ_FIXED_OPTIONS)
            if unknown:  # a misspelt step_size would silently be one step
                raise NodestudyError(
                    f"unknown option(s) {', '.join(map(repr, unknown))} for method {method!r}; "
                    f"torchdiffeq takes {', '.join(sorted(TORCHDIFFEQ_FIXED_OPTIONS))}"
                )
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
            return {"method": self.method, "options": {"step_size": self.step_size_over(t_span)}}
        return {"method": self.method, "rtol": self.tol, "atol": self.absolute_tol}


#: The options torchdiffeq's fixed-grid solvers take.
TORCHDIFFEQ_FIXED_OPTIONS = frozenset(
    {"step_size", "grid_constructor", "interp", "perturb", "norm"}
)


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
