"""Frozen descriptions of a training run. A :class:`TrainConfig` is the whole
description of a run: two runs with equal configs give the same model, and the
config's canonical JSON hash is the run's key in the cache.

Things that do not change the result beyond floating-point rounding (the torch
device, whether seeds were trained together as an ensemble, the number of worker
processes) are deliberately not part of the config.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import NodestudyError
from .solvers import SolverSpec

#: Bump when a code change alters what a config trains to; old cache entries then miss.
RESULTS_VERSION = 1

DATASETS = ("spheres",)


@dataclass(frozen=True)
class DataConfig:
    """A data set. ``spheres`` is the concentric-spheres problem in ``dim`` dimensions.

    ``seed`` fixes the generated points. It is separate from the training seed so that
    all training seeds of a configuration are scored on the same test set and their
    spread measures training, not the luck of the test sample.
    """

    name: str = "spheres"
    dim: int = 2
    n_train: int = 2000
    n_test: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.name not in DATASETS:
            raise NodestudyError(
                f"unknown data set {self.name!r}; choose one of {', '.join(DATASETS)} "
                "(on the command line: sphere2, sphere3, sphere10, ...)"
            )
        if self.dim < 1:
            raise NodestudyError(f"sphere dimension must be at least 1 (got {self.dim})")
        if self.n_train < 1 or self.n_test < 1:
            raise NodestudyError("n_train and n_test must be positive")

    @classmethod
    def from_name(cls, name: str, **overrides: Any) -> DataConfig:
        """Parse a short name such as ``sphere2`` (spheres in 2 dimensions)."""
        match = re.fullmatch(r"spheres?(\d+)", name.strip().lower())
        if match:
            return cls(name="spheres", dim=int(match.group(1)), **overrides)
        raise NodestudyError(
            f"unknown data set {name!r}; use sphereD for concentric spheres in D "
            "dimensions (sphere2 is the paper's main data set)"
        )

    @property
    def short_name(self) -> str:
        return f"sphere{self.dim}"


@dataclass(frozen=True)
class ModelConfig:
    """The paper's vector field: 1x1 conv -> ReLU -> 3-wide conv -> ReLU -> 1x1 conv."""

    hidden_channels: int = 32

    def __post_init__(self) -> None:
        if self.hidden_channels < 1:
            raise NodestudyError("hidden_channels must be at least 1")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained model."""

    data: DataConfig
    solver: SolverSpec
    model: ModelConfig = field(default_factory=ModelConfig)
    iterations: int = 10_000
    batch_size: int = 128
    learning_rate: float = 1e-4
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.iterations, bool) or not isinstance(self.iterations, int):
            raise NodestudyError(f"iterations must be a whole number (got {self.iterations!r})")
        if self.iterations < 0:
            raise NodestudyError(
                f"iterations must be zero or more (got {self.iterations}); "
                "0 keeps the initial weights"
            )
        if self.batch_size < 1:
            raise NodestudyError(f"batch size must be at least 1 (got {self.batch_size})")
        if not self.learning_rate > 0:
            raise NodestudyError(f"learning rate must be positive (got {self.learning_rate})")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrainConfig:
        values = dict(raw)
        values["data"] = DataConfig(**values["data"])
        values["solver"] = SolverSpec(**values["solver"])
        values["model"] = ModelConfig(**values["model"])
        return cls(**values)

    def key(self) -> str:
        """Hex digest of the canonical JSON: the run's identity in the cache."""
        payload = {"results_version": RESULTS_VERSION, "config": self.to_dict()}
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def without_seed(self) -> TrainConfig:
        """The config with seed 0: configs equal here differ only in their seed."""
        return dataclasses.replace(self, seed=0)
