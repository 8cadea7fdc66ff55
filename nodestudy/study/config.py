"""Frozen descriptions of a training run. A :class:`TrainConfig` is the whole
description of a run: two runs with equal configs give the same model, and the
config's canonical JSON hash is the run's key in the cache.

Things that do not change the result beyond floating-point rounding (the torch
device, whether seeds were trained together as an ensemble, the number of worker
processes) are deliberately not part of the config. The numerical mode, which decides
that rounding on CPUs, is part of the key (:meth:`TrainConfig.key`), not of the config.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from ..core.adaptation.rules import (
    DEFAULT_TEST_METHOD,
    DEFAULT_TEST_TOL_RATIO,
    Adaptation,
    StepAdaptation,
    ToleranceAdaptation,
    adaptation_from_dict,
)
from ..core.errors import NodestudyError
from ..core.solvers import SolverSpec
from .runtime import data_files
from .runtime import numerics as numerics_mode

__all__ = [
    "DEFAULT_TEST_METHOD",
    "DEFAULT_TEST_TOL_RATIO",
    "DataConfig",
    "ModelConfig",
    "StepAdaptation",
    "ToleranceAdaptation",
    "TrainConfig",
]

#: Bump when a code change alters what a config trains to; old cache entries then miss.
#: 2: runs are keyed by their numerical mode (``runtime/numerics.py``). 3: one
#: reproducible mode on every x86 CPU (MKL's compatible branch, whatever the vendor).
RESULTS_VERSION = 3
#: How a step adaptation is applied, in its runs' keys. 2: the library's adapter, with
#: step counts that are exact torchdiffeq grids (``grid_steps``); runs stored by
#: version 1 (K = ceil(1/h)) have other keys, so they are retrained, not served.
STEP_ADAPTATION_VERSION = 2

DATASETS = ("spheres", "three_minima", "digits", "mnist5k", "mnist", "cifar10")
#: Image data sets and their (n_train, n_test) defaults: the whole of each split;
#: digits (1,797 images) and mnist5k (5,000) are split by a seeded permutation.
IMAGE_SIZES = {
    "digits": (1297, 500),
    "mnist5k": (4000, 1000),
    "mnist": (60_000, 10_000),
    "cifar10": (50_000, 10_000),
}
#: Image data sets shipped inside a package: no files, so no fingerprint in the key.
BUNDLED_IMAGES = ("digits", "mnist5k")
GRADIENTS = ("backprop", "adjoint")


@dataclass(frozen=True)
class DataConfig:
    """A data set. ``spheres`` is the concentric-spheres problem in ``dim`` dimensions;
    ``three_minima`` the damped particle (its state, position and velocity, has
    ``dim`` 2); ``digits``, ``mnist5k``, ``mnist`` and ``cifar10`` images (``dim`` unused; use
    :meth:`from_name` for their sizes).

    ``seed`` fixes the generated points. It is separate from the training seed so that
    all training seeds of a configuration are scored on the same test set and their
    spread measures training, not the luck of the test sample. Where MNIST and CIFAR10
    files live is not part of the config, but which files they are is (``files``).
    """

    name: str = "spheres"
    dim: int = 2
    n_train: int = 2000
    n_test: int = 1000
    seed: int = 0
    #: For MNIST and CIFAR10: the fingerprint of the files read
    #: (``runtime.data_files.fingerprint``), so that runs trained on other files have
    #: other keys. None for generated and
    #: bundled data, and left out of the key then.
    files: str | None = None

    def __post_init__(self) -> None:
        if self.name not in DATASETS:
            raise NodestudyError(
                f"unknown data set {self.name!r}; choose one of {', '.join(DATASETS)} "
                "(on the command line: sphere2, sphere3, ..., three_minima, digits, mnist5k, "
                "mnist, cifar10)"
            )
        if self.name == "three_minima" and self.dim != 2:
            raise NodestudyError(
                f"three_minima states are (position, velocity): dim must be 2 (got {self.dim})"
            )
        if self.dim < 1:
            raise NodestudyError(f"sphere dimension must be at least 1 (got {self.dim})")
        if self.n_train < 1 or self.n_test < 1:
            raise NodestudyError("n_train and n_test must be positive")
        _check_seed(self.seed, "data seed")

    @classmethod
    def from_name(cls, name: str, **overrides: Any) -> DataConfig:
        """Parse a short name such as ``sphere2`` (spheres in 2 dimensions)."""
        match = re.fullmatch(r"spheres?(\d+)", name.strip().lower())
        if match:
            return cls(name="spheres", dim=int(match.group(1)), **overrides)
        if re.fullmatch(r"three[-_ ]?minima", name.strip().lower()):
            return cls(name="three_minima", dim=2, **overrides)
        image = name.strip().lower().replace("-", "")
        if image in IMAGE_SIZES:
            n_train, n_test = IMAGE_SIZES[image]
            files = None if image in BUNDLED_IMAGES else data_files.fingerprint(image)
            values = {"name": image, "n_train": n_train, "n_test": n_test, "files": files}
            return cls(**{**values, **overrides})
        raise NodestudyError(
            f"unknown data set {name!r}; use sphereD for concentric spheres in D "
            "dimensions (sphere2 is the paper's main data set), three_minima, digits, "
            "mnist5k, mnist or cifar10"
        )

    @property
    def short_name(self) -> str:
        return f"sphere{self.dim}" if self.name == "spheres" else self.name


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
    #: None trains with ``solver`` throughout; a rule adapts it, ``solver`` is the start.
    adaptation: Adaptation | None = None
    #: How gradients are computed: backpropagation through the solver's operations
    #: (the paper's main text) or torchdiffeq's adjoint method (its appendix).
    gradient: Literal["backprop", "adjoint"] = "backprop"

    def __post_init__(self) -> None:
        if self.adaptation is not None:
            self.adaptation.check_training_method(self.solver.method)
        if self.gradient not in GRADIENTS:
            raise NodestudyError(
                f"unknown gradient method {self.gradient!r}; choose one of {', '.join(GRADIENTS)}"
            )
        if self.gradient == "adjoint" and self.adaptation is not None:
            raise NodestudyError("adjoint training is not supported with an adapted solver")
        if isinstance(self.iterations, bool) or not isinstance(self.iterations, int):
            raise NodestudyError(f"iterations must be a whole number (got {self.iterations!r})")
        if self.iterations < 0:
            raise NodestudyError(
                f"iterations must be zero or more (got {self.iterations}); "
                "0 keeps the initial weights"
            )
        if self.batch_size < 1:
            raise NodestudyError(f"batch size must be at least 1 (got {self.batch_size})")
        if not 0 < self.learning_rate < float("inf"):
            raise NodestudyError(
                f"learning rate must be a positive, finite number (got {self.learning_rate})"
            )
        _check_seed(self.seed, "seed")

    def to_dict(self) -> dict[str, Any]:
        """Plain data; optional features that are off are left out, so adding one to
        the package does not change the keys of existing runs."""
        values = dataclasses.asdict(self)
        values["solver"] = self.solver.to_dict()
        if values["data"]["files"] is None:
            del values["data"]["files"]
        if self.adaptation is None:
            del values["adaptation"]
        else:
            values["adaptation"] = self.adaptation.to_dict()
            if self.adaptation.kind == "step":
                values["adaptation"]["version"] = STEP_ADAPTATION_VERSION
        if values["gradient"] == "backprop":
            del values["gradient"]
        return values

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrainConfig:
        values = dict(raw)
        values["data"] = DataConfig(**values["data"])
        values["solver"] = SolverSpec(**values["solver"])
        values["model"] = ModelConfig(**values["model"])
        adaptation = values.get("adaptation")
        if adaptation is not None:
            adaptation = dict(adaptation)
            version = adaptation.pop("version", None)
            if adaptation.get("kind") == "step" and version != STEP_ADAPTATION_VERSION:
                raise NodestudyError(
                    f"this run was adapted by step-adaptation version {version}; nodestudy "
                    f"applies version {STEP_ADAPTATION_VERSION} (exact torchdiffeq grids): "
                    "train it again"
                )
        values["adaptation"] = adaptation_from_dict(adaptation)
        return cls(**values)

    def key(self, numerics: str = numerics_mode.DEFAULT) -> str:
        """Hex digest of the canonical JSON: the run's identity in the cache, for runs
        trained in the numerical mode ``numerics`` (``runtime/numerics.py``): a run of
        one mode is never served as the other's."""
        payload = {
            "results_version": RESULTS_VERSION,
            "numerics": numerics,
            "config": self.to_dict(),
        }
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def without_seed(self) -> TrainConfig:
        """The config with seed 0: configs equal here differ only in their seed."""
        return dataclasses.replace(self, seed=0)


def _check_seed(seed: object, name: str) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise NodestudyError(f"{name} must be a whole number >= 0 (got {seed!r})")
