"""Training many configs: cache look-up, seeds grouped into ensembles, and
independent groups spread over worker processes by joblib (whose dask or ray
backends carry the same call to a cluster)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from .config import TrainConfig
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
    if n_jobs == 1 or len(groups) <= 1:
        for group in groups:
            _train_group(group, cache.root, device, progress, threads=None)
    else:
        tasks = (
            delayed(_train_group)(group, cache.root, device, False, threads=1) for group in groups
        )
        results = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(tasks)
        for _ in tqdm(results, total=len(groups), desc="training groups", disable=not progress):
            pass
    return [cache.get(config) for config in configs]


def _train_group(
    group: Sequence[TrainConfig],
    root: Path,
    device: str | torch.device,
    progress: bool,
    threads: int | None,
) -> None:
    if threads is not None:  # worker processes: one thread each beats oversubscription
        torch.set_num_threads(threads)
    cache = RunCache(root)
    for member in train_ensemble(group, device=device, progress=progress):
        cache.put(member)
