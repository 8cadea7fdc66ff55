"""One way to spread independent work over processes: joblib, one torch thread per
worker (these small models gain nothing from more, and two workers with two threads
each would oversubscribe the cores). A joblib backend set by the caller, e.g.
``joblib.parallel_config(backend="dask")``, carries the same call to a cluster."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from ...core.errors import NodestudyError

Item = TypeVar("Item")


def check_n_jobs(n_jobs: object) -> None:
    """One line, before any work, unless ``n_jobs`` is a number of worker processes
    (1: none, -1: one per core)."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise NodestudyError(
            f"n_jobs={n_jobs!r}: give a whole number of worker processes (1: none, -1: one per "
            "core)"
        )


def parallel_map(
    function: Callable[..., Any],
    items: Iterable[Item],
    n_jobs: int = 1,
    *,
    progress: str | None = None,
    weights: Sequence[float] | None = None,
    reports: bool = False,
    **kwargs: Any,
) -> list[Any]:
    """``[function(item, **kwargs) for item in items]``, in order, over ``n_jobs``
    worker processes (1: in this process). ``progress`` labels a progress bar; with
    ``weights`` (each item's expected cost) it advances by work done rather than by
    items, so that its estimate of the time left holds when the costliest go first.
    ``reports``: ``function`` takes ``report=``, a callable it gives the share of its
    item done now and then, and the bar moves while long items run (with workers
    and a bar; else ``report`` is None)."""
    check_n_jobs(n_jobs)
    items = list(items)
    weights = list(weights or [1.0] * len(items))
    serial = n_jobs == 1 or len(items) <= 1
    with tempfile.TemporaryDirectory(prefix="nodestudy-progress-") as folder:
        shares = Path(folder) if reports and progress and not serial else None
        if reports:
            kwargs["report"] = None
        if serial:
            iterator = ((i, function(item, **kwargs)) for i, item in enumerate(items))
        else:
            # unordered, so that the progress bar counts what has finished (the costliest
            # items go first and would hold an ordered count at zero); back in order below
            tasks = (
                delayed(_one_thread)(function, i, item, shares, **kwargs)
                for i, item in enumerate(items)
            )
            iterator = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(tasks)
        results = dict(_counted(iterator, progress, weights, shares))
    return [results[i] for i in range(len(items))]


class ShareReport:
    """Writes the share of one item done to a file the progress bar reads: a worker
    process cannot move the parent's bar itself."""

    def __init__(self, folder: Path, index: int) -> None:
        self.path = folder / str(index)

    def __call__(self, share: float) -> None:
        staging = self.path.with_suffix(".tmp")
        staging.write_text(f"{share:.4f}")
        os.replace(staging, self.path)


def _shares(folder: Path | None, finished: set[int]) -> dict[int, float]:
    """The shares reported by the items still running."""
    found = {}
    for path in folder.iterdir() if folder is not None else ():
        if path.suffix or int(path.name) in finished:
            continue
        try:
            found[int(path.name)] = min(1.0, float(path.read_text()))
        except (OSError, ValueError):
            continue
    return found


#: Seconds between two readings of the running items' shares.
SHARE_POLL_SECONDS = 5.0


def _counted(
    iterator: Iterable[tuple[int, Any]],
    label: str | None,
    weights: Sequence[float],
    shares: Path | None = None,
):
    """Yield the finished ``(index, result)`` pairs, advancing a bar by their weights
    (and, every few seconds, by the shares the running items report)."""
    total = float(sum(weights)) or 1.0
    bar_format = (
        "{desc}: {percentage:3.0f}% of the work{postfix} [{elapsed} elapsed, {remaining} left]"
    )
    finished: set[int] = set()
    lock, stop = threading.Lock(), threading.Event()

    def show(bar) -> None:
        running = _shares(shares, finished)
        done = sum(weights[i] for i in finished)
        bar.n = done + sum(weights[i] * share for i, share in running.items())
        bar.set_postfix_str(f"{len(finished)}/{len(weights)} done", refresh=False)
        bar.refresh()

    def poll(bar) -> None:
        while not stop.wait(SHARE_POLL_SECONDS):
            with lock:
                show(bar)

    with tqdm(
        total=total, desc=label, disable=label is None, bar_format=bar_format, mininterval=0
    ) as bar:
        poller = threading.Thread(target=poll, args=(bar,), daemon=True)
        if shares is not None:
            poller.start()
        try:
            for index, result in iterator:
                with lock:
                    finished.add(index)
                    show(bar)
                yield index, result
        finally:
            stop.set()


def _one_thread(
    function: Callable[..., Any], index: int, item: Any, shares: Path | None, **kwargs: Any
) -> Any:
    torch.set_num_threads(1)
    if shares is not None:
        kwargs["report"] = ShareReport(shares, index)
    return index, function(item, **kwargs)
