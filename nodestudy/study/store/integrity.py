"""What a run directory's files must hold before the run is served: the checks beyond
"every file is there and parses" (``cache.verify_run`` calls :func:`check_contents`).

* the weights: exactly the model's parameter names, each of the shape the config's
  model has (an edited ``hidden_channels`` or a checkpoint of another model fails
  here, not in the model), finite unless the run is stored as diverged;
* ``metrics.json``: an object with the accuracies and the divergence flag, the
  accuracies numbers in [0, 1] unless the run diverged;
* ``history.csv.gz``: a table with the columns every history has, numbers in them.

Each failure is one line naming the file; the caller decides whether that means
"quarantine and train again" (a cache entry) or "refuse" (a directory passed in).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from ...core.errors import NodestudyError
from ..budget import IMAGE_SHAPES
from ..config import IMAGE_SIZES, TrainConfig
from ..models import PARAMETER_NAMES, ODEClassifier
from .runs import HISTORY_FILE

#: Columns every run's history has (adapted runs have more).
HISTORY_COLUMNS = ("iteration", "loss", "batch_accuracy", "steps")
#: What every metrics.json states.
METRIC_KEYS = ("train_accuracy", "test_accuracy", "diverged")
#: The classes of every data set.
N_CLASSES = {"spheres": 2, "three_minima": 3, **dict.fromkeys(IMAGE_SIZES, 10)}


def state_shape(config: TrainConfig) -> tuple[int, ...]:
    """The shape of one input (and ODE state), from the config alone: no data read."""
    if config.data.name in IMAGE_SHAPES:
        return IMAGE_SHAPES[config.data.name]
    return (1, config.data.dim)


def expected_shapes(config: TrainConfig) -> dict[str, tuple[int, ...]]:
    """Each stored parameter's shape for the config's model (built on the meta device,
    so nothing is allocated)."""
    with torch.device("meta"):
        model = ODEClassifier(
            1, state_shape(config), config.model.hidden_channels, N_CLASSES[config.data.name]
        )
    return {name: tuple(getattr(model, name).shape[1:]) for name in PARAMETER_NAMES}


def check_contents(path: Path, config: TrainConfig, metrics: object, weights: object) -> None:
    """Raise a one-line :class:`NodestudyError` if the files do not hold a servable run."""
    diverged = check_metrics(path, metrics)
    check_weights(path, config, weights, diverged)
    check_history(path)


def check_metrics(path: Path, metrics: object) -> bool:
    """The metrics are whole; returns whether the run is stored as diverged."""
    if not isinstance(metrics, dict) or any(key not in metrics for key in METRIC_KEYS):
        raise NodestudyError(f"{path}: metrics.json lacks {', '.join(METRIC_KEYS)}")
    diverged = metrics["diverged"]
    if not isinstance(diverged, bool):
        raise NodestudyError(f"{path}: metrics.json's 'diverged' is not true or false")
    if not diverged:
        for key in ("train_accuracy", "test_accuracy"):
            value = metrics[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise NodestudyError(f"{path}: metrics.json's {key} is {value!r}, not in [0, 1]")
    return diverged


def check_weights(path: Path, config: TrainConfig, weights: object, diverged: bool) -> None:
    """The weights are the config's model's: same names, same shapes, finite numbers."""
    if not isinstance(weights, dict) or not all(
        isinstance(w, torch.Tensor) for w in weights.values()
    ):
        raise NodestudyError(f"{path}: weights.pt does not hold a dict of tensors")
    expected = expected_shapes(config)
    if set(weights) != set(expected):
        raise NodestudyError(
            f"{path}: weights.pt holds {sorted(weights)}, not the model's {sorted(expected)}"
        )
    for name, shape in expected.items():
        if tuple(weights[name].shape) != shape:
            raise NodestudyError(
                f"{path}: weights.pt's {name} has shape {tuple(weights[name].shape)}; the "
                f"config's model has {shape}"
            )
        if not weights[name].is_floating_point():
            raise NodestudyError(f"{path}: weights.pt's {name} is not floating-point")
        if not diverged and not bool(torch.isfinite(weights[name]).all()):
            raise NodestudyError(f"{path}: weights.pt's {name} holds NaN or infinite values")


def check_history(path: Path) -> None:
    """The history parses as a table of numbers with the usual columns."""
    try:
        history = pd.read_csv(path / HISTORY_FILE)
    except (ValueError, OSError, UnicodeDecodeError, EOFError) as error:
        raise NodestudyError(
            f"{path}: history.csv.gz does not parse ({type(error).__name__})"
        ) from None
    missing = [column for column in HISTORY_COLUMNS if column not in history.columns]
    if missing:
        raise NodestudyError(f"{path}: history.csv.gz lacks the columns {', '.join(missing)}")
    iteration = pd.to_numeric(history["iteration"], errors="coerce")
    if not iteration.equals(pd.Series(range(1, len(history) + 1), dtype=iteration.dtype)):
        raise NodestudyError(f"{path}: history.csv.gz's iterations are not 1, 2, 3, ...")
