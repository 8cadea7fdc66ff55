"""Adapting the training solver during training (the paper's proposal).

Every ``check_every`` iterations the model's accuracy on the current batch is
compared between the training solver and a test solver of smaller error. If they
disagree by more than ``threshold``, training has started to exploit the
discretisation: the step (or tolerance) shrinks. If they agree, a larger step is
tried and kept only if the training solver still agrees there. So training stays
just below the critical step size without a grid search.

The rules (:class:`StepAdaptation`, :class:`ToleranceAdaptation`) are frozen parts of
a :class:`~nodestudy.config.TrainConfig`; their defaults are the paper's constants.
The controllers apply a rule during one training run; the trainer calls them.

From a real step size to a grid: the controller keeps a real-valued h and trains
with K = ceil(1/h) steps of exactly 1/K (never a short last step), so the step used
is at most h. Both h and K are recorded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .config import (
    DEFAULT_TEST_TOL_RATIO,
    Adaptation,
    StepAdaptation,
    ToleranceAdaptation,
    TrainConfig,
)
from .core.errors import NodestudyError
from .core.solvers import FIXED_STEP_METHODS, SolverSpec, VectorField
from .data import EpochBatches, load_dataset
from .evaluate import accuracy_with_nfe
from .models import ODEClassifier, member_generators

# -- the rule's arithmetic --------------------------------------------------------------


def steps_for(step_size: float) -> int:
    """K = ceil(1/h): the fewest exact steps 1/K that are no larger than h."""
    return max(1, math.ceil(1.0 / step_size - 1e-9))


def check_step_size(step_size: float, train_order: int, test_order: int, ratio: float) -> float:
    """The test solver's step, so that its error is about ``ratio`` times smaller.

    The global errors scale as h^p (training) and h_test^q (test), so
    h_test = (h^p / ratio)^(1/q). That is larger than h once h is small (h^(q-p) <
    1/ratio); then h itself already gives an error ``ratio`` times smaller and is used.
    """
    return min(step_size, (step_size**train_order / ratio) ** (1.0 / test_order))


def shrunk(step_size: float, rule: StepAdaptation) -> float:
    """The step after a disagreement: times ``shrink``, but never below 1/max_steps."""
    return max(step_size * rule.shrink, 1.0 / rule.max_steps)


def grown(step_size: float, rule: StepAdaptation) -> float:
    """The step tried after an agreement: times ``grow``, at most the whole interval."""
    return min(step_size * rule.grow, 1.0)


def initial_step_size(field: VectorField, z0: Tensor, order: int) -> float:
    """The standard starting step of ODE solvers (Hairer, Norsett & Wanner, Solving
    ODEs I, p. 169), with mean absolute values as the norm; at most 1 (the whole
    interval)."""
    with torch.no_grad():
        t0 = torch.zeros((), dtype=z0.dtype, device=z0.device)
        f0 = field(t0, z0)
        d0, d1 = z0.abs().mean().item(), f0.abs().mean().item()
        h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
        f1 = field(t0 + h0, z0 + h0 * f0)
        d2 = (f1 - f0).abs().mean().item() / h0
    scale = max(d1, d2)
    h1 = max(1e-6, h0 * 1e-3) if scale <= 1e-15 else (0.01 / scale) ** (1.0 / (order + 1))
    return min(100 * h0, h1, 1.0)


def start_from_heuristic(config: TrainConfig) -> TrainConfig:
    """The config with its starting K chosen by :func:`initial_step_size`.

    The heuristic looks at the state training starts from: the seed's initial
    weights and its first batch. The chosen K is written into the config, so the
    config stays the whole description of the run.
    """
    rule = config.adaptation
    if not isinstance(rule, StepAdaptation):
        raise NodestudyError("start_from_heuristic needs a config with a StepAdaptation rule")
    data = load_dataset(config.data)
    model = ODEClassifier.initialised(
        [config.seed], data.state_shape, config.model.hidden_channels, data.n_classes
    )
    batch_order = member_generators(config.seed)[1]
    first_batch = EpochBatches(len(data.y_train), config.batch_size, [batch_order]).next()
    z0 = model.flatten_inputs(data.x_train[first_batch])
    h = initial_step_size(model.vector_field(), z0, FIXED_STEP_METHODS[config.solver.method].order)
    steps = min(rule.max_steps, steps_for(h))
    return config.replace(solver=SolverSpec(config.solver.method, steps))


# -- controllers ------------------------------------------------------------------------


@dataclass
class Check:
    """What one check saw and decided."""

    train_accuracy: float
    test_accuracy: float
    nfe: int
    decision: str  # "shrink", "grow" or "keep"


class StepSizeController:
    """Applies a :class:`StepAdaptation` during one run; the trainer asks it for the
    solver of each iteration and lets it check every ``rule.check_every`` iterations."""

    def __init__(self, rule: StepAdaptation, method: str, initial_steps: int) -> None:
        rule.check_training_method(method)
        self.rule, self.method = rule, method
        self.step_size = 1.0 / initial_steps

    @property
    def solver(self) -> SolverSpec:
        return SolverSpec(self.method, min(self.rule.max_steps, steps_for(self.step_size)))

    @property
    def test_solver(self) -> SolverSpec:
        h = check_step_size(
            self.solver.step_size,
            FIXED_STEP_METHODS[self.method].order,
            FIXED_STEP_METHODS[self.rule.test_method].order,
            self.rule.error_ratio,
        )
        return SolverSpec(self.rule.test_method, steps_for(h))

    @property
    def tracked_value(self) -> float:
        return self.step_size

    def check(self, model: ODEClassifier, x: Tensor, y: Tensor) -> Check:
        """Compare solvers on a batch (x, y) and move the step size."""
        train, test = self.solver, self.test_solver
        train_accuracy, nfe = _score(model, x, y, train)
        test_accuracy, test_nfe = _score(model, x, y, test)
        nfe += test_nfe
        if abs(train_accuracy - test_accuracy) > self.rule.threshold:
            self.step_size = shrunk(self.step_size, self.rule)
            return Check(train_accuracy, test_accuracy, nfe, "shrink")
        larger = grown(self.step_size, self.rule)
        candidate = SolverSpec(self.method, min(self.rule.max_steps, steps_for(larger)))
        if candidate == train:  # same grid: the answer is already known
            candidate_accuracy = train_accuracy
        else:
            candidate_accuracy, candidate_nfe = _score(model, x, y, candidate)
            nfe += candidate_nfe
        if abs(candidate_accuracy - test_accuracy) <= self.rule.threshold:
            self.step_size = larger
            return Check(train_accuracy, test_accuracy, nfe, "grow")
        return Check(train_accuracy, test_accuracy, nfe, "keep")

    def observe(self, nfe: int) -> None:
        """Fixed-step solvers need no per-iteration bookkeeping."""


class ToleranceController:
    """Applies a :class:`ToleranceAdaptation`: halve the tolerance on disagreement,
    grow it by ``grow`` on agreement. A growth is undone when the next check
    disagrees, or when the training NFE stays where it was for ``patience``
    iterations after it (the larger tolerance bought nothing)."""

    def __init__(self, rule: ToleranceAdaptation, method: str, initial_tol: float) -> None:
        rule.check_training_method(method)
        self.rule, self.method, self.tol = rule, method, initial_tol
        ratio = rule.test_tol_ratio or DEFAULT_TEST_TOL_RATIO.get(method, 10.0)
        self.test_tol_ratio = ratio
        self._before_growth: float | None = None
        self._nfe_before_growth: int | None = None
        self._unchanged = 0
        self._last_nfe: int | None = None

    @property
    def solver(self) -> SolverSpec:
        return SolverSpec(self.method, tol=self.tol)

    @property
    def tracked_value(self) -> float:
        return self.tol

    def observe(self, nfe: int) -> None:
        """Called every iteration with the training solve's NFE."""
        if self._before_growth is not None and nfe == self._nfe_before_growth:
            self._unchanged += 1
            if self._unchanged >= self.rule.patience:
                self.tol, self._before_growth = self._before_growth, None
        self._last_nfe = nfe

    def check(self, model: ODEClassifier, x: Tensor, y: Tensor) -> Check:
        train_accuracy, train_nfe = _score(model, x, y, self.solver)
        nfe = train_nfe
        test_tol = self.tol / self.test_tol_ratio
        for _ in range(6):  # lower the test tolerance until the test solver works harder
            test_accuracy, test_nfe = _score(
                model, x, y, SolverSpec(self.rule.test_method, tol=test_tol)
            )
            nfe += test_nfe
            if test_nfe > train_nfe:
                break
            test_tol /= 10
        if abs(train_accuracy - test_accuracy) > self.rule.threshold:
            base = self._before_growth if self._before_growth is not None else self.tol
            self.tol, self._before_growth = base * self.rule.shrink, None
            return Check(train_accuracy, test_accuracy, nfe, "shrink")
        self._before_growth, self._nfe_before_growth = self.tol, self._last_nfe
        self._unchanged = 0
        self.tol *= self.rule.grow
        return Check(train_accuracy, test_accuracy, nfe, "grow")


Controller = StepSizeController | ToleranceController


def _score(model: ODEClassifier, x: Tensor, y: Tensor, solver: SolverSpec) -> tuple[float, int]:
    scores, nfe = accuracy_with_nfe(model, x, y, solver)
    return scores.item(), nfe


def controller_for(adaptation: Adaptation, solver: SolverSpec) -> Controller:
    """The controller that applies a rule, starting from the config's solver."""
    if isinstance(adaptation, StepAdaptation):
        return StepSizeController(adaptation, solver.method, solver.steps)
    return ToleranceController(adaptation, solver.method, solver.tol)
