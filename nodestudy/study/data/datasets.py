"""Data sets, generated from a seed so that nothing is downloaded.

Concentric spheres ("Sphere2" for d = 2, after Dupont et al. 2019): three radius
bands, the inner and outer one class 0, the middle one class 1. In two dimensions
no homeomorphism of the plane followed by a line separates them perfectly, which is
what makes the data set a probe of whether a trained model is still an ODE flow.

Three minima (from the authors' later code): a damped particle in a potential with
three wells; the input is its initial position and velocity, the label the well it
settles in. An ODE generates the labels, so a valid ODE model can fit them exactly,
the opposite of the spheres.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np
import torch
from torch import Tensor

from ...core.errors import NodestudyError
from ..budget import require_data_memory
from ..config import DataConfig
from ..runtime import data_files
from . import images

#: (r_min, r_max, label, share of the points) for each band.
SPHERE_BANDS: tuple[tuple[float, float, int, float], ...] = (
    (0.10, 0.15, 0, 0.25),
    (0.25, 0.30, 1, 0.50),
    (0.40, 0.45, 0, 0.25),
)


@dataclass(frozen=True)
class Dataset:
    """Train and test tensors. Inputs have shape (N, C, L) for points and (N, C, H, W)
    for images; one input is also the initial state of the ODE."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    n_classes: int

    @property
    def state_shape(self) -> tuple[int, ...]:
        """Shape of one sample, which is also the shape of the ODE state."""
        return tuple(self.x_train.shape[1:])

    @property
    def majority_rate(self) -> float:
        """The test accuracy of always answering the largest class: what a model that
        learned nothing can reach."""
        return float(torch.bincount(self.y_test).max()) / len(self.y_test)

    def split(self, name: str) -> tuple[Tensor, Tensor]:
        if name == "train":
            return self.x_train, self.y_train
        if name == "test":
            return self.x_test, self.y_test
        raise NodestudyError(f"unknown split {name!r}; use 'train' or 'test'")


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


#: V'(x) of the three-minima potential, highest power first (PAPER.md).
THREE_MINIMA_SLOPE = (1.2, -2.5, -0.768, 2.364, 0.176, -0.192)
THREE_MINIMA_FRICTION = 0.2
#: Initial position and velocity ranges, and the integration (rk4, step, end time).
THREE_MINIMA_POSITIONS = (-1.0, 2.0)
THREE_MINIMA_VELOCITIES = (-2.0, 2.0)
THREE_MINIMA_STEP = 0.02
THREE_MINIMA_END_TIME = 100.0
#: A particle has settled when its speed and its distance to a minimum are below this.
SETTLE_TOLERANCE = 1e-3


def potential_minima() -> np.ndarray:
    """The three minima of the potential, ascending: the real roots of V' at which V''
    is positive (about -0.850, 0.269 and 1.839)."""
    roots = np.roots(THREE_MINIMA_SLOPE)
    real = np.sort(roots[np.abs(roots.imag) < 1e-9].real)
    curvature = np.polyval(np.polyder(THREE_MINIMA_SLOPE), real)
    return real[curvature > 0]


def settle_particles(
    position: Tensor, velocity: Tensor, end_time: float, step: float
) -> tuple[Tensor, Tensor]:
    """Integrate x' = v, v' = -V'(x) - friction v with rk4 on an exact grid."""
    steps = max(1, round(end_time / step))
    h = end_time / steps

    def field(x: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        slope = torch.zeros_like(x)
        for coefficient in THREE_MINIMA_SLOPE:  # Horner's rule
            slope = slope * x + coefficient
        return v, -slope - THREE_MINIMA_FRICTION * v

    x, v = position, velocity
    for _ in range(steps):
        k1 = field(x, v)
        k2 = field(x + h / 2 * k1[0], v + h / 2 * k1[1])
        k3 = field(x + h / 2 * k2[0], v + h / 2 * k2[1])
        k4 = field(x + h * k3[0], v + h * k3[1])
        x = x + h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        v = v + h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
    return x, v


def three_minima(
    n: int,
    generator: torch.Generator,
    *,
    end_time: float = THREE_MINIMA_END_TIME,
    step: float = THREE_MINIMA_STEP,
) -> tuple[Tensor, Tensor]:
    """``n`` initial states (x, v) and the index of the minimum each settles in.

    Raises if any particle is still moving or away from a minimum at ``end_time``:
    a label read off an unsettled particle would be noise, not the ODE's answer.
    """
    low, high = THREE_MINIMA_POSITIONS
    position = low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)
    low, high = THREE_MINIMA_VELOCITIES
    velocity = low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)
    x, v = settle_particles(position, velocity, end_time, step)
    minima = torch.from_numpy(potential_minima())
    distance, label = (x[:, None] - minima).abs().min(dim=1)
    unsettled = (v.abs() > SETTLE_TOLERANCE) | (distance > SETTLE_TOLERANCE)
    if unsettled.any():
        raise NodestudyError(
            f"{int(unsettled.sum())} of {n} particles have not settled into a minimum by "
            f"t={end_time:g} (largest speed {float(v.abs().max()):.2g}, largest distance to "
            f"a minimum {float(distance.max()):.2g}; tolerance {SETTLE_TOLERANCE:g}); "
            "integrate for longer"
        )
    states = torch.stack([position, velocity], dim=1).to(torch.float32)
    return states, label


#: Data sets read from the user's files (the others are generated or bundled).
FILE_DATASETS = ("mnist", "cifar10")


def load_dataset(config: DataConfig) -> Dataset:
    """The data set a config describes, generated from its seed.

    Memoised per process (configs are frozen and hashable; three minima takes about a
    second to generate). For MNIST and CIFAR10 the memo is keyed by the data directory
    too, and the files are checked against the config's fingerprint on every call, so
    that changing ``$NODESTUDY_DATA`` (or the files) in a running kernel can never hand
    back the data read before.
    """
    require_data_memory(config)
    if config.name not in FILE_DATASETS:
        return _load_dataset(config, None)
    where = data_files.data_directory()
    found = data_files.fingerprint(config.name, where)
    if config.files is not None and found != config.files:
        raise NodestudyError(
            f"the {config.name} files in {where} are not the ones this "
            f"config was made with (fingerprint {found}, not "
            f"{config.files}); make the config again (DataConfig.from_name) to use them"
        )
    return _load_dataset(config, (str(where), found))


def majority_rates(configs: Iterable[DataConfig]) -> dict[str, float]:
    """Each data set's majority-class rate by its short name: the bar a seed must
    clear to count as learned (``analyse_collapse``)."""
    return {config.short_name: load_dataset(config).majority_rate for config in configs}


@lru_cache(maxsize=8)
def _load_dataset(config: DataConfig, files: tuple[str, str] | None) -> Dataset:
    generator = torch.Generator().manual_seed(config.seed)
    if config.name == "spheres":
        generate = partial(concentric_spheres, dim=config.dim, generator=generator)
        n_classes = 2
    elif config.name == "three_minima":
        generate = partial(three_minima, generator=generator)
        n_classes = len(potential_minima())
    elif config.name in ("digits", "mnist5k"):
        split = images.digits if config.name == "digits" else images.mnist5k
        return Dataset(*split(config.n_train, config.n_test, generator), n_classes=10)
    elif config.name in FILE_DATASETS:
        loader = images.load_mnist if config.name == "mnist" else images.load_cifar10
        x_train, y_train, x_test, y_test = loader(files[0])  # the directory fingerprinted
        x_train, y_train = images.subset(x_train, y_train, config.n_train, generator, "train")
        x_test, y_test = images.subset(x_test, y_test, config.n_test, generator, "test")
        return Dataset(x_train, y_train, x_test, y_test, n_classes=10)
    else:  # DataConfig validates names; this guards a name added there but not here
        raise NodestudyError(f"no loader for data set {config.name!r}")
    # Points get one input channel: the vector field treats a point as a length-d sequence.
    x_train, y_train = generate(config.n_train)
    x_test, y_test = generate(config.n_test)
    return Dataset(x_train.unsqueeze(1), y_train, x_test.unsqueeze(1), y_test, n_classes)


#: Forget every memoised data set (tests; a long-lived kernel short of memory).
load_dataset.cache_clear = _load_dataset.cache_clear


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
