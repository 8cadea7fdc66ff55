"""Training-time solver adaptation for any training loop: :class:`StepSizeAdapter`
(fixed-step solvers) and :class:`ToleranceAdapter` (adaptive ones).

They drop into the textbook torchdiffeq loop::

    adapter = StepSizeAdapter(method="euler")       # rule "flips"; rule="paper": the paper's
    adapter.start(func, x_batch)                    # starting step: Hairer's heuristic
    for iteration, (x, y) in enumerate(batches):
        z = odeint(func, x, t, method=adapter.method, options=adapter.options)[-1]
        loss = cross_entropy(head(z), y); opt.zero_grad(); loss.backward(); opt.step()
        adapter.update(iteration, func, x, y, head)  # checks every check_every iterations

Every ``check_every`` iterations the model's answers on the check points (the batch,
or a fixed probe set) under the training solver are compared with a solver of
smaller error. Disagreement means training has started to exploit the
discretisation: the step (tolerance) shrinks. Agreement tries a larger one, kept only
if the training method still agrees there. ``history`` records every iteration.
nodestudy's own trainer runs the same objects, so its Figure 5 and Table 1 come out
of this code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import NodestudyError
from ..scoring import Readout
from ..solvers import FIXED_STEP_METHODS, SolverSpec, TimeSpan, VectorField
from .base import (
    AGREE,
    DISAGREE,
    UNCLEAR,
    BaseAdapter,
    SolverAdapter,
    check_columns,
)
from .rules import (
    DEFAULT_TEST_METHOD,
    DEFAULT_TEST_TOL_RATIO,
    StepAdaptation,
    ToleranceAdaptation,
    check_step_size,
    grid_steps,
    grown,
    initial_step_size,
    shrunk,
)

#: The step adapter's rule when none is given. On the study's data (Sphere2, digits)
#: and on a textbook model (rings, 3 seeds: ``scripts/adaptation_rules_textbook.py``)
#: the paper's rule ended training at steps that ``check_ode`` finds invalid, because
#: it accepts accuracy differences of 0.1 where a valid model keeps within 0.03;
#: "flips" (a paired interval on the share of changed predictions against 0.03) kept
#: every learned model within it, at several times the paper rule's cost.
DEFAULT_STEP_RULE = "flips"


class StepSizeAdapter(BaseAdapter):
    """Adapts the step of a fixed-step training solver (euler, midpoint, ...).

    ``rule`` (a :class:`StepAdaptation`, or a name: "paper", "flips", ...) sets the
    rule, its fields as keywords override it. The default is :data:`DEFAULT_STEP_RULE`
    ("flips": the paper's test solvers, checks every 50 iterations, halve, grow 1.1,
    at most 500 steps, but deciding by a paired interval on the share of changed
    predictions against 0.03 rather than by an accuracy difference above 0.1, which let
    models end invalid); ``rule="paper"`` is the paper's.
    ``probe`` = (x, y) checks on that fixed set (a few hundred held-out points,
    recommended) instead of the current batch.
    ``steps`` starts at that many steps instead of calling :meth:`start`.
    """

    def __init__(
        self,
        method: str = "euler",
        rule: StepAdaptation | None = None,
        *,
        probe: tuple[Tensor, Tensor] | None = None,
        steps: int | None = None,
        t_span: TimeSpan = (0.0, 1.0),
        **rule_fields: Any,
    ) -> None:
        super().__init__(probe, t_span)
        rule = _rule(StepAdaptation, method, rule, rule_fields, "rk4", probe)
        self.rule, self.method = rule, method
        self._check_probe()
        self.span = abs(self.t_span[1] - self.t_span[0])
        if steps is not None and (
            isinstance(steps, bool)
            or not isinstance(steps, int)
            or not 1 <= steps <= rule.max_steps
        ):
            raise NodestudyError(
                f"steps must be a whole number of steps from 1 to max_steps={rule.max_steps} "
                f"(got {steps!r})"
            )
        #: The controller's real-valued step; the grid's step never exceeds it.
        self.step_size: float | None = None if steps is None else self.span / steps

    def start(
        self, func: VectorField, x_batch: Tensor, *, encode: Readout | None = None
    ) -> StepSizeAdapter:
        """Choose the first step with the standard starting-step heuristic (Hairer,
        Norsett & Wanner) at the initial states of ``x_batch``."""
        with torch.no_grad():
            z0 = encode(x_batch) if encode is not None else x_batch
        order = FIXED_STEP_METHODS[self.method].order
        h = initial_step_size(func, z0, order, self.t_span[0], self.span)
        self.step_size = self.span / grid_steps(h, self.rule.max_steps, self.t_span)
        return self

    @property
    def steps(self) -> int:
        """K, the number of exact steps of the current grid."""
        if self.step_size is None:
            raise NodestudyError(
                "the adapter has no step yet: call adapter.start(func, x_batch) before "
                "training, or pass steps=K"
            )
        return grid_steps(self.step_size, self.rule.max_steps, self.t_span)

    @property
    def solver(self) -> SolverSpec:
        return SolverSpec(self.method, self.steps)

    @property
    def options(self) -> dict[str, float]:
        """``{"step_size": span/K}``: K exact steps in torchdiffeq too."""
        return {"step_size": self.span / self.steps}

    @property
    def test_solver(self) -> SolverSpec:
        h = check_step_size(
            self.span / self.steps,
            FIXED_STEP_METHODS[self.method].order,
            FIXED_STEP_METHODS[self.rule.test_method].order,
            self.rule.error_ratio,
        )
        return SolverSpec(self.rule.test_method, grid_steps(h, 1_000_000, self.t_span))

    def _current(self) -> SolverSpec:
        return self.solver

    def _training_nfe(self, nfe: int | None) -> float:
        return self._used.nfe if nfe is None else nfe

    def _check(self, func, x, y, head, encode) -> dict[str, Any]:
        x, y = self._check_data(x, y, func, encode)
        train, test = self.solver, self.test_solver
        train_pred, nfe = self._predict(func, x, train, head, encode)
        test_pred, test_nfe = self._predict(func, x, test, head, encode)
        nfe += test_nfe
        verdict, estimate, *accuracies = self._judge(train_pred, test_pred, y)
        if verdict == DISAGREE:
            self.step_size = shrunk(self.step_size, self.rule, self.span)
            return check_columns("shrink", estimate, accuracies, nfe)
        if verdict == UNCLEAR:
            return check_columns("keep", estimate, accuracies, nfe)
        larger = grown(self.step_size, self.rule, self.span)
        candidate = SolverSpec(self.method, grid_steps(larger, self.rule.max_steps, self.t_span))
        if candidate == train:  # the same grid: the answer is already known
            candidate_verdict = verdict
        else:
            candidate_pred, candidate_nfe = self._predict(func, x, candidate, head, encode)
            nfe += candidate_nfe
            candidate_verdict, *_ = self._judge(candidate_pred, test_pred, y)
        if candidate_verdict == AGREE:
            self.step_size = larger
            return check_columns("grow", estimate, accuracies, nfe)
        return check_columns("keep", estimate, accuracies, nfe)

    def _solver_columns(self) -> dict[str, Any]:
        return {
            "steps": self._used.steps,
            "step_size": self.span / self._used.steps,
            "step_bound": self.step_size,
        }


class ToleranceAdapter(BaseAdapter):
    """Adapts the tolerance of an adaptive training solver (fehlberg2, dopri5, ...):
    halve it on disagreement, grow it by ``grow`` on agreement. A growth is undone
    when the next check disagrees, or when the training NFE stays where it was for
    ``patience`` iterations (the larger tolerance bought nothing; this needs ``nfe``
    in :meth:`update`). The test solver starts at tol / ratio (5 for fehlberg2, 10
    for dopri5) and is made 10 times stricter until it works harder than the
    training solve. rtol = atol = tol, as in the paper."""

    def __init__(
        self,
        method: str = "fehlberg2",
        rule: ToleranceAdaptation | None = None,
        *,
        probe: tuple[Tensor, Tensor] | None = None,
        tol: float = 1e-6,
        t_span: TimeSpan = (0.0, 1.0),
        **rule_fields: Any,
    ) -> None:
        super().__init__(probe, t_span)
        rule = _rule(ToleranceAdaptation, method, rule, rule_fields, "dopri5")
        SolverSpec(method, tol=tol)  # validates tol
        self.rule, self.method, self.tol = rule, method, tol
        self._check_probe()
        ratio = rule.test_tol_ratio
        self.test_tol_ratio = DEFAULT_TEST_TOL_RATIO.get(method, 10.0) if ratio is None else ratio
        self._before_growth: float | None = None
        self._nfe_before_growth: int | None = None
        self._unchanged = 0
        self._last_nfe: int | None = None

    def start(self, func: VectorField, x_batch: Tensor, **_: Any) -> ToleranceAdapter:
        """Tolerance adaptation starts at ``tol``; kept for symmetry with the step
        adapter."""
        return self

    @property
    def solver(self) -> SolverSpec:
        return SolverSpec(self.method, tol=self.tol)

    @property
    def rtol(self) -> float:
        return self.tol

    @property
    def atol(self) -> float:
        return self.tol

    def _current(self) -> float:
        return self.tol

    def _training_nfe(self, nfe: int | None) -> float:
        return np.nan if nfe is None else nfe

    def _observe(self, nfe: int | None) -> None:
        """The patience rule: undo a growth after which the training NFE stayed put."""
        if nfe is None:
            return
        if self._before_growth is not None and nfe == self._nfe_before_growth:
            self._unchanged += 1
            if self._unchanged >= self.rule.patience:
                self.tol, self._before_growth = self._before_growth, None
                self._event = "undo growth"  # recorded in this iteration's history row
        self._last_nfe = nfe

    def _check(self, func, x, y, head, encode) -> dict[str, Any]:
        x, y = self._check_data(x, y, func, encode)
        train_pred, train_nfe = self._predict(func, x, self.solver, head, encode)
        nfe = train_nfe
        test_tol = self.tol / self.test_tol_ratio
        for _ in range(6):  # lower the test tolerance until the test solver works harder
            test = SolverSpec(self.rule.test_method, tol=test_tol)
            test_pred, test_nfe = self._predict(func, x, test, head, encode)
            nfe += test_nfe
            if test_nfe > train_nfe:
                break
            test_tol /= 10
        verdict, estimate, *accuracies = self._judge(train_pred, test_pred, y)
        if verdict == DISAGREE:
            base = self._before_growth if self._before_growth is not None else self.tol
            self.tol, self._before_growth = base * self.rule.shrink, None
            return check_columns("shrink", estimate, accuracies, nfe)
        if verdict == UNCLEAR:
            return check_columns("keep", estimate, accuracies, nfe)
        self._before_growth, self._nfe_before_growth = self.tol, self._last_nfe
        self._unchanged = 0
        self.tol *= self.rule.grow
        return check_columns("grow", estimate, accuracies, nfe)

    def _solver_columns(self) -> dict[str, Any]:
        return {"tol": self._used, "tol_bound": self.tol}


def _rule(kind, method: str, rule, fields: dict[str, Any], fallback_test: str, probe=None):
    """The rule an adapter applies: ``rule``, or one of ``kind`` built from ``fields``
    (the test method defaulting to the paper's pairing), checked against ``method``.
    Without a rule a step adapter takes :data:`DEFAULT_STEP_RULE`, on the probe set if
    there is one, else on the batch."""
    if rule is None and hasattr(kind, "named"):
        rule = DEFAULT_STEP_RULE
        fields.setdefault("probe_size", None if probe is None else len(probe[0]))
    if isinstance(rule, str):  # a named rule, e.g. "flips", with overrides
        if not hasattr(kind, "named"):
            raise NodestudyError(f"{kind.__name__} has no named rules; pass its fields")
        fields.setdefault("test_method", DEFAULT_TEST_METHOD.get(method, fallback_test))
        rule, fields = kind.named(rule, **fields), {}
    if rule is not None and fields:
        raise NodestudyError("pass either a rule or its fields, not both")
    if rule is None:
        test_method = fields.pop("test_method", DEFAULT_TEST_METHOD.get(method, fallback_test))
        rule = kind(test_method=test_method, **fields)
    rule.check_training_method(method)
    return rule


__all__ = ["SolverAdapter", "StepSizeAdapter", "ToleranceAdapter"]
