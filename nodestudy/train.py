"""Training: Adam on cross-entropy, gradients by backpropagation through the solver.

:func:`train_ensemble` trains several seeds of one configuration at once (see
``models.py`` for why this gives each seed exactly its solo result). The seed fixes
the initial weights and the batch order; the data set is fixed by its own config.
A config with an ``adaptation`` rule trains alone; the core's adapter
(``core/adapters.py``, the same object a user puts in a torchdiffeq loop) chooses the
solver of every iteration.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .adapt import adapter_for, probe_split
from .config import TrainConfig
from .core.errors import NodestudyError
from .core.integrate import AdjointSolution, Solution, solve, solve_adjoint
from .data import EpochBatches, load_dataset
from .evaluate import accuracy
from .models import ODEClassifier, member_generators
from .runs import TrainedMember

#: How often (in iterations) the loss is checked for NaN; checking every iteration
#: would force a host sync on accelerators.
DIVERGENCE_CHECK_EVERY = 50
#: Weights are kept at this many evenly spaced iterations (for plots over training).
SNAPSHOTS = 20


def check_ensemble(configs: Sequence[TrainConfig]) -> None:
    """Seeds train together only if nothing but the seed differs."""
    if not configs:
        raise NodestudyError("no configs to train")
    reference = configs[0].without_seed()
    if any(config.without_seed() != reference for config in configs):
        raise NodestudyError("configs trained as one ensemble may differ only in their seed")
    if len({config.seed for config in configs}) != len(configs):
        raise NodestudyError("configs trained as one ensemble need distinct seeds")
    if len(configs) > 1 and not trains_as_ensemble(reference):
        raise NodestudyError(
            "adaptive solvers and adapted step sizes choose one solver per run, so their "
            "seeds must be trained one at a time"
        )


def trains_as_ensemble(config: TrainConfig) -> bool:
    """Whether seeds of this config can share one batched solve."""
    return config.solver.is_fixed_step and config.adaptation is None


def snapshot_iterations(iterations: int, count: int = SNAPSHOTS) -> list[int]:
    """Evenly spaced iterations (1-based) at which weights are kept; the last included."""
    return sorted({round(i * iterations / count) for i in range(1, count + 1)} - {0})


def train_ensemble(
    configs: Sequence[TrainConfig],
    *,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> list[TrainedMember]:
    """Train the configs (equal but for the seed) together; one result per config."""
    check_ensemble(configs)
    config = configs[0]
    seeds = [c.seed for c in configs]
    data = load_dataset(config.data)
    probe_size = config.adaptation.probe_size if config.adaptation else None
    train_index, probe_index = probe_split(len(data.y_train), probe_size, seeds[0])
    x_train = data.x_train[train_index].to(device)
    y_train = data.y_train[train_index].to(device)
    model = ODEClassifier.initialised(
        seeds, data.state_shape, config.model.hidden_channels, data.n_classes
    ).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    batches = EpochBatches(
        len(y_train), config.batch_size, [member_generators(s)[1] for s in seeds]
    )
    adapter = None
    if config.adaptation is not None:
        probe = None
        if probe_index is not None:
            probe = (data.x_train[probe_index].to(device), data.y_train[probe_index].to(device))
        adapter = adapter_for(config, probe)
    integrate = solve_adjoint if config.gradient == "adjoint" else solve

    iterations = config.iterations
    losses = torch.zeros(iterations, len(seeds), device=device)
    batch_accuracy = torch.zeros(iterations, len(seeds), device=device)
    log = _IterationLog(iterations)
    snapshot_at = set(snapshot_iterations(iterations))
    snapshots: dict[int, list[dict[str, torch.Tensor]]] = {}
    diverged_at: list[int | None] = [None] * len(seeds)
    failure: tuple[int, str] | None = None  # an adaptive solve that could not go on

    label = f"{config.data.short_name} {config.solver.label()} seeds={seeds}"
    if adapter is not None:
        label += " adapted"
    started = time.perf_counter()
    for iteration in tqdm(range(iterations), desc=label, disable=not progress, mininterval=2):
        solver = adapter.solver if adapter is not None else config.solver
        index = batches.next().to(device)
        x, y = x_train[index], y_train[index]
        try:
            solution = integrate(model.vector_field(), model.flatten_inputs(x), solver)
        except (AssertionError, RuntimeError) as error:  # torchdiffeq: step underflow, ...
            if solver.is_fixed_step:
                raise
            failure = (iteration + 1, f"{solver.label()} failed: {_first_line(error)}")
            losses[iteration:] = float("nan")
            batch_accuracy[iteration:] = float("nan")
            break
        logits = model.classify(solution.final)
        member_loss = F.cross_entropy(logits.transpose(1, 2), y, reduction="none").mean(dim=1)
        optimiser.zero_grad(set_to_none=True)
        member_loss.sum().backward()
        optimiser.step()

        losses[iteration] = member_loss.detach()
        batch_accuracy[iteration] = (logits.detach().argmax(-1) == y).float().mean(dim=1)
        log.record_solve(iteration, solver, solution.nfe, _backward_nfe(solution))
        if adapter is not None:
            adapter.update(
                iteration,
                _CurrentField(model),
                x[0],
                y[0],
                model.classify,
                encode=model.flatten_inputs,
                nfe=solution.nfe,
            )
        if iteration + 1 in snapshot_at:
            snapshots[iteration + 1] = [model.member_state(m) for m in range(len(seeds))]
        if (iteration + 1) % DIVERGENCE_CHECK_EVERY == 0 or iteration + 1 == iterations:
            _note_divergence(losses, iteration, diverged_at)
    seconds = time.perf_counter() - started

    final_solver = adapter.solver if adapter is not None else config.solver
    log.add_adaptation(adapter.history if adapter is not None else None)
    if failure is not None:
        diverged_at = [failure[0]] * len(seeds)
    reasons = [
        None if at is None else (failure[1] if failure is not None else "non-finite loss")
        for at in diverged_at
    ]
    if all(at is not None for at in diverged_at):
        train_scores = test_scores = torch.full((len(seeds),), float("nan"))
    else:
        train_scores = accuracy(model, data.x_train, data.y_train, final_solver)
        test_scores = accuracy(model, data.x_test, data.y_test, final_solver)
    losses_np, batch_accuracy_np = losses.cpu().numpy(), batch_accuracy.cpu().numpy()
    members = []
    for member, member_config in enumerate(configs):
        diverged = diverged_at[member] is not None
        history = log.frame(losses_np[:, member], batch_accuracy_np[:, member])
        metrics = {
            "train_accuracy": float("nan") if diverged else float(train_scores[member]),
            "test_accuracy": float("nan") if diverged else float(test_scores[member]),
            "final_loss": float(losses_np[-1, member]) if iterations else float("nan"),
            **log.nfe_summary(),
            "final_steps": final_solver.steps,
            "final_step_size": final_solver.step_size if final_solver.is_fixed_step else None,
            "final_tol": final_solver.tol,
            "diverged": diverged,
            "diverged_at_iteration": diverged_at[member],
            "diverged_reason": reasons[member],
            "train_seconds": seconds / len(seeds),
            "ensemble_size": len(seeds),
            "device": str(device),
            "torch_version": torch.__version__,
        }
        members.append(
            TrainedMember(
                config=member_config,
                weights=model.member_state(member),
                history=history,
                metrics=metrics,
                snapshots={it: states[member] for it, states in snapshots.items()},
            )
        )
    return members


class _IterationLog:
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


class _CurrentField:
    """The model's vector field at its current weights, built when first evaluated:
    a check needs it, most iterations do not."""

    def __init__(self, model: ODEClassifier) -> None:
        self.model = model
        self.field = None

    def __call__(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if self.field is None:
            self.field = self.model.vector_field()
        return self.field(t, z)


def _backward_nfe(solution: Solution) -> int:
    """Evaluations of the backward pass. Backpropagation differentiates each forward
    evaluation once; the adjoint method evaluates the field again, backwards in time."""
    if isinstance(solution, AdjointSolution):
        return solution.nfe_backward()
    return solution.nfe


def _note_divergence(losses: torch.Tensor, iteration: int, diverged_at: list) -> None:
    """Record the first iteration at which each member's loss stopped being finite.

    A diverged member keeps training alongside the others (its NaNs cannot reach
    them) and is stored with ``diverged: true`` so sweeps can leave it out, as the
    paper averages over the seeds whose training succeeded.
    """
    start = max(0, iteration + 1 - DIVERGENCE_CHECK_EVERY)
    window = ~torch.isfinite(losses[start : iteration + 1])
    for member in torch.nonzero(window.any(dim=0)).flatten().tolist():
        if diverged_at[member] is None:
            diverged_at[member] = start + 1 + int(window[:, member].nonzero()[0])


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
