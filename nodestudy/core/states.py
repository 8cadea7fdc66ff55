"""States as torchdiffeq takes them, and how far apart two solves' states lie.

torchdiffeq integrates a tensor, or a tuple of tensors (a continuous normalising
flow's ``(z, logp)``), points on the first axis of each. :class:`StateLayout` flattens
such a state to one ``(N, D)`` tensor and back, so that one solver loop serves both;
the user's field and head always see the state as they wrote it.

The distance between two solves is measured in units of the *spread* of the
reference's states (the median distance of the points from their median, per output
time and per tuple component), or, for a point the flow throws beyond that, of its own
distance from the median; so it does not change when the state space is translated
or uniformly rescaled: moving a pendulum's coordinates by +10 changes no verdict.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

State = Tensor | tuple[Tensor, ...]

#: A spread below this (a flow that maps every point to one) is taken as this.
MIN_SPREAD = 1e-12


@dataclass(frozen=True)
class StateLayout:
    """The per-point shape of every component of a state (one for a tensor)."""

    shapes: tuple[torch.Size, ...]
    is_tuple: bool

    @classmethod
    def of(cls, z: State) -> StateLayout:
        parts = tuple(z) if isinstance(z, tuple | list) else (z,)
        return cls(tuple(p.shape[1:] for p in parts), isinstance(z, tuple | list))

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(max(1, s.numel()) for s in self.shapes)

    def flatten(self, z: State) -> Tensor:
        """``(..., N, *shape)`` per component -> ``(..., N, D)``."""
        parts = tuple(z) if self.is_tuple else (z,)
        lead = parts[0].shape[: parts[0].dim() - len(self.shapes[0])]
        return torch.cat([p.reshape(*lead, -1) for p in parts], dim=-1)

    def unflatten(self, flat: Tensor) -> State:
        """``(..., N, D)`` -> the state as the user's field takes it."""
        parts = flat.split(list(self.sizes), dim=-1)
        shaped = tuple(p.reshape(*flat.shape[:-1], *shape) for p, shape in zip(parts, self.shapes))
        return shaped if self.is_tuple else shaped[0]

    def component_slices(self) -> list[slice]:
        starts = [0]
        for size in self.sizes:
            starts.append(starts[-1] + size)
        return [slice(a, b) for a, b in itertools.pairwise(starts)]

    def flat_field(self, func: Callable) -> Callable[[Tensor, Tensor], Tensor]:
        """``func(t, state)`` as a field of the flattened state."""
        if not self.is_tuple:
            shape = self.shapes[0]
            return lambda t, z: func(t, z.reshape(len(z), *shape)).reshape(len(z), -1)
        return lambda t, z: self.flatten(func(t, self.unflatten(z)))


def first_tensor(x: State) -> Tensor:
    """The tensor of a state, or its first component: what its dtype and device are
    read from."""
    return x[0] if isinstance(x, tuple | list) else x


def points_of(x: State) -> int:
    """The number of points (first axis) of a state or input."""
    return len(x[0]) if isinstance(x, tuple | list) else len(x)


def take(x: State, part: slice) -> State:
    """Points ``part`` of a tensor or of every component of a tuple."""
    if isinstance(x, tuple | list):
        return tuple(c[part] for c in x)
    return x[part]


def spread(paths: Tensor, layout: StateLayout) -> tuple[Tensor, Tensor]:
    """The centre and spread of states ``paths`` of shape (N, T, D): per output time,
    the coordinate-wise median of the points (T, D), and per output time and tuple
    component the median distance of the points from it (T, components), robust to
    the few points a flow may throw far away; a component with no spread is measured
    against its size. Non-finite points are left out."""
    finite = torch.isfinite(paths).all(dim=(1, 2))
    kept = paths[finite]
    if len(kept) < 2:
        ones = torch.ones(paths.shape[1], len(layout.sizes), dtype=paths.dtype)
        return torch.zeros(paths.shape[1:], dtype=paths.dtype), ones
    centre = kept.median(dim=0).values
    scales = []
    for part in layout.component_slices():
        piece = kept[..., part]
        spread_ = (piece - centre[..., part]).norm(dim=-1).median(dim=0).values
        size = piece.norm(dim=-1).median(dim=0).values
        # a component the same at every point (a CNF's log-density under a field of
        # constant divergence) has no spread: measure it against its size instead
        scales.append(torch.where(spread_ < 1e-3 * size, size, spread_))
    return centre, torch.stack(scales, dim=-1).clamp_min(MIN_SPREAD)


def state_distance(paths: Tensor, reference: Tensor, layout: StateLayout) -> Tensor:
    """Per point: the distance of ``paths`` from ``reference`` (both (N, T, D)) in
    units of the reference's spread, or of the reference point's own distance from the
    centre where that is larger (a point thrown far away is judged by its relative
    error), root-mean-square over output times and tuple components. Inf where either
    is not finite. Translating or uniformly rescaling the state space leaves it as is."""
    centre, scale = spread(reference, layout)
    squares = []
    for c, part in enumerate(layout.component_slices()):
        gap = (paths[..., part] - reference[..., part]).pow(2).sum(-1)  # (N, T)
        reach = (reference[..., part] - centre[..., part]).norm(dim=-1)
        unit = torch.maximum(reach, scale[:, c])
        squares.append(gap / unit.pow(2))
    distance = torch.stack(squares, dim=-1).mean(dim=(1, 2)).sqrt()
    finite = torch.isfinite(paths).all(dim=(1, 2)) & torch.isfinite(reference).all(dim=(1, 2))
    return torch.where(finite, distance, torch.full_like(distance, float("inf")))
