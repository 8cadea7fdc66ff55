"""The cache of finished runs: one directory per training config, keyed by its hash.

A run directory holds ``config.json`` (the whole description), ``weights.pt`` (one
model's weights), ``history.csv`` (one row per iteration) and ``metrics.json``. It is
written into a temporary directory and renamed into place, so an interrupted run
leaves nothing half-written and a finished run is never overwritten.

Beside them, ``scores.json`` memoises the run's accuracy under each test solver it
has been scored with. Scoring a model under a solver is a pure function of the run,
so the figures of several notebooks share one evaluation, and a rerun evaluates only
what is new. It is derived data: deleting it loses nothing but time.

The cache root is the ``NODESTUDY_CACHE`` environment variable, else
``$XDG_CACHE_HOME/nodestudy/runs`` (``~/.cache/nodestudy/runs``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from .config import TrainConfig
from .core.errors import NodestudyError
from .core.solvers import SolverSpec
from .data import load_dataset
from .models import ODEClassifier

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.pt"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
SNAPSHOTS_FILE = "snapshots.pt"
SCORES_FILE = "scores.json"


def default_cache_root() -> Path:
    if env := os.environ.get("NODESTUDY_CACHE"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nodestudy" / "runs"


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
        return torch.load(self.directory / WEIGHTS_FILE, map_location="cpu", weights_only=True)

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
        return torch.load(path, map_location="cpu", weights_only=True)

    def scores(self) -> dict[str, float]:
        """Accuracies stored by :meth:`add_scores`, by :func:`score_key`."""
        path = self.directory / SCORES_FILE
        return json.loads(path.read_text()) if path.is_file() else {}

    def add_scores(self, scores: dict[str, float]) -> None:
        """Merge accuracies into the run's memo, replacing the file atomically: a
        reader never sees half a file. Two writers racing may drop each other's new
        entries, which costs a recomputation, never a wrong number."""
        if not scores:
            return
        merged = {**self.scores(), **scores}
        descriptor, staging = tempfile.mkstemp(prefix=".scores-", dir=self.directory)
        with os.fdopen(descriptor, "w") as file:
            json.dump(merged, file, indent=0, sort_keys=True)
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
    config = TrainConfig.from_dict(json.loads((path / CONFIG_FILE).read_text()))
    metrics = json.loads((path / METRICS_FILE).read_text())
    return Run(directory=path, config=config, metrics=metrics)


class RunCache:
    """Finished runs on disk, looked up by config."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_root()

    def path(self, config: TrainConfig) -> Path:
        return self.root / config.key()[:24]

    def get(self, config: TrainConfig) -> Run | None:
        path = self.path(config)
        if not (path / METRICS_FILE).is_file():
            return None
        return open_run(path)

    def put(self, member: TrainedMember) -> Run:
        """Store a finished run atomically; an existing entry wins and is kept."""
        final = self.path(member.config)
        if (existing := self.get(member.config)) is not None:
            return existing
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".partial-{final.name}-", dir=self.root))
        try:
            (staging / CONFIG_FILE).write_text(json.dumps(member.config.to_dict(), indent=2))
            torch.save(member.weights, staging / WEIGHTS_FILE)
            torch.save(member.snapshots, staging / SNAPSHOTS_FILE)
            member.history.to_csv(staging / HISTORY_FILE, index=False)
            (staging / METRICS_FILE).write_text(json.dumps(member.metrics, indent=2))
            try:
                staging.rename(final)
            except OSError:
                if self.get(member.config) is None:  # not a lost race: a real error
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return open_run(final)

    def runs(self) -> list[Run]:
        """Every finished run in the cache."""
        if not self.root.is_dir():
            return []
        return [
            open_run(path)
            for path in sorted(self.root.iterdir())
            if not path.name.startswith(".") and (path / METRICS_FILE).is_file()
        ]


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
