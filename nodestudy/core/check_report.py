"""The result of :func:`nodestudy.check_ode`: a verdict, the reasons for it in plain
words, a tidy table (one row per solver), JSON, text and a figure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .jsonsafe import json_safe
from .preflight import NOTE, OK, Finding
from .solvers import SolverSpec, TimeSpan
from .stats import INCONCLUSIVE, INVALID, VALID, Estimate


@dataclass(frozen=True, eq=False)
class OdeCheck:
    """What :func:`~nodestudy.check_ode` found.

    ``verdict`` is "valid", "invalid" or "inconclusive"; ``reasons`` say why.
    ``estimate`` is the difference between the training solver and the reference by
    ``metric`` (with its interval) and ``limit`` the difference that matters.
    ``safe_solver`` is the coarsest step (loosest tolerance) of the training method
    that still agrees with the reference. ``table`` has one row per solver tried.
    """

    verdict: str
    reasons: tuple[str, ...]
    metric: str
    estimate: Estimate
    limit: float
    training: SolverSpec
    reference: SolverSpec
    reference_check: SolverSpec
    reference_converged: bool
    safe_solver: SolverSpec | None
    observed_order: float | None
    crossings: dict[str, int] | None
    preflight: tuple[Finding, ...]
    table: pd.DataFrame
    n_points: int
    t_span: TimeSpan
    seconds: float

    @property
    def safe_steps(self) -> int | None:
        """K of :attr:`safe_solver` for a fixed-step training method, else None."""
        return self.safe_solver.steps if self.safe_solver is not None else None

    def row(self, role: str) -> dict[str, Any]:
        """The table's (first) row of a role: "training", "reference", ..."""
        return self.table[self.table.role == role].iloc[0].to_dict()

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-ready data (NaN becomes null)."""
        return json_safe(
            {
                "verdict": self.verdict,
                "reasons": list(self.reasons),
                "metric": self.metric,
                "estimate": self.estimate.to_dict(),
                "limit": self.limit,
                "training": self.training.to_dict(),
                "reference": self.reference.to_dict(),
                "reference_check": self.reference_check.to_dict(),
                "reference_converged": self.reference_converged,
                "safe_solver": None if self.safe_solver is None else self.safe_solver.to_dict(),
                "safe_steps": self.safe_steps,
                "observed_order": self.observed_order,
                "crossings": self.crossings,
                "preflight": [finding.to_dict() for finding in self.preflight],
                "n_points": self.n_points,
                "t_span": list(self.t_span),
                "seconds": self.seconds,
                "table": self.table.to_dict(orient="records"),
            }
        )

    def plot(self, ax=None, name: str | None = None):
        """A figure a reviewer reads without the code (see ``check_plot.py``); with
        ``ax`` (two axes), a row of a larger figure titled with ``name``."""
        from .check_plot import plot_check

        return plot_check(self, ax=ax, name=name)

    def __str__(self) -> str:
        head = (
            f"OdeCheck: {self.verdict.upper()} - {self.training.label()} against "
            f"{self.reference.label()} on {self.n_points} points ({self.seconds:.1f} s)"
        )
        return "\n".join([head, *(f"  - {reason}" for reason in self.reasons)])

    __repr__ = __str__


def reasons_for(check: OdeCheck) -> list[str]:
    """The verdict and what supports it, in plain words."""
    reasons = [_verdict_reason(check)]
    if not check.reference_converged:
        reasons.append(_unconverged_reason(check))
    reasons += [f.message for f in check.preflight if f.status not in (OK, NOTE)]
    reasons += [f.message for f in check.preflight if f.status == NOTE]
    reasons.append(_safe_reason(check))
    if check.crossings is not None:
        c = check.crossings
        reasons.append(
            f"{c['training']} of {c['pairs']} pairs of trajectories cross under the training "
            f"solver, against {c['reference']} under a converged solve "
            f"({check.reference_check.label()}; nearly touching orbits can register there); "
            "orbits of an autonomous ODE never cross"
        )
    if check.observed_order is not None:
        reasons.append(
            f"end states converge at an observed order of {check.observed_order:.2f} (the "
            f"method's order is {check.training.order}); ReLU fields often show less, and "
            "this is not part of the verdict"
        )
    return reasons


def _verdict_reason(check: OdeCheck) -> str:
    e, limit = check.estimate, check.limit
    interval = f"{e.confidence:.0%} interval {e.low:.3f} to {e.high:.3f}"
    if math.isnan(e.value):
        return "the training solver or the reference gave non-finite end states; no verdict"
    trained, reference = check.row("training"), check.row("reference")
    where = f"the converged reference ({check.reference.label()})"
    if check.metric == "accuracy drop":
        finding = (
            f"under its training solver ({check.training.label()}) the model scores "
            f"{trained['accuracy']:.3f} and under {where} {reference['accuracy']:.3f}: "
            f"a drop of {e.value:.3f} ({interval})"
        )
        bound = f"±{limit:g}"
    elif check.metric == "changed predictions":
        finding = (
            f"{e.value:.1%} of predictions change from the training solver "
            f"({check.training.label()}) to {where} ({interval})"
        )
        bound = f"{limit:g}"
    else:
        finding = (
            f"end states under the training solver ({check.training.label()}) lie a mean "
            f"relative distance of {e.value:.3g} from {where} ({interval})"
        )
        bound = f"{limit:g}"
    if check.verdict == VALID:
        return f"{finding}; that is within {bound}: the model behaves as an ODE flow"
    if check.verdict == INVALID:
        return (
            f"{finding}; that is beyond {bound}: the model's answers depend on the solver, "
            "so at its training step it is not an ODE flow (it exploits the discretisation)"
        )
    if not check.reference_converged or any(f.status == "problem" for f in check.preflight):
        return f"{finding}; the verdict is inconclusive for the reasons below"
    return f"{finding}; the interval straddles the {bound} limit: more points would decide"


def _unconverged_reason(check: OdeCheck) -> str:
    row = check.row("reference check")
    if "differs_from_reference" in row and not math.isnan(row["differs_from_reference"]):
        gap = f"{row['differs_from_reference']:.1%} of their predictions differ"
    elif "state_distance" in row and not math.isnan(row.get("state_distance", math.nan)):
        gap = f"their end states differ by {row['state_distance']:.3g} (relative)"
    else:
        gap = "one of them failed"
    return (
        f"the reference did not converge: {check.reference_check.label()} and "
        f"{check.reference.label()} disagree ({gap}); raise max_reference_steps, or the "
        "field is too stiff for a fixed-step reference"
    )


def _safe_reason(check: OdeCheck) -> str:
    method = check.training.method
    if check.training.is_fixed_step:
        k = check.training.steps
        if check.safe_solver is None:
            return f"no {method} step count tried (up to {8 * k}) agrees with the reference"
        safe = check.safe_solver.steps
        relation = (
            "the training step"
            if safe == k
            else (
                f"coarser than the training K={k}" if safe < k else f"finer than the training K={k}"
            )
        )
        return (
            f"the coarsest {method} grid that agrees with the reference has K={safe} steps "
            f"({relation})"
        )
    if check.safe_solver is None:
        return f"no {method} tolerance tried agrees with the reference"
    return (
        f"the loosest {method} tolerance that agrees with the reference is "
        f"{check.safe_solver.label()}"
    )


__all__ = ["INCONCLUSIVE", "INVALID", "VALID", "OdeCheck", "reasons_for"]
