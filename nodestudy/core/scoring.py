"""A Neural ODE under a solver: end states, predictions and accuracy.

A model here is what torchdiffeq users write: a vector field ``func(t, z)``, an
optional ``encode(x) -> z0`` before the ODE block (identity when absent) and an
optional ``head(z_T) -> logits`` after it. This module is the one implementation of
"the accuracy of a model under a solver": the validity check and the study's tables
both call it.

Inputs are taken in chunks along their first axis, so memory stays bounded however
many points are scored. End states keep the layout ``encode`` gives them; accuracy
compares the last axis of the predictions with the labels, so a stack of models with
a leading member axis (logits of shape (members, batch, classes)) gets one accuracy
per member from the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from .integrate import Solution, solve
from .solvers import UNIT_INTERVAL, SolverSpec, TimeSpan, VectorField

Readout = Callable[[Tensor], Tensor]

#: Points solved at once by default.
CHUNK_SIZE = 4096


@dataclass(frozen=True)
class EndStates:
    """End states of every input (concatenated along the first axis) and the
    vector-field evaluations each chunk's solve took."""

    states: Tensor
    nfe_per_solve: list[int]

    @property
    def nfe(self) -> float:
        """Mean evaluations per solve (the same for every chunk with fixed steps)."""
        return sum(self.nfe_per_solve) / max(1, len(self.nfe_per_solve))

    @classmethod
    def collect(cls, solved: Iterable[tuple[slice, Solution]]) -> EndStates:
        """The end states of :func:`solved_chunks`, concatenated along the first axis."""
        finals, nfe = [], []
        for _, solution in solved:
            finals.append(solution.final)
            nfe.append(solution.nfe)
        return cls(torch.cat(finals), nfe)


def solved_chunks(
    func: VectorField,
    x: Tensor,
    solver: SolverSpec,
    *,
    encode: Readout | None = None,
    t_span: TimeSpan = UNIT_INTERVAL,
    chunk_size: int = CHUNK_SIZE,
    solve_chunk: Callable[[Tensor], Solution] | None = None,
) -> Iterator[tuple[slice, Solution]]:
    """Solve from the inputs chunk by chunk (first axis = points), without gradients:
    each chunk's slice of ``x`` and its solution. ``solve_chunk`` replaces the solve
    of a chunk's initial states (e.g. by torchdiffeq itself, for a grid only
    torchdiffeq builds)."""
    for start in range(0, len(x), chunk_size):
        part = slice(start, start + chunk_size)
        with torch.no_grad():
            z0 = encode(x[part]) if encode is not None else x[part]
            if solve_chunk is not None:
                solution = solve_chunk(z0)
            else:
                solution = solve(func, z0, solver, t_span=t_span)
        yield part, solution


def predictions(logits: Tensor) -> Tensor:
    """Class predictions from a head's output: the arg-max over the last axis, or, for
    a single logit per point (shape (N,) or (N, 1), as with ``BCEWithLogitsLoss``),
    whether it is positive."""
    if logits.dim() == 1:
        return (logits > 0).long()
    if logits.shape[-1] == 1:
        return (logits[..., 0] > 0).long()
    return logits.argmax(-1)


def predict(
    func: VectorField,
    x: Tensor,
    solver: SolverSpec,
    *,
    head: Readout,
    encode: Readout | None = None,
    t_span: TimeSpan = UNIT_INTERVAL,
    chunk_size: int = CHUNK_SIZE,
) -> tuple[Tensor, int]:
    """The predicted class of every input (points on the last axis: shape (N,), or
    (members, N) for a stack of models) and the vector-field evaluations that took
    (summed over chunks)."""
    parts, nfe = [], 0
    for _, solution in solved_chunks(
        func, x, solver, encode=encode, t_span=t_span, chunk_size=chunk_size
    ):
        with torch.no_grad():
            parts.append(predictions(head(solution.final)).cpu())
        nfe += solution.nfe
    return torch.cat(parts, dim=-1), nfe


def accuracy_with_nfe(
    func: VectorField,
    x: Tensor,
    y: Tensor,
    solver: SolverSpec,
    *,
    head: Readout,
    encode: Readout | None = None,
    t_span: TimeSpan = UNIT_INTERVAL,
    chunk_size: int = CHUNK_SIZE,
) -> tuple[Tensor, int]:
    """The fraction of (x, y) classified correctly, correct / len(y), and the
    vector-field evaluations that took (summed over chunks).

    For a stack of models with a leading member axis the result has one entry per
    member; for a single model it is a scalar tensor.
    """
    predicted, nfe = predict(
        func, x, solver, head=head, encode=encode, t_span=t_span, chunk_size=chunk_size
    )
    correct = (predicted == y.cpu()).sum(-1)
    return correct / len(y), nfe
