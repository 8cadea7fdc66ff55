"""The verdict of :func:`~nodestudy.check_ode`, decided once.

The paper's question: does any solver of equal or smaller error than the training
solver change the model's answers by more than matters in practice? Each such solver
(the training method at finer steps or tighter tolerances, methods of higher order,
an adaptive solver, the verified reference) is one comparison with the training
solver on the same points, with its own paired interval; the end states under the
training solver are compared with the reference's too, since predictions that agree
while the states lie far from the ODE's solution are no ODE solve.

- **invalid**: some comparison lies beyond its limit, with Holm's correction over all
  of them (the family's error rate is at most (1 - confidence) / 2 per side);
- **valid**: every comparison's interval lies within its limit and the reference is
  verified converged (each must hold, so no correction is needed);
- **inconclusive**: neither, or the model breaks the ODE contract (pre-flight).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..solvers import SolverSpec
from ..stats import INCONCLUSIVE, INVALID, VALID, Estimate, decide, holm, one_sided_p
from .compare import distance_interval, interval_of
from .outcomes import Measure, Outcome, Problem, Role


@dataclass(frozen=True)
class Comparison:
    """The training solver against one solver of equal or smaller error."""

    role: Role
    solver: SolverSpec
    measure: Measure
    estimate: Estimate
    limit: float
    p_value: float
    beyond: bool = False  # beyond the limit, Holm-corrected

    @property
    def within(self) -> bool:
        """The interval lies within the limit: :func:`~nodestudy.core.stats.decide`, the
        one decision the study's per-seed verdicts take too."""
        return decide(self.estimate, self.limit, two_sided=self.measure.two_sided) == VALID

    def to_dict(self) -> dict:
        return {
            "role": self.role.value,
            "solver": self.solver.label(),
            "measure": self.measure.value,
            "estimate": self.estimate.to_dict(),
            "limit": self.limit,
            "p_value": self.p_value,
            "beyond": self.beyond,
            "within": self.within,
        }


def comparisons(
    problem: Problem,
    outcomes: list[Outcome],
    converged: bool,
    limits: dict[Measure, float],
    confidence: float,
) -> tuple[Comparison, ...]:
    """Every deciding comparison, with its interval at ``confidence`` and whether it
    lies beyond its limit after Holm's correction. Solvers that raised are left out
    (their error is in the table); the reference only enters once it is verified."""
    trained, reference = outcomes[0], outcomes[-1]
    family = []
    for outcome in outcomes[1:]:
        if not outcome.role.deciding or outcome.failed:
            continue
        if outcome.role is Role.REFERENCE and not converged:
            continue
        family.append((outcome, problem.measure, interval_of(problem, trained, outcome)))
    if problem.measure is not Measure.DISTANCE and converged and not reference.failed:
        family.append((reference, Measure.DISTANCE, distance_interval(problem, trained, reference)))
    found = []
    for outcome, measure, interval_at in family:
        limit = limits[measure]
        p = one_sided_p(interval_at, limit, two_sided=measure.two_sided)
        found.append(
            Comparison(outcome.role, outcome.solver, measure, interval_at(confidence), limit, p)
        )
    rejected = holm([c.p_value for c in found], (1 - confidence) / 2)
    return tuple(Comparison(**{**c.__dict__, "beyond": flag}) for c, flag in zip(found, rejected))


def verdict_of(family: tuple[Comparison, ...], converged: bool, usable: bool) -> str:
    """The rule above. ``usable``: the training solve is finite and the pre-flight found
    no problem."""
    if not usable or not family:
        return INCONCLUSIVE
    if any(c.beyond for c in family):
        return INVALID
    if converged and all(c.within for c in family):
        return VALID
    return INCONCLUSIVE


def deciding(family: tuple[Comparison, ...], verdict: str, measure: Measure) -> Comparison | None:
    """The comparison that says most about the verdict: for "invalid" the one most
    confidently beyond its limit (among equals one of the verdict's own measure, then
    the reference, then the largest change), else the one closest to leaving it."""
    if not family:
        return None
    if verdict == INVALID:
        return min(
            (c for c in family if c.beyond),
            key=lambda c: (
                c.p_value,
                c.measure is not measure,
                c.role is not Role.REFERENCE,
                -c.estimate.value / c.limit,
            ),
        )
    outside = [c for c in family if not c.within]
    if outside:
        return min(outside, key=lambda c: c.p_value)
    return max(family, key=lambda c: max(abs(c.estimate.low), abs(c.estimate.high)) / c.limit)
