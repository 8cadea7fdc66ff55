"""The result of :func:`nodestudy.check_ode`: a verdict, the reasons for it in plain
words, a tidy table (one row per solver), JSON, text and a figure."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..errors import NodestudyError
from ..jsonsafe import json_safe
from ..solvers import SolverSpec, TimeSpan
from ..stats import INCONCLUSIVE, INVALID, VALID, Estimate
from .decision import Comparison, deciding
from .outcomes import Measure, Role
from .preflight import NOTE, OK, Finding


class WholeTable(pd.DataFrame):
    """A table that prints whole: every row and column, however wide."""

    @property
    def _constructor(self):
        return WholeTable

    def __repr__(self) -> str:
        return self.to_string()


def whole_table(rows: list[dict]) -> WholeTable:
    return WholeTable.from_records(rows)


@dataclass(frozen=True, eq=False)
class OdeCheck:
    """What :func:`~nodestudy.check_ode` found.

    ``verdict`` is "valid", "invalid" or "inconclusive"; ``reasons`` say why.
    ``comparisons`` are the deciding comparisons of the training solver with each
    solver of equal or smaller error (``decision.py`` states the rule).
    ``estimate`` is the difference between the training solver and the reference by
    ``measure`` (with its interval) and ``limit`` the difference that matters.
    ``safe_solver`` is the coarsest step (loosest tolerance) of the training method
    that still agrees with the reference. ``table`` has one row per solver tried.
    """

    verdict: str
    reasons: tuple[str, ...]
    measure: Measure
    estimate: Estimate
    limit: float
    comparisons: tuple[Comparison, ...]
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
                "measure": self.measure.value,
                "estimate": self.estimate.to_dict(),
                "limit": self.limit,
                "comparisons": [c.to_dict() for c in self.comparisons],
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
        """A figure a reviewer reads without the code (see ``plot.py``); with
        ``ax`` (two axes), a row of a larger figure titled with ``name``."""
        try:
            from .plot import plot_check
        except ModuleNotFoundError as missing:
            raise NodestudyError(
                f"check.plot() needs matplotlib ({missing}): pip install 'nodestudy[plot]'"
            ) from None

        return plot_check(self, ax=ax, name=name)

    def __str__(self) -> str:
        head = (
            f"OdeCheck: {self.verdict.upper()} - {self.training.label()} against "
            f"{self.reference.label()} on {self.n_points} points ({self.seconds:.1f} s)"
        )
        return "\n".join([head, *(f"  - {reason}" for reason in self.reasons)])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        """The verdict, its reasons and the table, for a notebook."""
        colour = {VALID: "#1a7f37", INVALID: "#c62828"}.get(self.verdict, "#8a6d00")
        head = html.escape(str(self).splitlines()[0].removeprefix("OdeCheck: "))
        reasons = "".join(f"<li>{html.escape(r)}</li>" for r in self.reasons)
        return (
            f'<div><p style="color:{colour};font-weight:bold">{head}</p><ul>{reasons}</ul>'
            f"{pd.DataFrame(self.table).to_html(index=False, na_rep='', float_format=_g)}</div>"
        )


def _g(value: float) -> str:
    return f"{value:.4g}"


def reasons_for(check: OdeCheck) -> list[str]:
    """The verdict and what supports it, in plain words."""
    reasons = [_verdict_reason(check)]
    if not check.reference_converged:
        reasons.append(_unconverged_reason(check))
    reasons += [f.message for f in check.preflight if f.status not in (OK, NOTE)]
    reasons += [f.message for f in check.preflight if f.status == NOTE]
    failed = check.table[check.table.error.notna()] if "error" in check.table else []
    for _, row in getattr(failed, "iterrows", lambda: [])():
        reasons.append(
            f"{row['method']} ({row['role']}) could not be solved ({row['error']}); it is not "
            "part of the verdict"
        )
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
    """The verdict, the comparison that decides it and, for a classifier, its
    accuracies."""
    headline = _headline(check)
    c = deciding(check.comparisons, check.verdict, check.measure)
    if c is None:
        return f"{headline or 'no solver of equal or smaller error could be compared'}; no verdict"
    lead = f"{headline}; " if headline else ""
    change, bound = _change(check, c), _bound(c)
    beyond = [x for x in check.comparisons if x.beyond]
    if check.verdict == INVALID:
        if c.measure is not check.measure:  # only the end states are beyond
            return (
                f"{lead}{change}, beyond {bound}: the answers stay within their limits, but "
                "the training solve lies far from the ODE's solution, so at its training step "
                "it is not an ODE flow"
            )
        flagged = ", ".join(_label(check, x) for x in beyond)
        return (
            f"{lead}{change}, beyond {bound}; {len(beyond)} of {len(check.comparisons)} "
            f"comparisons with solvers of equal or smaller error lie beyond their limits "
            f"(Holm-corrected; {flagged}): the model's answers depend on the solver, so at its "
            "training step it is not an ODE flow (it exploits the discretisation)"
        )
    if check.verdict == VALID:
        return (
            f"{lead}under all {len(check.comparisons)} comparisons with solvers of equal or "
            f"smaller error the answer stays within its limit (the closest: {change}): the "
            "model behaves as an ODE flow"
        )
    if not check.reference_converged or any(f.status == "problem" for f in check.preflight):
        return f"{lead}{change}; the verdict is inconclusive for the reasons below"
    return f"{lead}{change}: the interval straddles the {bound} limit; more points would decide"


def _headline(check: OdeCheck) -> str:
    """The model's score under its training solver and under the reference."""
    if check.measure not in (Measure.ACCURACY, Measure.LOSS):
        return ""
    trained, reference = check.row(Role.TRAINING), check.row(Role.REFERENCE)
    column = "accuracy" if check.measure is Measure.ACCURACY else "loss"
    own, ref = trained.get(column, math.nan), reference.get(column, math.nan)
    if not (math.isfinite(own) or math.isfinite(ref)):
        return ""
    verb = "scores" if column == "accuracy" else "has a mean loss of"
    return (
        f"under its training solver ({check.training.label()}) the model {verb} {own:.4g} "
        f"and under the converged reference ({check.reference.label()}) {ref:.4g}"
    )


def _change(check: OdeCheck, c: Comparison) -> str:
    """How the answer changes from the training solver to the comparison's solver."""
    e = c.estimate
    interval = f"{e.confidence:.0%} interval {e.low:.3g} to {e.high:.3g}"
    to = f"{c.solver.label()} ({c.role})"
    if c.measure is Measure.ACCURACY:
        text = f"the accuracy drops by {e.value:.3f} under {to} ({interval})"
    elif c.measure is Measure.CHANGED:
        text = f"{e.value:.1%} of predictions change under {to} ({interval})"
    elif c.measure is Measure.LOSS:
        own = check.row(Role.TRAINING).get("loss", math.nan)
        share = (
            f", {e.value / abs(own):.0%} of its own {own:.3g}" if own and math.isfinite(own) else ""
        )
        text = f"the mean loss rises by {e.value:.3g}{share} under {to} ({interval})"
    else:
        text = (
            f"end states under the training solver lie a mean {e.value:.3g} state spreads "
            f"from those under {to} ({interval})"
        )
    rows = check.table[(check.table.role == c.role) & (check.table.method == c.solver.method)]
    blown = rows["finite"].min() if "finite" in rows and len(rows) else 1.0
    if blown < 1:
        text += (
            f"; {1 - blown:.1%} of points blow up under it (non-finite even in float64 where "
            "solved again) while the training solver stays finite"
        )
    return text


def _label(check: OdeCheck, c: Comparison) -> str:
    states = c.measure is Measure.DISTANCE and check.measure is not Measure.DISTANCE
    return f"{c.solver.label()}{' (end states)' if states else ''}"


def _bound(c: Comparison) -> str:
    return f"±{c.limit:g}" if c.measure.two_sided else f"{c.limit:g}"


def _unconverged_reason(check: OdeCheck) -> str:
    row = check.row(Role.REFERENCE_CHECK)
    if "differs_from_reference" in row and not math.isnan(row["differs_from_reference"]):
        gap = f"{row['differs_from_reference']:.1%} of their predictions differ"
    elif "state_distance" in row and math.isfinite(row.get("state_distance", math.nan)):
        gap = f"their states lie {row['state_distance']:.3g} state spreads apart"
    elif "state_distance" in row:
        gap = "one blows up where the other does not"
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
