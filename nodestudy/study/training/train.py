"""Training: Adam on cross-entropy, gradients by backpropagation through the solver.

:func:`train_ensemble` trains several seeds of one configuration at once (see
``models.py`` for why this gives each seed exactly its solo result). The seed fixes
the initial weights and the batch order; the data set is fixed by its own config.
A config with an ``adaptation`` rule trains alone; the core's adapter
(``core/adaptation/adapters.py``, the same object a user puts in a torchdiffeq loop) chooses the
solver of every iteration.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ...core.errors import NodestudyError
from ...core.integrate import AdjointSolution, Solution, solve, solve_adjoint
from ...core.solvers import SolverSpec
from ..analysis.evaluate import accuracy
from ..config import TrainConfig
from ..data.datasets import EpochBatches, load_dataset
from ..models import ODEClassifier, member_generators
from ..runtime import numerics
from ..store.runs import TrainedMember
from .run_adapter import adapter_for, probe_split
from .train_log import IterationLog as _IterationLog

#: How often (in iterations) the loss is checked for NaN; checking every iteration
#: would force a host sync on accelerators.
DIVERGENCE_CHECK_EVERY = 50
#: An adapted run's weights are kept at this many evenly spaced iterations (Figure 5
#: scores them over training).
SNAPSHOTS = 20


def require_one_ensemble(configs: Sequence[TrainConfig]) -> None:
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
    report: Callable[[float], None] | None = None,
) -> list[TrainedMember]:
    """Train the configs (equal but for the seed) together; one result per config.
    ``report`` is given the share of the iterations done, a hundred times in all (a
    sweep's progress line reads it)."""
    require_one_ensemble(configs)
    training = _EnsembleTraining(configs, device)
    training.run(progress, report)
    return training.members()


class _EnsembleTraining:
    """One ensemble's training: the set-up, the loop, and the stored results, kept
    apart so that each reads on its own."""

    def __init__(self, configs: Sequence[TrainConfig], device: str | torch.device) -> None:
        self.configs, self.device = configs, device
        self.numerics = numerics.record()  # fails now, not after training, if not in effect
        config = self.config = configs[0]
        self.seeds = seeds = [c.seed for c in configs]
        self.data = data = load_dataset(config.data)
        probe_size = config.adaptation.probe_size if config.adaptation else None
        train_index, probe_index = probe_split(len(data.y_train), probe_size, seeds[0])
        self.x_train = data.x_train[train_index].to(device)
        self.y_train = data.y_train[train_index].to(device)
        self.model = ODEClassifier.initialised(
            seeds, data.state_shape, config.model.hidden_channels, data.n_classes
        ).to(device)
        self.optimiser = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate)
        self.batches = EpochBatches(
            len(self.y_train), config.batch_size, [member_generators(s)[1] for s in seeds]
        )
        self.adapter = None
        if config.adaptation is not None:
            probe = None
            if probe_index is not None:
                probe = (data.x_train[probe_index].to(device), data.y_train[probe_index].to(device))
            self.adapter = adapter_for(config, probe)
        self.integrate = solve_adjoint if config.gradient == "adjoint" else solve
        iterations = config.iterations
        self.losses = torch.zeros(iterations, len(seeds), device=device)
        self.batch_accuracy = torch.zeros(iterations, len(seeds), device=device)
        self.log = _IterationLog(iterations)
        self.snapshots: dict[int, list[dict[str, torch.Tensor]]] = {}
        self.diverged_at: list[int | None] = [None] * len(seeds)
        self.failure: tuple[int, str] | None = None  # an adaptive solve that could not go on
        self.seconds = 0.0

    @property
    def solver(self) -> SolverSpec:
        return self.adapter.solver if self.adapter is not None else self.config.solver

    def run(self, progress: bool, report: Callable[[float], None] | None = None) -> None:
        iterations = self.config.iterations
        report_every = max(1, iterations // 100)
        # weights during training are kept where a figure reads them (Figure 5 scores an
        # adapted run's snapshots), not for every run of the store
        snapshot_at = set(snapshot_iterations(iterations)) if self.adapter is not None else set()
        label = f"{self.config.data.short_name} {self.config.solver.label()} seeds={self.seeds}"
        if self.adapter is not None:
            label += " adapted"
        started = time.perf_counter()
        for iteration in tqdm(range(iterations), desc=label, disable=not progress, mininterval=2):
            if not self.step(iteration):
                break
            if iteration + 1 in snapshot_at:
                self.snapshots[iteration + 1] = [
                    self.model.member_state(m) for m in range(len(self.seeds))
                ]
            if (iteration + 1) % DIVERGENCE_CHECK_EVERY == 0 or iteration + 1 == iterations:
                _note_divergence(self.losses, iteration, self.diverged_at)
            if report is not None and (iteration + 1) % report_every == 0:
                report((iteration + 1) / iterations)
        self.seconds = time.perf_counter() - started

    def step(self, iteration: int) -> bool:
        """One optimiser step (and the adapter's update); False when an adaptive solve
        failed and training cannot go on."""
        model, solver = self.model, self.solver
        index = self.batches.next().to(self.device)
        x, y = self.x_train[index], self.y_train[index]
        try:
            solution = self.integrate(model.vector_field(), model.flatten_inputs(x), solver)
        except (AssertionError, RuntimeError) as error:  # torchdiffeq: step underflow, ...
            if solver.is_fixed_step:
                raise
            self.failure = (iteration + 1, f"{solver.label()} failed: {_first_line(error)}")
            self.losses[iteration:] = float("nan")
            self.batch_accuracy[iteration:] = float("nan")
            return False
        logits = model.classify(solution.final)
        member_loss = F.cross_entropy(logits.transpose(1, 2), y, reduction="none").mean(dim=1)
        self.optimiser.zero_grad(set_to_none=True)
        member_loss.sum().backward()
        self.optimiser.step()

        self.losses[iteration] = member_loss.detach()
        self.batch_accuracy[iteration] = (logits.detach().argmax(-1) == y).float().mean(dim=1)
        self.log.record_solve(iteration, solver, solution.nfe, _backward_nfe(solution))
        if self.adapter is not None:
            self.adapter.update(
                iteration,
                _CurrentField(model),
                x[0],
                y[0],
                model.classify,
                encode=model.flatten_inputs,
                nfe=solution.nfe,
            )
        return True

    def members(self) -> list[TrainedMember]:
        """The stored result of every seed: weights, history, metrics, snapshots."""
        final_solver, seeds, data = self.solver, self.seeds, self.data
        self.log.add_adaptation(self.adapter.history if self.adapter is not None else None)
        diverged_at = self.diverged_at
        if self.failure is not None:
            diverged_at = [self.failure[0]] * len(seeds)
        reason = self.failure[1] if self.failure is not None else "non-finite loss"
        if all(at is not None for at in diverged_at):
            train_scores = test_scores = torch.full((len(seeds),), float("nan"))
        else:
            train_scores = accuracy(self.model, data.x_train, data.y_train, final_solver)
            test_scores = accuracy(self.model, data.x_test, data.y_test, final_solver)
        losses, batch_accuracy = self.losses.cpu().numpy(), self.batch_accuracy.cpu().numpy()
        members = []
        for member, member_config in enumerate(self.configs):
            diverged = diverged_at[member] is not None
            metrics = {
                "train_accuracy": float("nan") if diverged else float(train_scores[member]),
                "test_accuracy": float("nan") if diverged else float(test_scores[member]),
                "final_loss": float(losses[-1, member]) if len(losses) else float("nan"),
                **self.log.nfe_summary(),
                "final_steps": final_solver.steps,
                "final_step_size": final_solver.step_size if final_solver.is_fixed_step else None,
                "final_tol": final_solver.tol,
                "diverged": diverged,
                "diverged_at_iteration": diverged_at[member],
                "diverged_reason": reason if diverged else None,
                "train_seconds": self.seconds / len(seeds),
                "ensemble_size": len(seeds),
                # the seeds trained together: a convolution's bits depend on them
                "ensemble_seeds": list(seeds),
                "device": str(self.device),
                "torch_version": torch.__version__,
                "numerics": self.numerics,
            }
            members.append(
                TrainedMember(
                    config=member_config,
                    weights=self.model.member_state(member),
                    history=self.log.frame(losses[:, member], batch_accuracy[:, member]),
                    metrics=metrics,
                    snapshots={it: states[member] for it, states in self.snapshots.items()},
                )
            )
        return members


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
