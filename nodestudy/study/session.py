"""Where the study computes and keeps its runs, in one object.

The device, the number of worker processes and the cache are the study's run-time
settings. None of them is part of a result: a run's key and numbers do not depend on
them (``config.py`` says why). So they are not part of any config, and they are not
passed one by one through every call either. A notebook makes one :class:`Session`
and hands it to every function that trains or scores many runs.

Functions that put one model on one device (``load_ensemble``, ``Run.model``,
``check_run``) still take a plain torch ``device``, as torch's own functions do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..core.errors import NodestudyError
from .runtime.devices import available_device
from .store.cache import RunCache


@dataclass(frozen=True)
class Session:
    """The run-time settings of a study: the torch ``device`` that trains and scores,
    ``n_jobs`` worker processes (1: none, -1: one per core) and the run ``cache``
    (a :class:`RunCache`, or its root folder; by default ``$NODESTUDY_CACHE``).

    Checked when made, so that a typo in a notebook's parameters fails in its first
    cell rather than after an hour of training.
    """

    device: str = "cpu"
    n_jobs: int = 1
    cache: RunCache = field(default_factory=RunCache)

    def __post_init__(self) -> None:
        if isinstance(self.device, torch.device):
            object.__setattr__(self, "device", str(self.device))
        available_device(self.device)
        if isinstance(self.n_jobs, bool) or not isinstance(self.n_jobs, int) or self.n_jobs == 0:
            raise NodestudyError(
                f"n_jobs={self.n_jobs!r}: give a whole number of worker processes "
                "(1: none, -1: one per core)"
            )
        if isinstance(self.cache, str | Path):
            object.__setattr__(self, "cache", RunCache(self.cache))
        elif not isinstance(self.cache, RunCache):
            raise NodestudyError(
                f"cache={self.cache!r}: give a RunCache or the folder that holds the runs"
            )


def session_or_default(session: Session | None) -> Session:
    """``session``, or the default one made now (so that the cache root is read from
    ``$NODESTUDY_CACHE`` when a function runs, not when the module was imported)."""
    return session if session is not None else Session()
