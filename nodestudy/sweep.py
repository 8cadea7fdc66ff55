"""Training many configs: cache look-up, seeds grouped into ensembles, and
independent groups spread over worker processes (``parallel.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from .config import TrainConfig
from .parallel import parallel_map
from .runs import Run, RunCache
from .train import train_ensemble, trains_as_ensemble


def ensemble_groups(configs: Sequence[TrainConfig], max_size: int = 16) -> list[list[TrainConfig]]:
    """Group configs that differ only in seed; adaptive or adapted runs stay alone."""
    groups: dict[object, list[TrainConfig]] = {}
    for config in dict.fromkeys(configs):
        key = config.without_seed() if trains_as_ensemble(config) else config
        groups.setdefault(key, []).append(config)
    return [
        group[start : start + max_size]
        for group in groups.values()
        for start in range(0, len(group), max_size)
    ]


def estimated_cost(group: Sequence[TrainConfig]) -> float:
    """Relative cost of training a group, for scheduling the longest first."""
    config = group[0]
    per_solve = config.solver.nfe if trains_as_ensemble(config) else 100
    return config.iterations * per_solve * (1 + 0.1 * len(group))


def train_runs(
    configs: Sequence[TrainConfig],
    *,
    cache: RunCache | None = None,
    n_jobs: int = 1,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> list[Run]:
    """The finished run of every config, training only those not in the cache.

    Each group is stored as soon as it finishes, so an interrupted sweep keeps all
    finished runs and a rerun trains only what is missing.
    """
    cache = cache or RunCache()
    missing = [config for config in configs if cache.get(config) is None]
    groups = sorted(ensemble_groups(missing), key=estimated_cost, reverse=True)
    label = "training groups" if progress and n_jobs != 1 else None
    parallel_map(
        _train_group,
        groups,
        n_jobs,
        progress=label,
        root=cache.root,
        device=device,
        progress_bars=progress and n_jobs == 1,
    )
    return [cache.get(config) for config in configs]


def _train_group(
    group: Sequence[TrainConfig], *, root: Path, device: str | torch.device, progress_bars: bool
) -> None:
    cache = RunCache(root)
    for member in train_ensemble(group, device=device, progress=progress_bars):
        cache.put(member)
