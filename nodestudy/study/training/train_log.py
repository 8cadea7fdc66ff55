"""What a training run records per iteration (solver, evaluations, the adapter's
decisions), in preallocated arrays so that the loop does no I/O."""

from __future__ import annotations

import numpy as np
import pandas as pd


class IterationLog:
    """Per-iteration solver facts, kept in preallocated arrays (no I/O in the loop);
    an adapted run adds the adapter's own history."""

    def __init__(self, iterations: int) -> None:
        self.steps = np.full(iterations, np.nan)
        self.nfe_forward = np.zeros(iterations, dtype=np.int64)
        self.nfe_backward = np.zeros(iterations, dtype=np.int64)
        self.adaptation: pd.DataFrame | None = None

    def record_solve(self, iteration: int, solver, nfe: int, nfe_backward: int) -> None:
        self.nfe_forward[iteration] = nfe
        self.nfe_backward[iteration] = nfe_backward
        if solver.is_fixed_step:
            self.steps[iteration] = solver.steps

    def add_adaptation(self, history: pd.DataFrame | None) -> None:
        """The adapter's history, padded to the run's length if training stopped early."""
        if history is not None and len(history) < len(self.nfe_forward):
            history = history.reindex(range(len(self.nfe_forward)))
            history["nfe_check"] = history["nfe_check"].fillna(0).astype(int)
            history["decision"] = history["decision"].fillna("")
        self.adaptation = history

    @property
    def nfe_check(self) -> np.ndarray:
        if self.adaptation is None or self.adaptation.empty:
            return np.zeros(len(self.nfe_forward), dtype=np.int64)
        return self.adaptation["nfe_check"].to_numpy()

    def frame(self, loss: np.ndarray, batch_accuracy: np.ndarray) -> pd.DataFrame:
        columns = {
            "iteration": np.arange(1, len(loss) + 1),
            "loss": loss,
            "batch_accuracy": batch_accuracy,
            "steps": self.steps,
            "nfe_forward": self.nfe_forward,
            "nfe_backward": self.nfe_backward,
            "nfe_check": self.nfe_check,
        }
        if self.adaptation is not None and not self.adaptation.empty:
            history = self.adaptation
            bound = "step_bound" if "step_bound" in history else "tol_bound"
            columns.update(
                {
                    # the adapter's real-valued step size (or tolerance) after the iteration
                    "adapted_value": history[bound].to_numpy(),
                    "check_train_accuracy": history["train_accuracy"].to_numpy(),
                    "check_test_accuracy": history["test_accuracy"].to_numpy(),
                    "check_difference": history["difference"].to_numpy(),
                    "check_difference_low": history["difference_low"].to_numpy(),
                    "check_difference_high": history["difference_high"].to_numpy(),
                    "check_decision": history["decision"].to_numpy(),
                }
            )
        return pd.DataFrame(columns)

    def nfe_summary(self) -> dict[str, float]:
        """Means per iteration. ``nfe_forward`` is every forward evaluation, the
        adaptation's own checks included; its parts are ``nfe_forward_training``
        (the training solves) and ``nfe_check``."""
        iterations = max(1, len(self.nfe_forward))
        training = float(self.nfe_forward.sum()) / iterations
        check = float(self.nfe_check.sum()) / iterations
        return {
            "nfe_forward": training + check,
            "nfe_forward_training": training,
            "nfe_check": check,
            "nfe_backward": float(self.nfe_backward.sum()) / iterations,
        }
