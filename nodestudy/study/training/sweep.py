"""Training many configs: cache look-up, seeds grouped into ensembles, and
independent groups spread over worker processes (``parallel.py``)."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from operator import itemgetter
from pathlib import Path

import torch

from ...core.errors import NodestudyError
from ...core.solvers import SolverSpec
from ..budget import FLOAT, field_work, planned_jobs, require_bounded, require_memory
from ..config import TrainConfig
from ..data.datasets import load_dataset
from ..runtime.parallel import parallel_map
from ..session import Session, session_or_default
from ..store.cache import RunCache
from ..store.integrity import expected_shapes
from ..store.runs import Run
from ..store.space import require_space
from .train import SNAPSHOTS, train_ensemble, trains_as_ensemble


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
    """Relative cost of training a group, for scheduling the longest first: solves times
    the field's arithmetic, plus a fixed overhead per evaluation that dominates small
    states (measured: a sphere2 step costs about as much as 20,000 multiply-adds more)."""
    config = group[0]
    per_solve = config.solver.nfe if trains_as_ensemble(config) else 100
    work = config.batch_size * field_work(config) * len(group) + 20_000 * 128
    return config.iterations * per_solve * work


def stored_bytes(config: TrainConfig) -> int:
    """About what a finished run takes on disk: its weights (and an adapted run's
    snapshots), its history."""
    weights = FLOAT * sum(math.prod(shape) for shape in expected_shapes(config).values())
    snapshots = SNAPSHOTS if config.adaptation is not None else 0
    return weights * (1 + snapshots) + 200 * config.iterations + 2**16


def train_runs(
    configs: Sequence[TrainConfig], session: Session | None = None, *, progress: bool = True
) -> list[Run]:
    """The finished run of every config, training only those not in the session's
    cache, on its device and over its worker processes.

    Before any training: the cache must be writable and the data sets must load, each
    a one-line error otherwise (the session made sure of its device). Each group is
    stored as soon as it finishes, so an interrupted sweep keeps all finished runs and a
    rerun trains only what is missing. A group that fails does not stop the others; the failures
    are reported in one error at the end, when everything else is stored.
    """
    session = session_or_default(session)
    cache, device = session.cache, session.device
    missing = [config for config in configs if cache.get(config) is None]
    if missing:
        cache.ensure_writable()
        cache.clean_partials()
        for config in missing:
            require_bounded(config.solver, "training", tested=True)
            if config.adaptation is not None and hasattr(config.adaptation, "max_steps"):
                require_bounded(
                    SolverSpec(config.solver.method, config.adaptation.max_steps),
                    "adapted training (its max_steps)",
                    tested=True,
                )
        require_memory(ensemble_groups(missing))
        require_space(cache.root, sum(map(stored_bytes, missing)), f"{len(missing)} trained run(s)")
        for data in dict.fromkeys(config.data for config in missing):
            dataset = load_dataset(data)
            for config in missing:
                if config.data == data and config.batch_size > len(dataset.y_train):
                    raise NodestudyError(
                        f"batch size {config.batch_size} exceeds the {len(dataset.y_train)} "
                        f"training points of {data.short_name}; use at most "
                        f"{len(dataset.y_train)} (a full batch)"
                    )
    # the costliest first; each cost computed once (also the progress bar's weight)
    costed = sorted(
        ((estimated_cost(g), g) for g in ensemble_groups(missing)), key=itemgetter(0), reverse=True
    )
    groups = [group for _, group in costed]
    n_jobs = planned_jobs(groups, session.n_jobs) if groups else session.n_jobs
    label = None
    if progress and n_jobs != 1 and groups:
        label = f"training {len(missing)} runs as {len(groups)} ensembles"
    failures = parallel_map(
        _train_group,
        groups,
        n_jobs,
        progress=label,
        weights=[cost for cost, _ in costed],
        reports=True,
        root=cache.root,
        device=device,
        progress_bars=progress and n_jobs == 1,
    )
    failures = [failure for failure in failures if failure is not None]
    if failures:
        raise NodestudyError(
            f"{len(failures)} of {len(groups)} training groups failed; every other run is "
            f"stored, rerun to train only what is missing. First: {failures[0]}"
        )
    return [cache.get(config) for config in configs]


def train_within(
    configs: Sequence[TrainConfig], session: Session, budget: float | None = None
) -> int:
    """Train ``configs`` (those missing from the session's cache), the costliest groups first,
    ``session.n_jobs`` groups at a time, starting no group once ``budget`` seconds have
    passed (None: no limit) but the first, so that every call makes progress; every
    finished run is stored as it finishes. Returns how many runs were trained: a later
    call trains the rest."""
    if budget is None:
        train_runs(configs, session)
        return len(configs)
    groups = sorted(ensemble_groups(configs), key=estimated_cost, reverse=True)
    width = max(1, session.n_jobs if session.n_jobs > 0 else os.cpu_count() or 1)
    started, trained = time.perf_counter(), 0
    for start in range(0, len(groups), width):
        if start and time.perf_counter() - started >= budget:
            break  # the first chunk always trains: every call makes progress
        chunk = [config for group in groups[start : start + width] for config in group]
        train_runs(chunk, session)
        trained += len(chunk)
    return trained


def _train_group(
    group: Sequence[TrainConfig],
    *,
    root: Path,
    device: str | torch.device,
    progress_bars: bool,
    report: Callable[[float], None] | None = None,
) -> str | None:
    """Train and store one group; a failure is returned as one line, not raised, so
    that the rest of the sweep goes on."""
    cache = RunCache(root)
    try:
        for member in train_ensemble(group, device=device, progress=progress_bars, report=report):
            cache.put(member)
    except Exception as error:  # KeyboardInterrupt still stops the sweep
        first = group[0]
        return (
            f"{first.data.short_name} {first.solver.label()} seeds "
            f"{[c.seed for c in group]}: {type(error).__name__}: {error}"
        )
    return None
