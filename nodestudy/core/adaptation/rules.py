"""The rules of training-time solver adaptation (Ott et al., ICLR 2021, Section 5),
as frozen data, and the arithmetic they share.

A rule says how often to check, against which test solver, how to decide and how
far to move. The defaults are the paper's constants. Three settings, orthogonal to
each other, extend the paper's rule; each defaults to the paper's choice:

- ``probe_size``: check on the current training batch (None, the paper) or on a
  fixed probe set (the study holds out that many training points; a user passes the
  probe data to the adapter). A fixed, larger set takes the batch's noise out.
- ``decision``: "threshold" (the paper: disagreement is a difference above
  ``threshold``), "interval" (a paired 95% interval over the check points against
  the limit ``threshold``: shrink when the interval lies beyond it, grow only when the
  larger step's interval lies within it, keep the step when the evidence is unclear;
  that dead band is the hysteresis) or "equivalence" (the same interval, but the
  burden of proof reversed: shrink unless the interval lies within the limit, so the
  step stays where agreement is shown, as ``check_ode`` demands of a valid model).
- ``measure``: "accuracy" (the paper: the difference of accuracies) or
  "predictions" (the share of points whose predicted class differs between the two
  solvers: it needs no labels, and it sees exploitation that changes predictions in
  both directions while the accuracy stays put).

Fields added after the paper's are left out of :meth:`to_dict` at their defaults, so
the cache keys of runs stored before them do not change.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, get_args

import numpy as np
import torch
from torch import Tensor

from ..errors import NodestudyError
from ..solvers import (
    ADAPTIVE_METHODS,
    FIXED_STEP_METHODS,
    TimeSpan,
    VectorField,
    is_exact_torchdiffeq_grid,
)

#: The paper's test solvers: a method of higher order for each training method.
DEFAULT_TEST_METHOD = {
    "euler": "midpoint",
    "midpoint": "rk4",
    "heun2": "rk4",
    "heun3": "rk4",
    "fehlberg2": "dopri5",
    "adaptive_heun": "dopri5",
    "bosh3": "dopri5",
    "dopri5": "dopri5",
    "dopri8": "dopri8",
}
#: Test tolerance = training tolerance / this, before the NFE rule lowers it further.
DEFAULT_TEST_TOL_RATIO = {"fehlberg2": 5.0, "dopri5": 10.0}
Decision = Literal["threshold", "interval", "equivalence"]
RuleMeasure = Literal["accuracy", "predictions"]
DECISIONS: tuple[Decision, ...] = get_args(Decision)
MEASURES: tuple[RuleMeasure, ...] = get_args(RuleMeasure)
#: Named rules: the paper's, and the variants compared in the README.
NAMED_RULES: dict[str, dict[str, Any]] = {
    "paper": {},
    "probe": {"probe_size": 256},
    "paired": {"probe_size": 256, "decision": "interval", "threshold": 0.03},
    "flips": {
        "probe_size": 256,
        "decision": "interval",
        "measure": "predictions",
        "threshold": 0.03,
    },
    "strict": {
        "probe_size": 256,
        "decision": "equivalence",
        "measure": "predictions",
        "threshold": 0.03,
    },
}
_EXTENSIONS = {"probe_size": None, "decision": "threshold", "measure": "accuracy"}


@dataclass(frozen=True, kw_only=True)
class _Rule:
    check_every: int = 50
    threshold: float = 0.1
    shrink: float = 0.5
    grow: float = 1.1
    probe_size: int | None = None
    decision: Decision = "threshold"
    measure: RuleMeasure = "accuracy"

    def _check_common(self) -> None:
        object.__setattr__(self, "check_every", whole(self.check_every, "check_every", 1, 10**9))
        within(self.threshold, "threshold", 0, 1, "in (0, 1)")
        within(self.shrink, "shrink", 0, 1, "in (0, 1)")
        within(self.grow, "grow", 1, MAX_FACTOR, f"in (1, {MAX_FACTOR:g}]", high_open=False)
        if self.decision not in DECISIONS:
            raise NodestudyError(
                f"decision must be one of {', '.join(DECISIONS)} (got {self.decision!r})"
            )
        if self.measure not in MEASURES:
            raise NodestudyError(
                f"measure must be one of {', '.join(MEASURES)} (got {self.measure!r})"
            )
        if self.probe_size is not None and (
            isinstance(self.probe_size, bool)
            or not isinstance(self.probe_size, int)
            or self.probe_size < 1
        ):
            raise NodestudyError(
                f"probe_size must be a whole number of points >= 1, or None to check on the "
                f"current batch (got {self.probe_size!r})"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain data, without the extensions that are at their (the paper's) defaults."""
        values = dataclasses.asdict(self)
        for name, default in _EXTENSIONS.items():
            if values[name] == default:
                del values[name]
        return values


@dataclass(frozen=True, kw_only=True)
class StepAdaptation(_Rule):
    """The step-size rule for fixed-step training solvers (paper defaults)."""

    test_method: str = "midpoint"
    error_ratio: float = 50.0
    max_steps: int = 500
    kind: Literal["step"] = "step"

    def __post_init__(self) -> None:
        if self.test_method not in FIXED_STEP_METHODS:
            raise NodestudyError(
                f"test solver {self.test_method!r} must be fixed-step "
                f"({', '.join(FIXED_STEP_METHODS)})"
            )
        self._check_common()
        within(
            self.error_ratio,
            "error_ratio",
            1,
            MAX_ERROR_RATIO,
            f"in (1, {MAX_ERROR_RATIO:g}] (past it the step would be driven to any grid)",
            high_open=False,
        )
        object.__setattr__(
            self, "max_steps", whole(self.max_steps, "max_steps", 1, MAX_ADAPTED_STEPS)
        )

    @classmethod
    def named(cls, name: str, **overrides: Any) -> StepAdaptation:
        """A named rule (:data:`NAMED_RULES`: paper, probe, paired, flips) with overrides."""
        if name not in NAMED_RULES:
            raise NodestudyError(f"unknown rule {name!r}; choose one of {', '.join(NAMED_RULES)}")
        return cls(**{**NAMED_RULES[name], **overrides})

    def check_training_method(self, method: str) -> None:
        if method not in FIXED_STEP_METHODS:
            raise NodestudyError(
                f"step-size adaptation needs a fixed-step training solver, not {method!r}; "
                "use ToleranceAdaptation (--adapt with --tol) for adaptive solvers"
            )
        if FIXED_STEP_METHODS[self.test_method].order <= FIXED_STEP_METHODS[method].order:
            raise NodestudyError(
                f"the test solver must have a higher order than the training solver: "
                f"{self.test_method!r} (order {FIXED_STEP_METHODS[self.test_method].order}) "
                f"does not beat {method!r} (order {FIXED_STEP_METHODS[method].order})"
            )


@dataclass(frozen=True, kw_only=True)
class ToleranceAdaptation(_Rule):
    """The tolerance rule for adaptive training solvers (paper defaults).

    ``test_tol_ratio`` None takes the paper's: 5 for fehlberg2, 10 for dopri5.
    """

    test_method: str = "dopri5"
    test_tol_ratio: float | None = None
    patience: int = 5
    kind: Literal["tolerance"] = "tolerance"

    def __post_init__(self) -> None:
        if self.test_method not in ADAPTIVE_METHODS:
            raise NodestudyError(
                f"tolerance adaptation needs an adaptive test solver "
                f"({', '.join(ADAPTIVE_METHODS)}), not {self.test_method!r}"
            )
        self._check_common()
        if self.test_tol_ratio is not None:
            within(
                self.test_tol_ratio,
                "test_tol_ratio",
                1,
                MAX_FACTOR,
                f"in (1, {MAX_FACTOR:g}], so the test solver is stricter",
                high_open=False,
            )
        object.__setattr__(self, "patience", whole(self.patience, "patience", 1, 10**9))

    def check_training_method(self, method: str) -> None:
        if method not in ADAPTIVE_METHODS:
            raise NodestudyError(
                f"tolerance adaptation needs an adaptive training solver "
                f"({', '.join(ADAPTIVE_METHODS)}), not {method!r}"
            )


Adaptation = StepAdaptation | ToleranceAdaptation

#: Bounds on a rule's numbers: past them one update could start unbounded work (a step
#: count the adapter cannot solve, a ratio that drives the step to any grid).
MAX_FACTOR = 1e3
MAX_ERROR_RATIO = 1e4
MAX_ADAPTED_STEPS = 2**17


def within(
    value: Any, name: str, low: float, high: float, says: str, *, high_open: bool = True
) -> None:
    """A finite real number in (low, high) (or (low, high]); else one line."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    inside = (
        number
        and math.isfinite(value)
        and low < value
        and (value < high if high_open else value <= high)
    )
    if not inside:
        raise NodestudyError(f"{name} must be a number {says} (got {value!r})")


def whole(value: Any, name: str, low: int, high: int) -> int:
    """A whole number in [low, high] (numpy's integers too), as an int; else one line."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise NodestudyError(f"{name} must be a whole number (got {value!r})")
    if not low <= value <= high:
        raise NodestudyError(f"{name} must lie between {low:,} and {high:,} (got {value:,})")
    return int(value)


def adaptation_from_dict(raw: dict | None) -> Adaptation | None:
    if raw is None:
        return None
    kinds = {"step": StepAdaptation, "tolerance": ToleranceAdaptation}
    return kinds[raw["kind"]](**raw)


# -- the rule's arithmetic --------------------------------------------------------------


def steps_for(step_size: float, span: float = 1.0) -> int:
    """K = ceil(span/h): the fewest exact steps that are no larger than h."""
    return max(1, math.ceil(abs(span) / step_size - 1e-9))


@lru_cache(maxsize=4096)
def grid_steps(step_size: float, max_steps: int, t_span: TimeSpan = (0.0, 1.0)) -> int:
    """The step count a step size trains with: K = ceil(span/h), at most ``max_steps``,
    moved up to the next K for which torchdiffeq's ``step_size = span/K`` gives exactly K
    equal steps in float32 and float64 (it adds a sliver step for about 6% of K), so
    that the same options mean the same solve in nodestudy and in torchdiffeq."""
    steps = min(max_steps, steps_for(step_size, t_span[1] - t_span[0]))
    while not all(
        is_exact_torchdiffeq_grid(steps, t_span, d) for d in (torch.float32, torch.float64)
    ):
        steps += 1
    return steps


def check_step_size(step_size: float, train_order: int, test_order: int, ratio: float) -> float:
    """The test solver's step, so that its error is about ``ratio`` times smaller.

    The global errors scale as h^p (training) and h_test^q (test), so
    h_test = (h^p / ratio)^(1/q). That is larger than h once h is small (h^(q-p) <
    1/ratio); then h itself already gives an error ``ratio`` times smaller and is used.
    """
    return min(step_size, (step_size**train_order / ratio) ** (1.0 / test_order))


def shrunk(step_size: float, rule: StepAdaptation, span: float = 1.0) -> float:
    """The step after a disagreement: times ``shrink``, but never below span/max_steps."""
    return max(step_size * rule.shrink, abs(span) / rule.max_steps)


def grown(step_size: float, rule: StepAdaptation, span: float = 1.0) -> float:
    """The step tried after an agreement: times ``grow``, at most the whole interval."""
    return min(step_size * rule.grow, abs(span))


def initial_step_size(
    func: VectorField, z0: Tensor, order: int, t0: float = 0.0, span: float = 1.0
) -> float:
    """The standard starting step of ODE solvers (Hairer, Norsett & Wanner, Solving
    ODEs I, p. 169), with mean absolute values as the norm; at most the interval."""
    with torch.no_grad():
        t = torch.tensor(t0, dtype=z0.dtype, device=z0.device)
        f0 = func(t, z0)
        d0, d1 = z0.abs().mean().item(), f0.abs().mean().item()
        h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
        f1 = func(t + h0, z0 + h0 * f0)
        d2 = (f1 - f0).abs().mean().item() / h0
    scale = max(d1, d2)
    h1 = max(1e-6, h0 * 1e-3) if scale <= 1e-15 else (0.01 / scale) ** (1.0 / (order + 1))
    return min(100 * h0, h1, abs(span))
