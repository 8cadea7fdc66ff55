"""A finished run as stored on disk (``cache.py`` decides which directories are served).

A run directory holds ``config.json`` (the whole description), ``weights.pt`` (one
model's weights), ``snapshots.pt`` (weights during training), ``history.csv.gz`` (one
row per iteration, compressed) and ``metrics.json``, and ``manifest.json`` with each
file's SHA-256 and the machine that trained it (``manifest.py``). It is written into a
temporary directory and renamed into place, so an interrupted run leaves nothing
half-written, and a finished run is never overwritten.

Beside them, ``scores.json`` memoises the run's accuracy under each test solver it
has been scored with. Scoring a model under a solver is a pure function of the run,
so the figures of several notebooks share one evaluation, and a rerun evaluates only
what is new. It is derived data, sealed with the weights' digest and its own: an
edited memo is moved aside and recomputed, never served.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from ...core.errors import NodestudyError
from ...core.solvers import SolverSpec
from ..config import TrainConfig
from ..data.datasets import load_dataset
from ..models import ODEClassifier
from .manifest import SCORES_FILE, read_manifest, sealed_scores, unsealed_scores
from .space import NO_ROOM, reported_full_disk

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.pt"
HISTORY_FILE = "history.csv.gz"
METRICS_FILE = "metrics.json"
SNAPSHOTS_FILE = "snapshots.pt"


@dataclass(frozen=True)
class Run:
    """A finished training run as stored in the cache."""

    directory: Path
    config: TrainConfig
    metrics: dict[str, Any]

    @property
    def diverged(self) -> bool:
        return bool(self.metrics.get("diverged", False))

    def history(self) -> pd.DataFrame:
        return _read_history(self.directory / HISTORY_FILE).copy()

    def weights(self) -> dict[str, torch.Tensor]:
        return _load_tensors(self.directory / WEIGHTS_FILE)

    def model(self, device: str | torch.device = "cpu") -> ODEClassifier:
        return load_ensemble([self], device=device)

    @property
    def final_solver(self) -> SolverSpec:
        """The solver the run ended with: its training solver, or where adaptation led."""
        if self.config.adaptation is None:
            return self.config.solver
        method = self.config.solver.method
        if self.config.solver.is_fixed_step:
            return SolverSpec(method, self.metrics["final_steps"])
        return SolverSpec(method, tol=self.metrics["final_tol"])

    def solver_at(self, iteration: int) -> SolverSpec:
        """The training solver used at an iteration (1-based)."""
        if self.config.adaptation is None:
            return self.config.solver
        row = _read_history(self.directory / HISTORY_FILE).iloc[iteration - 1]
        method = self.config.solver.method
        if self.config.solver.is_fixed_step:
            return SolverSpec(method, int(row["steps"]))
        return SolverSpec(method, tol=float(row["adapted_value"]))

    def snapshots(self) -> dict[int, dict[str, torch.Tensor]]:
        """Weights at evenly spaced iterations during training (empty if not stored)."""
        path = self.directory / SNAPSHOTS_FILE
        if not path.is_file():
            return {}
        return _load_tensors(path)

    def scores(self) -> dict[str, float]:
        """Accuracies stored by :meth:`add_scores`, by :func:`score_key`. A memo that
        is not a whole, unedited memo of these weights is moved aside with a one-line
        warning and counts as empty: its scores are recomputed, never served."""
        path = self.directory / SCORES_FILE
        if not path.is_file():
            return {}
        try:
            weights = read_manifest(self.directory)["files"][WEIGHTS_FILE]
            return unsealed_scores(path.read_bytes(), weights)
        except (NodestudyError, OSError, KeyError) as error:
            aside = path.with_name(f".corrupt-{SCORES_FILE}-{time.time_ns()}")
            try:
                path.rename(aside)
                where = f"moved to {aside.name}"
            except OSError:
                where = "left in place (the directory cannot be changed)"
            warnings.warn(
                f"nodestudy: {path}: {error}; {where}, its scores are recomputed",
                stacklevel=2,
            )
            return {}

    def add_scores(self, scores: dict[str, float]) -> None:
        """Merge accuracies into the run's memo, replacing the file atomically: a
        reader never sees half a file. Two writers racing may drop each other's new
        entries, which costs a recomputation, never a wrong number. In a cache that
        cannot be written nothing is stored; the scores are still returned to callers."""
        if not scores:
            return
        merged = {**self.scores(), **scores}
        try:
            descriptor, staging = tempfile.mkstemp(prefix=".scores-", dir=self.directory)
        except OSError as error:
            why = "is full" if error.errno in NO_ROOM else "is read-only"
            warnings.warn(
                f"nodestudy: {self.directory} {why}; scores are computed, not memoised",
                stacklevel=2,
            )
            return
        weights = read_manifest(self.directory)["files"][WEIGHTS_FILE]
        content = sealed_scores(merged, weights)
        try:
            with (
                reported_full_disk(self.directory, len(content), "the score memo"),
                os.fdopen(descriptor, "wb") as file,
            ):
                file.write(content)
        except NodestudyError as full:
            os.unlink(staging)
            warnings.warn(f"nodestudy: {full}; scores are computed, not memoised", stacklevel=2)
            return
        os.chmod(staging, 0o666 & ~current_umask())
        os.replace(staging, self.directory / SCORES_FILE)


def score_key(split: str, solver: SolverSpec, iteration: int | None = None) -> str:
    """The memo key of an accuracy: data split, test solver, and the training
    iteration of the weights (None: the final weights)."""
    return json.dumps([split, solver.method, solver.steps, solver.tol, iteration])


@lru_cache(maxsize=64)
def _read_history(path: Path) -> pd.DataFrame:
    """A run's history, read once: finished run directories are never rewritten."""
    return pd.read_csv(path)


@dataclass(frozen=True)
class TrainedMember:
    """What training produced for one seed, before it is stored."""

    config: TrainConfig
    weights: dict[str, torch.Tensor]
    history: pd.DataFrame
    metrics: dict[str, Any]
    snapshots: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)


def open_run(directory: str | Path) -> Run:
    """Read a run directory, or fail saying why it is not one."""
    path = Path(directory)
    if not path.is_dir():
        raise NodestudyError(
            f"run directory {str(path)!r} does not exist; pass the 'run' path printed "
            "by `nodestudy train --json`"
        )
    missing = [
        name for name in (CONFIG_FILE, WEIGHTS_FILE, METRICS_FILE) if not (path / name).is_file()
    ]
    if missing:
        raise NodestudyError(
            f"{str(path)!r} holds no finished run (missing {', '.join(missing)}); "
            "pass the 'run' path printed by `nodestudy train --json`"
        )
    try:
        config = TrainConfig.from_dict(json.loads((path / CONFIG_FILE).read_text()))
        metrics = json.loads((path / METRICS_FILE).read_text())
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise NodestudyError(
            f"{path} holds a damaged run ({type(error).__name__}: {error}); delete the "
            "directory and train the run again"
        ) from None
    if not isinstance(metrics, dict):
        raise NodestudyError(
            f"{path} holds a damaged run (metrics.json is not an object); delete the "
            "directory and train the run again"
        )
    return Run(directory=path, config=config, metrics=metrics)


def _load_tensors(path: Path) -> dict:
    """A stored checkpoint, read with ``weights_only=True``: tensors and plain data only,
    so a crafted file cannot run code."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated, not a checkpoint, or refused by weights_only
        raise NodestudyError(
            f"{path} is unreadable ({type(error).__name__}); delete its run directory and "
            "train the run again"
        ) from None


def current_umask() -> int:
    """The process umask (read without changing it for good)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load_ensemble(
    runs: Sequence[Run],
    device: str | torch.device = "cpu",
    weights: Sequence[dict[str, torch.Tensor]] | None = None,
) -> ODEClassifier:
    """Stack runs of one architecture and data set into one ensemble model, with their
    final weights or the given ones (e.g. snapshots from during training)."""
    first = runs[0].config
    for run in runs[1:]:
        if run.config.data != first.data or run.config.model != first.model:
            raise NodestudyError("runs stacked into one ensemble need the same data and model")
    data = load_dataset(first.data)
    model = ODEClassifier.from_member_states(
        weights if weights is not None else [run.weights() for run in runs],
        data.state_shape,
        first.model.hidden_channels,
        data.n_classes,
    )
    return model.to(device)
