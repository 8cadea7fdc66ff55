"""One solver's answers on every evaluation point, and how two solvers' answers
differ: the pieces :func:`~nodestudy.core.check.check_ode` is assembled from."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .errors import NodestudyError
from .integrate import solve
from .scoring import EndStates, Readout, predictions, solved_chunks
from .solvers import SolverSpec, TimeSpan, VectorField
from .stats import (
    Estimate,
    bootstrap_mean_interval,
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
class Problem:
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


def relative_distance(states: Tensor, reference: Tensor) -> Tensor:
    """Per point: |z - z_ref| / |z_ref| (the distance itself where |z_ref| is 0)."""
    scale = reference.norm(dim=1).clamp_min(1e-12)
    return (states - reference).norm(dim=1) / scale


def metric_of(problem: Problem, drop_limit: float, state_limit: float) -> tuple[str, float]:
    """What the verdict measures, and its limit: the accuracy drop (with labels), the
    share of changed predictions (with a head) or the mean relative end-state
    distance (with neither)."""
    if problem.y is not None:
        return "accuracy drop", drop_limit
    if problem.head is not None:
        return "changed predictions", drop_limit
    return "end-state distance", state_limit


def compare(
    problem: Problem, metric: str, first: Outcome, second: Outcome, confidence: float
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
    distances = relative_distance(first.states, second.states).numpy()
    return bootstrap_mean_interval(distances, confidence)


def table_row(problem, outcome: Outcome, trained: Outcome, reference: Outcome) -> dict:
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
    distance = relative_distance(outcome.states, reference.states)
    row["state_distance"] = float(distance.mean())
    row["state_distance_median"] = float(distance.median())
    return row


def outcome_table(rows: list[dict]):
    import pandas as pd

    return pd.DataFrame.from_records(rows)


def checked_span(t_span) -> TimeSpan:
    try:
        t0, t1 = (float(t) for t in t_span)
    except (TypeError, ValueError):
        raise NodestudyError(
            f"t_span must be two numbers (t0, t1), as the t you give odeint (got {t_span!r})"
        ) from None
    if t0 == t1:
        raise NodestudyError(f"t_span must be an interval with t0 != t1 (got {t_span!r})")
    return (t0, t1)


def checked_data(x, y, head) -> tuple[Tensor, Tensor | None]:
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


def check_settings(drop_limit, state_limit, confidence, reference_steps, max_reference_steps):
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
