"""Where the study computes and keeps its runs, in one object.

The device, the number of worker processes and the cache are the study's run-time
settings. None of them changes a result beyond floating-point rounding (``config.py``
says why; on CPUs the numerical mode fixes even that), so none is part of a config or
of a run's cache key. They are not passed one by one through every call either: a
notebook makes one :class:`Session` and hands it to every function that trains or
scores many runs.

Functions that put one model on one device (``load_ensemble``, ``Run.model``,
``check_run``) still take a plain torch ``device``, as torch's own functions do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch

from ..core.errors import NodestudyError
from .runtime.devices import available_device
from .runtime.parallel import check_n_jobs
from .store.cache import RunCache


@dataclass(frozen=True)
class Session:
    """The run-time settings of a study: the torch ``device`` that trains and scores,
    ``n_jobs`` worker processes (1: none, -1: one per core) and the run ``cache``
    (a :class:`RunCache`, or its root folder; None: ``$NODESTUDY_CACHE``, else
    ``~/.cache/nodestudy/runs``).

    Checked when made, even where every run will come from the cache, so that a typo
    in a notebook's parameters fails in its first cell rather than after an hour of
    training. Two sessions are equal when their settings are.
    """

    device: str | torch.device = "cpu"
    n_jobs: int = 1
    cache: RunCache | str | os.PathLike | None = field(default_factory=RunCache)

    def __post_init__(self) -> None:
        if isinstance(self.device, torch.device):
            object.__setattr__(self, "device", str(self.device))
        available_device(self.device)
        check_n_jobs(self.n_jobs)
        object.__setattr__(self, "cache", _run_cache(self.cache))


def _run_cache(cache: RunCache | str | os.PathLike | None) -> RunCache:
    if cache is None or isinstance(cache, RunCache):
        return cache if cache is not None else RunCache()
    if isinstance(cache, str | os.PathLike) and str(cache).strip():
        return RunCache(os.path.expanduser(cache))
    raise NodestudyError(
        f"cache={cache!r}: give a RunCache or the folder that holds the runs (None: "
        "$NODESTUDY_CACHE)"
    )


def session_or_default(session: Session | None) -> Session:
    """``session``, or the default one made now (so that the cache root is read from
    ``$NODESTUDY_CACHE`` when a function runs, not when the module was imported)."""
    if session is None:
        return Session()
    if not isinstance(session, Session):
        raise NodestudyError(
            f"expected a Session, got {type(session).__name__}; pass "
            "nodestudy.study.Session(device=..., n_jobs=..., cache=...)"
        )
    return session
