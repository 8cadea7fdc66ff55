"""Point by point under two solvers: the counts the paired test of the accuracy drop
reads (the same test ``check_ode`` makes), for the study's stored runs."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from ...core import scoring
from ...core.solvers import SolverSpec
from ...core.stats import PairedCounts
from ..budget import require_bounded
from ..config import TrainConfig
from ..data.datasets import load_dataset
from ..models import ODEClassifier
from ..runtime.parallel import parallel_map
from ..session import Session, session_or_default
from ..store.runs import Run, load_ensemble
from .evaluate import run_labels, solver_columns

#: The columns of :func:`paired_counts_table`: the test points correct under the
#: training solver and the reference, under one of them only, under neither.
PAIRED_COLUMNS = ("correct_both", "correct_train_only", "correct_reference_only", "correct_neither")


def paired_counts_table(
    runs: Sequence[Run],
    reference: SolverSpec,
    session: Session | None = None,
    *,
    split: str = "test",
) -> pd.DataFrame:
    """One row per run, diverged ones included (``diverged`` True, no counts): how
    its ``split`` fares under its training solver and under ``reference``, point by
    point (:data:`PAIRED_COLUMNS`). The paired test of the accuracy drop reads these
    four integers, as ``check_ode`` does. Memoised beside the run's scores."""
    session = session_or_default(session)
    groups: dict[TrainConfig, list[Run]] = {}
    for run in runs:
        if not run.diverged:
            groups.setdefault(run.config.without_seed(), []).append(run)
    tasks = list(groups.values())
    counted = parallel_map(_paired_rows, tasks, session.n_jobs, reference=reference,
                           split=split, device=session.device)  # fmt: skip
    rows = [row for group in counted for row in group]
    rows += [{**run_labels(run), "diverged": True} for run in runs if run.diverged]
    return pd.DataFrame.from_records(rows)


def _paired_key(split: str, train: SolverSpec, reference: SolverSpec, column: str) -> str:
    return json.dumps(["paired", split, *solver_columns(train).values(),
                       *solver_columns(reference).values(), column])  # fmt: skip


def _paired_rows(
    members: list[Run], *, reference: SolverSpec, split: str, device: str | torch.device
) -> list[dict]:
    train = members[0].final_solver
    keys = [_paired_key(split, train, reference, column) for column in PAIRED_COLUMNS]
    known = [run.scores() for run in members]
    if any(key not in scores for scores in known for key in keys):
        x, y = load_dataset(members[0].config.data).split(split)
        model = load_ensemble(members, device=device)
        own, ref = (_correct(model, x, y, spec) for spec in (train, reference))
        for run, scores, own_correct, ref_correct in zip(members, known, own, ref):
            counts = PairedCounts.of(own_correct, ref_correct)
            new = dict(zip(keys, (counts.both, counts.only_first, counts.only_second,
                                  counts.neither)))  # fmt: skip
            run.add_scores(new)
            scores.update(new)
    return [
        {**run_labels(run), "diverged": False,
         **{column: int(scores[key]) for column, key in zip(PAIRED_COLUMNS, keys)}}
        for run, scores in zip(members, known)
    ]  # fmt: skip


def _correct(model: ODEClassifier, x: Tensor, y: Tensor, solver: SolverSpec) -> np.ndarray:
    """Per member and point, whether ``solver``'s prediction is right: (members, N)."""
    require_bounded(solver, "scoring")
    device = model.w1.device
    predicted, _ = scoring.predict(
        model.vector_field(),
        x,
        solver,
        head=model.classify,
        encode=lambda xb: model.flatten_inputs(xb.to(device)),
    )
    return (predicted == y.cpu()).numpy()
