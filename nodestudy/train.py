"""Training: Adam on cross-entropy, gradients by backpropagation through the solver.

:func:`train_ensemble` trains several seeds of one configuration at once (see
``models.py`` for why this gives each seed exactly its solo result). The seed fixes
the initial weights and the batch order; the data set is fixed by its own config.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .config import TrainConfig
from .data import load_dataset
from .errors import NodestudyError
from .evaluate import accuracy
from .models import ODEClassifier, member_generators
from .runs import TrainedMember
from .solvers import solve

#: How often (in iterations) the loss is checked for NaN; checking every iteration
#: would force a host sync on accelerators.
DIVERGENCE_CHECK_EVERY = 50


class EpochBatches:
    """Per-member shuffled mini-batches: a new permutation per member each epoch."""

    def __init__(self, n: int, batch_size: int, generators: Sequence[torch.Generator]) -> None:
        self.n, self.batch_size, self.generators = n, min(batch_size, n), generators
        self._order: torch.Tensor | None = None
        self._position = n

    def next(self) -> torch.Tensor:
        """Indices of shape (members, batch); the last batch of an epoch may be short."""
        if self._position >= self.n:
            self._order = torch.stack(
                [torch.randperm(self.n, generator=g) for g in self.generators]
            )
            self._position = 0
        batch = self._order[:, self._position : self._position + self.batch_size]
        self._position += self.batch_size
        return batch


def check_ensemble(configs: Sequence[TrainConfig]) -> None:
    """Seeds train together only if nothing but the seed differs."""
    if not configs:
        raise NodestudyError("no configs to train")
    reference = configs[0].without_seed()
    if any(config.without_seed() != reference for config in configs):
        raise NodestudyError("configs trained as one ensemble may differ only in their seed")
    if len({config.seed for config in configs}) != len(configs):
        raise NodestudyError("configs trained as one ensemble need distinct seeds")
    if len(configs) > 1 and not reference.solver.is_fixed_step:
        raise NodestudyError(
            "adaptive solvers choose one step size for the whole batch, so their seeds "
            "must be trained one at a time"
        )


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
    x_train, y_train = data.x_train.to(device), data.y_train.to(device)
    model = ODEClassifier.initialised(
        seeds, data.state_shape, config.model.hidden_channels, data.n_classes
    ).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    batches = EpochBatches(
        len(y_train), config.batch_size, [member_generators(s)[1] for s in seeds]
    )

    iterations = config.iterations
    losses = torch.zeros(iterations, len(seeds), device=device)
    batch_accuracy = torch.zeros(iterations, len(seeds), device=device)
    nfe_forward = np.zeros(iterations, dtype=np.int64)
    diverged_at = [None] * len(seeds)

    label = f"{config.data.short_name} {config.solver.label()} seeds={seeds}"
    started = time.perf_counter()
    for iteration in tqdm(range(iterations), desc=label, disable=not progress, mininterval=2):
        index = batches.next().to(device)
        x, y = x_train[index], y_train[index]
        solution = solve(model.vector_field(), model.flatten_inputs(x), config.solver)
        logits = model.classify(solution.final)
        member_loss = F.cross_entropy(logits.transpose(1, 2), y, reduction="none").mean(dim=1)
        optimiser.zero_grad(set_to_none=True)
        member_loss.sum().backward()
        optimiser.step()

        losses[iteration] = member_loss.detach()
        batch_accuracy[iteration] = (logits.detach().argmax(-1) == y).float().mean(dim=1)
        nfe_forward[iteration] = solution.nfe
        if (iteration + 1) % DIVERGENCE_CHECK_EVERY == 0 or iteration + 1 == iterations:
            _note_divergence(losses, iteration, diverged_at)
    seconds = time.perf_counter() - started

    losses_np, batch_accuracy_np = losses.cpu().numpy(), batch_accuracy.cpu().numpy()
    train_scores = accuracy(model, data.x_train, data.y_train, config.solver)
    test_scores = accuracy(model, data.x_test, data.y_test, config.solver)
    members = []
    for member, member_config in enumerate(configs):
        history = pd.DataFrame(
            {
                "iteration": np.arange(1, iterations + 1),
                "loss": losses_np[:, member],
                "batch_accuracy": batch_accuracy_np[:, member],
                "steps": config.solver.steps if config.solver.is_fixed_step else np.nan,
                "nfe_forward": nfe_forward,
                # Backpropagation differentiates every forward evaluation once.
                "nfe_backward": nfe_forward,
            }
        )
        diverged = diverged_at[member] is not None
        metrics = {
            "train_accuracy": float("nan") if diverged else float(train_scores[member]),
            "test_accuracy": float("nan") if diverged else float(test_scores[member]),
            "final_loss": float(losses_np[-1, member]) if iterations else float("nan"),
            "nfe_forward": float(nfe_forward.mean()) if iterations else 0.0,
            "nfe_backward": float(nfe_forward.mean()) if iterations else 0.0,
            "diverged": diverged,
            "diverged_at_iteration": diverged_at[member],
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
            )
        )
    return members


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
