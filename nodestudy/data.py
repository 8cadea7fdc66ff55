"""Data sets, generated from a seed so that nothing is downloaded.

Concentric spheres ("Sphere2" for d = 2, after Dupont et al. 2019): three radius
bands, the inner and outer one class 0, the middle one class 1. In two dimensions
no homeomorphism of the plane followed by a line separates them perfectly, which is
what makes the data set a probe of whether a trained model is still an ODE flow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import Tensor

from .config import DataConfig

#: (r_min, r_max, label, share of the points) for each band.
SPHERE_BANDS: tuple[tuple[float, float, int, float], ...] = (
    (0.10, 0.15, 0, 0.25),
    (0.25, 0.30, 1, 0.50),
    (0.40, 0.45, 0, 0.25),
)


@dataclass(frozen=True)
class Dataset:
    """Train and test tensors. Inputs have shape (N, channels, length)."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    n_classes: int

    @property
    def state_shape(self) -> tuple[int, ...]:
        """Shape of one sample, which is also the shape of the ODE state."""
        return tuple(self.x_train.shape[1:])

    def split(self, name: str) -> tuple[Tensor, Tensor]:
        if name == "train":
            return self.x_train, self.y_train
        if name == "test":
            return self.x_test, self.y_test
        raise ValueError(f"unknown split {name!r}; use 'train' or 'test'")


def concentric_spheres(n: int, dim: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``n`` points in R^dim from the three bands, in random order.

    Radii are r = r_min + (r_max - r_min) * U^(1/dim) and directions normalised
    Gaussians, as in PAPER.md. Band sizes are the shares times n, rounded, with the
    remainder given to the middle band.
    """
    sizes = [round(share * n) for *_, share in SPHERE_BANDS]
    sizes[1] += n - sum(sizes)
    points, labels = [], []
    for (r_min, r_max, label, _), size in zip(SPHERE_BANDS, sizes):
        direction = torch.randn(size, dim, generator=generator, dtype=torch.float64)
        direction = direction / direction.norm(dim=1, keepdim=True)
        u = torch.rand(size, 1, generator=generator, dtype=torch.float64)
        radius = r_min + (r_max - r_min) * u ** (1.0 / dim)
        points.append(direction * radius)
        labels.append(torch.full((size,), label, dtype=torch.long))
    order = torch.randperm(n, generator=generator)
    x = torch.cat(points)[order].to(torch.float32)
    y = torch.cat(labels)[order]
    return x, y


@lru_cache(maxsize=8)
def load_dataset(config: DataConfig) -> Dataset:
    """The data set a config describes (memoised: configs are frozen and hashable)."""
    generator = torch.Generator().manual_seed(config.seed)
    x_train, y_train = concentric_spheres(config.n_train, config.dim, generator)
    x_test, y_test = concentric_spheres(config.n_test, config.dim, generator)
    # One input channel: the vector field treats the point as a length-d sequence.
    return Dataset(
        x_train=x_train.unsqueeze(1),
        y_train=y_train,
        x_test=x_test.unsqueeze(1),
        y_test=y_test,
        n_classes=2,
    )


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
