"""What the step-size and tolerance adapters share (``adapters.py``): the check data,
the judgement of two solvers' answers by the rule's measure and decision, the
``update`` cycle and the history; and :class:`SolverAdapter`, the interface a
training loop relies on."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from ..errors import NodestudyError
from ..scoring import Readout, predict
from ..solvers import SolverSpec, TimeSpan, VectorField
from ..stats import INVALID, VALID, Estimate, decide, paired_difference_interval, wilson_interval
from .rules import StepAdaptation, ToleranceAdaptation

AGREE, DISAGREE, UNCLEAR = "agree", "disagree", "unclear"


class BaseAdapter:
    """What both adapters share: the check data, the judgement and the history."""

    rule: StepAdaptation | ToleranceAdaptation
    method: str
    t_span: TimeSpan

    def __init__(self, probe: tuple[Tensor, Tensor] | None, t_span: TimeSpan) -> None:
        if probe is not None and (len(probe) != 2 or len(probe[0]) != len(probe[1])):
            raise NodestudyError("probe must be a pair (x_probe, y_probe) of equal length")
        self.probe = probe
        self.t_span = (float(t_span[0]), float(t_span[1]))
        self._rows: list[dict[str, Any]] = []

    def _check_probe(self) -> None:
        """A rule that names a probe set's size checks on that set: without one it
        would silently check on the batch instead."""
        size = self.rule.probe_size
        if size is None:
            return
        if self.probe is None:
            raise NodestudyError(
                f"this rule checks on a fixed probe set of {size} points: pass probe=(x_probe, "
                "y_probe), held-out points of the training distribution, or probe_size=None "
                "to check on the training batch"
            )
        if len(self.probe[0]) != size:
            raise NodestudyError(
                f"the rule's probe_size is {size} but the probe set has {len(self.probe[0])} "
                "points; pass probe_size=len(x_probe)"
            )

    @property
    def solver(self) -> SolverSpec:
        raise NotImplementedError

    @property
    def odeint_kwargs(self) -> dict[str, Any]:
        """``method`` and ``options`` (or ``rtol``, ``atol``) for ``torchdiffeq.odeint``."""
        return self.solver.to_torchdiffeq(self.t_span)

    @property
    def history(self) -> pd.DataFrame:
        """One row per :meth:`update`: the iteration, the solver used, the forward
        evaluations of the iteration (``nfe``, its checks included, and its parts
        ``nfe_training`` and ``nfe_check``) and, at checks, what was compared and
        decided."""
        return pd.DataFrame.from_records(self._rows)

    def final_check(self, func: VectorField, x: Tensor, y: Tensor | None = None, **options: Any):
        """:func:`~nodestudy.check_ode` of the model under the solver adaptation ended
        with; ``options`` go to ``check_ode`` (``head``, ``encode``, ``drop_limit``...)."""
        from ..check.procedure import check_ode

        return check_ode(func, x, y, t_span=self.t_span, **self.odeint_kwargs, **options)

    def update(
        self,
        iteration: int,
        func: VectorField,
        x: Tensor,
        y: Tensor,
        head: Readout,
        *,
        encode: Readout | None = None,
        nfe: int | None = None,
    ) -> str:
        """Record the iteration just trained and, every ``check_every`` iterations,
        check and move the step (tolerance). Returns the decision ("shrink", "grow",
        "keep", or "" between checks). ``nfe`` is the training solve's evaluations if
        you count them (the tolerance adapter's patience rule needs them); without it
        the step adapter records its solver's."""
        self._used, self._event = self._current(), ""
        self._observe(nfe)
        check = self._check(func, x, y, head, encode) if self._due(iteration) else {}
        self._record(iteration, self._training_nfe(nfe), check)
        return check.get("decision", "")

    def _observe(self, nfe: int | None) -> None:
        """Per-iteration bookkeeping before a check (none for fixed steps)."""

    def _due(self, iteration: int) -> bool:
        return (iteration + 1) % self.rule.check_every == 0

    def _check_data(self, x: Tensor, y: Tensor, func, encode) -> tuple[Tensor, Tensor]:
        """The check's points and labels, refused in one line when the batch is empty,
        the labels are not integers or the field changes the state's shape."""
        x, y = self.probe if self.probe is not None else (x, y)
        if len(x) == 0 or len(y) != len(x):
            raise NodestudyError(
                f"the check needs a non-empty batch with one label per point (got {len(x)} "
                f"points and {len(y)} labels)"
            )
        if y.is_floating_point():
            raise NodestudyError(
                f"y must hold class labels as integers (got {y.dtype}); pass y.long()"
            )
        with torch.no_grad():
            z = encode(x[:2]) if encode is not None else x[:2]
            dz = func(torch.tensor(self.t_span[0], dtype=z.dtype, device=z.device), z)
        if not isinstance(dz, Tensor) or dz.shape != z.shape:
            shape = tuple(dz.shape) if isinstance(dz, Tensor) else type(dz).__name__
            raise NodestudyError(
                f"func(t, z) must return dz/dt with the shape of z: got {shape} for a state "
                f"of shape {tuple(z.shape)}; check the field's last layer"
            )
        return x, y

    def _predict(self, func, x, solver, head, encode) -> tuple[Tensor, int]:
        predicted, nfe = predict(func, x, solver, head=head, encode=encode, t_span=self.t_span)
        return predicted.reshape(-1), nfe

    def _judge(
        self, first: Tensor, second: Tensor, y: Tensor
    ) -> tuple[str, Estimate, float, float]:
        """Whether two solvers' predictions agree, by the rule's measure and decision;
        the estimate, and the two accuracies."""
        y = y.reshape(-1).cpu()
        first_correct, second_correct = (first == y).numpy(), (second == y).numpy()
        accuracies = float(first_correct.mean()), float(second_correct.mean())
        if self.rule.measure == "accuracy":
            estimate = paired_difference_interval(first_correct, second_correct)
            two_sided = True
        else:
            estimate = wilson_interval(int((first != second).sum()), len(y))
            two_sided = False
        if self.rule.decision == "threshold":
            verdict = DISAGREE if abs(estimate.value) > self.rule.threshold else AGREE
        else:
            outcome = decide(estimate, self.rule.threshold, two_sided=two_sided)
            unproven = UNCLEAR if self.rule.decision == "interval" else DISAGREE
            verdict = {VALID: AGREE, INVALID: DISAGREE}.get(outcome, unproven)
        return verdict, estimate, *accuracies

    def _record(self, iteration: int, nfe_training: float, check: dict[str, Any]) -> None:
        nfe_check = check.get("nfe_check", 0)
        self._rows.append(
            {
                "iteration": iteration,
                **self._solver_columns(),
                "nfe": nfe_training + nfe_check,
                "nfe_training": nfe_training,
                "nfe_check": nfe_check,
                "decision": check.get("decision", "") or self._event,
                "train_accuracy": check.get("train_accuracy", np.nan),
                "test_accuracy": check.get("test_accuracy", np.nan),
                "difference": check.get("difference", np.nan),
                "difference_low": check.get("difference_low", np.nan),
                "difference_high": check.get("difference_high", np.nan),
            }
        )

    def _solver_columns(self) -> dict[str, Any]:
        raise NotImplementedError


def check_columns(
    decision: str, estimate: Estimate, accuracies: tuple[float, float], nfe: int
) -> dict[str, Any]:
    return {
        "decision": decision,
        "train_accuracy": accuracies[0],
        "test_accuracy": accuracies[1],
        "difference": estimate.value,
        "difference_low": estimate.low,
        "difference_high": estimate.high,
        "nfe_check": nfe,
    }


class SolverAdapter(Protocol):
    """What a training loop needs of an adapter: the solver of the next iteration,
    and ``update`` after each step (both adapters above follow it)."""

    method: str
    rule: StepAdaptation | ToleranceAdaptation

    @property
    def solver(self) -> SolverSpec: ...

    @property
    def history(self) -> pd.DataFrame: ...

    def update(
        self,
        iteration: int,
        func: VectorField,
        x: Tensor,
        y: Tensor,
        head: Readout,
        *,
        encode: Readout | None = None,
        nfe: int | None = None,
    ) -> str: ...
