"""One way to spread independent work over processes: joblib, one torch thread per
worker (these small models gain nothing from more, and two workers with two threads
each would oversubscribe the cores). A joblib backend set by the caller, e.g.
``joblib.parallel_config(backend="dask")``, carries the same call to a cluster."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import torch
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from ...core.errors import NodestudyError

Item = TypeVar("Item")


def parallel_map(
    function: Callable[..., Any],
    items: Iterable[Item],
    n_jobs: int = 1,
    *,
    progress: str | None = None,
    weights: Sequence[float] | None = None,
    **kwargs: Any,
) -> list[Any]:
    """``[function(item, **kwargs) for item in items]``, in order, over ``n_jobs``
    worker processes (1: in this process). ``progress`` labels a progress bar; with
    ``weights`` (each item's expected cost) it advances by work done rather than by
    items, so that its estimate of the time left holds when the costliest go first."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0:
        raise NodestudyError(
            f"n_jobs={n_jobs!r}: give a whole number of worker processes (1: none, -1: one per "
            "core)"
        )
    items = list(items)
    if n_jobs == 1 or len(items) <= 1:
        iterator = ((i, function(item, **kwargs)) for i, item in enumerate(items))
    else:
        # unordered, so that the progress bar counts what has finished (the costliest
        # items go first and would hold an ordered count at zero); put back in order below
        tasks = (delayed(_one_thread)(function, i, item, **kwargs) for i, item in enumerate(items))
        iterator = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(tasks)
    results = dict(_counted(iterator, progress, weights or [1.0] * len(items)))
    return [results[i] for i in range(len(items))]


def _counted(iterator: Iterable[tuple[int, Any]], label: str | None, weights: Sequence[float]):
    """Yield the finished ``(index, result)`` pairs, advancing a bar by their weights."""
    total = float(sum(weights)) or 1.0
    bar_format = (
        "{desc}: {percentage:3.0f}% of the work{postfix} [{elapsed} elapsed, {remaining} left]"
    )
    with tqdm(
        total=total, desc=label, disable=label is None, bar_format=bar_format, mininterval=0
    ) as bar:
        for done, (index, result) in enumerate(iterator, start=1):
            bar.set_postfix_str(f"{done}/{len(weights)} done", refresh=False)
            bar.update(weights[index])
            yield index, result


def _one_thread(function: Callable[..., Any], index: int, item: Any, **kwargs: Any) -> Any:
    torch.set_num_threads(1)
    return index, function(item, **kwargs)
