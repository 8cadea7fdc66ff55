"""One solver's answers on every evaluation point: the pieces
:func:`~nodestudy.core.check.procedure.check_ode` is assembled from.

A point's *answer* is what the user's model makes of its solve: the predicted class
(with a ``head``), the loss (with a ``metric``), or the states themselves. A point
whose states are not finite under a solver answers nothing: its prediction is -1 (no
class), its loss infinite, its distance infinite. So a solver of smaller error that
overflows where the training solver stays finite changes the answer, as it should.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from enum import Enum

import torch
from torch import Tensor, nn

from ..errors import NodestudyError
from ..integrate import Solution, solve, solve_through
from ..scoring import Readout, predictions
from ..solvers import SolverSpec, TimeSpan, VectorField
from ..states import State, StateLayout, first_tensor, points_of, take

#: An adaptive test solve may take at most this many steps (then it counts as failed).
MAX_ADAPTIVE_STEPS = 2000
#: The answer of a point whose states are not finite: no class.
NO_CLASS = -1


class Measure(str, Enum):
    """What the verdict compares between two solvers."""

    ACCURACY = "accuracy drop"
    CHANGED = "changed predictions"
    LOSS = "loss increase"
    DISTANCE = "end-state distance"

    @property
    def two_sided(self) -> bool:
        """An accuracy that rises beyond the limit under another solver is a change
        of the answer too; the others measure a change that is never negative."""
        return self is Measure.ACCURACY


class Role(str, Enum):
    """What a solver is in a check, relative to the training solver. Members are
    strings ("reference", ...), so the check's table can be filtered by name."""

    TRAINING = "training"
    COARSER = "coarser"
    LOOSER = "looser"
    FINER = "finer"
    TIGHTER = "tighter"
    HIGHER_ORDER = "higher order"
    ADAPTIVE = "adaptive"
    REFERENCE = "reference"
    REFERENCE_CHECK = "reference check"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def deciding(self) -> bool:
        """A solver of equal or smaller error than the training solver: its answers
        can show that the model is not an ODE flow."""
        return self in DECIDING_ROLES

    @property
    def probes_coarser(self) -> bool:
        """The training method with coarser steps or looser tolerances: it finds the
        coarsest safe step, and decides nothing."""
        return self in (Role.COARSER, Role.LOOSER)


DECIDING_ROLES = frozenset(
    {Role.FINER, Role.HIGHER_ORDER, Role.ADAPTIVE, Role.TIGHTER, Role.REFERENCE}
)


@dataclass(frozen=True)
class Outcome:
    """One solver's answers on every point."""

    solver: SolverSpec
    role: Role
    paths: Tensor | None  # (N, output times, flat state), float64 on the CPU
    answers: Tensor | None  # (N,): classes (-1: none), or losses (inf: none); None: states
    nfe: float
    seconds: float
    error: str | None = None
    nfe_per_sample: tuple[int, ...] = ()
    dtype: str = ""
    #: the metric's mean loss of predicting zero in the model's own output layout (its
    #: scale; NaN where the answer is no loss): the floor of a loss limit
    zero_loss: float = float("nan")

    @property
    def failed(self) -> bool:
        """The solve raised (torchdiffeq's underflow or step limit): no answers."""
        return self.paths is None

    @property
    def finite(self) -> Tensor:
        """Per point: whether its states are finite."""
        return torch.isfinite(self.paths).all(dim=(1, 2))

    @property
    def all_finite(self) -> bool:
        return not self.failed and bool(self.finite.all())


@dataclass(frozen=True)
class Problem:
    """What is checked: the model, the points and the settings."""

    func: VectorField
    x: State
    y: object
    head: Readout | None
    encode: Readout | None
    t_span: TimeSpan
    times: Tensor | None
    metric: Callable | None
    measure: Measure
    layout: StateLayout
    chunk_size: int
    nfe_points: int
    baseline_loss: float | None = None  # the metric of predicting the mean of y

    @property
    def n(self) -> int:
        return points_of(self.x)

    def initial(self, part: slice) -> State:
        with torch.no_grad():
            x = take(self.x, part)
            return self.encode(x) if self.encode is not None else x

    def solve(self, z0: State, solver: SolverSpec, max_num_steps: int | None = None):
        """One chunk's solve: the path in odeint's layout (time first), flattened for
        tuple states, and the evaluations."""
        func, z = self.func, z0
        if self.layout.is_tuple:
            func, z = self.layout.flat_field(self.func), self.layout.flatten(z0)
        if self.times is not None:
            solution = solve_through(func, z, solver, self.times, max_num_steps=max_num_steps)
            return solution.trajectory, solution.nfe
        solution = solve(func, z, solver, t_span=self.t_span, max_num_steps=max_num_steps)
        return solution.final[None], solution.nfe

    def outcome(
        self, solver: SolverSpec, role: Role, solve_chunk: Callable | None = None
    ) -> Outcome:
        started = time.perf_counter()
        limit = None if solver.is_fixed_step else MAX_ADAPTIVE_STEPS
        paths, readouts, nfe = [], [], []
        try:
            for start in range(0, self.n, self.chunk_size):
                z0 = self.initial(slice(start, start + self.chunk_size))
                with torch.no_grad():
                    if solve_chunk is not None:
                        solution: Solution = solve_chunk(z0)
                        path = solution.trajectory
                        path = path if path is not None else solution.final[None]
                        evaluations = solution.nfe  # flat already: see check._training_outcome
                    else:
                        path, evaluations = self.solve(z0, solver, limit)
                    readouts.append(self._readout(path))
                paths.append(path.reshape(*path.shape[:2], -1).transpose(0, 1).double().cpu())
                nfe.append(evaluations)
        except (AssertionError, RuntimeError, OverflowError) as error:  # torchdiffeq
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            return Outcome(solver, role, None, None, float("nan"), 0.0, error=message)
        all_paths = torch.cat(paths)
        finite = torch.isfinite(all_paths).all(dim=(1, 2))
        answers = self._answers(readouts, finite)
        per_sample = () if solver.is_fixed_step else self._nfe_per_sample(solver)
        seconds = time.perf_counter() - started
        dtype = str(first_tensor(self.x).dtype).replace("torch.", "")
        zero = self._zero_loss(readouts) if role is Role.TRAINING else float("nan")
        return Outcome(
            solver,
            role,
            all_paths,
            answers,
            sum(nfe) / len(nfe),
            seconds,
            None,
            per_sample,
            dtype,
            zero,
        )

    def _zero_loss(self, readouts: list) -> float:
        """The metric's mean loss of predicting zero, shaped as the model's own output
        (so whatever layout the metric expects of y)."""
        if self.measure is not Measure.LOSS:
            return float("nan")
        pred = self._joined(readouts)
        zero = (
            tuple(map(torch.zeros_like, pred))
            if isinstance(pred, tuple)
            else torch.zeros_like(pred)
        )
        try:
            losses = per_sample_losses(self.metric, zero, self.y, self.n)
        except Exception:  # the metric refuses zeros (a log of them): no floor
            return float("nan")
        losses = losses[torch.isfinite(losses)]
        return float(losses.mean()) if len(losses) else float("nan")

    def _joined(self, readouts: list):
        axis = 0 if self.times is None else 1
        if isinstance(readouts[0], tuple):
            return tuple(torch.cat(parts, dim=axis) for parts in zip(*readouts))
        return torch.cat(readouts, dim=axis)

    def _readout(self, path: Tensor):
        """What the head makes of a chunk's solve: classes, or its raw output for the
        metric (the user's layout: time first when output times are given)."""
        if self.head is None and self.metric is None:
            return None
        states = self.layout.unflatten(path) if self.layout.is_tuple else path
        if self.times is None:
            states = tuple(s[-1] for s in states) if self.layout.is_tuple else states[-1]
        output = self.head(states) if self.head is not None else states
        if self.metric is not None:
            return output
        return predictions(output).reshape(-1).cpu()

    def _answers(self, readouts: list, finite: Tensor) -> Tensor | None:
        if self.measure is Measure.DISTANCE:
            return None
        if self.measure is Measure.LOSS:
            losses = per_sample_losses(self.metric, self._joined(readouts), self.y, self.n)
            return torch.where(finite & torch.isfinite(losses), losses, float("inf"))
        classes = torch.cat(readouts)
        return torch.where(finite, classes, torch.full_like(classes, NO_CLASS))

    def _nfe_per_sample(self, solver: SolverSpec) -> tuple[int, ...]:
        """Evaluations of an adaptive solve of each of the first ``nfe_points`` points
        alone (a batch shares one step size, so its NFE is not any point's). Best
        effort: it stops at the first point that cannot be solved alone."""
        counts = []
        for i in range(min(self.nfe_points, self.n)):
            try:
                with torch.no_grad():
                    _, evaluations = self.solve(
                        self.initial(slice(i, i + 1)), solver, MAX_ADAPTIVE_STEPS
                    )
            except Exception:  # the user's model or torchdiffeq; the batch solve worked
                break
            counts.append(evaluations)
        return tuple(counts)

    def in_float64(self) -> Problem:
        """The same problem with float64 inputs (run it inside :func:`float64_modules`)."""
        x = self.x
        cast = tuple(c.double() for c in x) if isinstance(x, tuple) else x.double()
        times = None if self.times is None else self.times.double()
        return replace(self, x=cast, times=times)


def per_sample_losses(metric: Callable, pred, y, n: int) -> Tensor:
    """The user's ``metric(pred, y)`` as one float64 loss per point."""
    with torch.no_grad():
        losses = metric(pred, y)
    if not isinstance(losses, Tensor) or losses.shape != (n,):
        shape = tuple(losses.shape) if isinstance(losses, Tensor) else type(losses).__name__
        raise NodestudyError(
            f"metric(pred, y) must return one loss per point, a tensor of shape ({n},), "
            f"got {shape}; reduce over every axis but the points' (e.g. .mean(dim=...))"
        )
    return losses.detach().double().cpu()


@contextlib.contextmanager
def float64_modules(modules: list[nn.Module]) -> Iterator[None]:
    """Run a block with every parameter and buffer of ``modules`` in float64, then put
    the very same tensors back, so the model is left bit for bit as it was."""
    params = [(p, p.data) for m in modules for p in m.parameters(recurse=False)]
    buffers = [(m, name, b) for m in modules for name, b in m._buffers.items() if b is not None]
    try:
        for p, data in params:
            if data.is_floating_point():
                p.data = data.double()
        for m, name, b in buffers:
            if b.is_floating_point():
                m._buffers[name] = b.double()
        yield
    finally:
        for p, data in params:
            p.data = data
        for m, name, b in buffers:
            m._buffers[name] = b
