"""Scoring trained models under any solver: accuracy, trajectories, crossings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from ...core import scoring
from ...core.errors import NodestudyError
from ...core.integrate import solve
from ...core.solvers import SolverSpec
from ..budget import require_bounded
from ..config import TrainConfig
from ..data.datasets import load_dataset
from ..models import ODEClassifier
from ..runtime.parallel import parallel_map
from ..session import Session, session_or_default
from ..store.runs import Run, load_ensemble, score_key


def accuracy_with_nfe(
    model: ODEClassifier, x: Tensor, y: Tensor, solver: SolverSpec, *, chunk_size: int = 4096
) -> tuple[Tensor, int]:
    """Fraction of (x, y) each member classifies correctly (correct / len(y)), and the
    vector-field evaluations that took (summed over chunks of ``chunk_size``): the
    core's scoring (:func:`nodestudy.core.scoring.accuracy_with_nfe`) applied to the
    ensemble. Returns a tensor of shape (members,) and an int."""
    require_bounded(solver, "scoring")
    device = model.w1.device
    try:
        return scoring.accuracy_with_nfe(
            model.vector_field(),
            x,
            y,
            solver,
            head=model.classify,
            encode=lambda xb: model.flatten_inputs(xb.to(device)),
            chunk_size=chunk_size,
        )
    except AssertionError as error:  # torchdiffeq's "underflow in dt": tol out of reach
        if "underflow" not in str(error):
            raise
        raise NodestudyError(
            f"{solver.label()} cannot reach its tolerance on this model (torchdiffeq: "
            f"{error}); use a larger --tol"
        ) from None


def accuracy(
    model: ODEClassifier, x: Tensor, y: Tensor, solver: SolverSpec, *, chunk_size: int = 4096
) -> Tensor:
    """Fraction of (x, y) each member classifies correctly: correct / len(y)."""
    return accuracy_with_nfe(model, x, y, solver, chunk_size=chunk_size)[0]


@torch.no_grad()
def trajectories(model: ODEClassifier, x: Tensor, solver: SolverSpec) -> Tensor:
    """Each member's path of each input on the solver's grid: (members, N, grid points, C*L)."""
    device = model.w1.device
    solution = solve(model.vector_field(), model.flatten_inputs(x.to(device)), solver, record=True)
    return solution.trajectory.permute(1, 2, 0, 3).cpu()


@torch.no_grad()
def logits_of_states(model: ODEClassifier, states: Tensor) -> Tensor:
    """The classifier applied directly to ODE end states (members, N, C*L)."""
    return model.classify(states.to(model.w1.device)).cpu()


def snapshot_accuracy_table(
    runs: Sequence[Run],
    test_solvers: Callable[[Run, int], Sequence[SolverSpec]],
    session: Session | None = None,
    *,
    split: str = "test",
) -> pd.DataFrame:
    """Tidy table of the weights kept during training: one row per run, snapshot
    iteration and test solver (``test_solvers(run, iteration)`` names them)."""
    session = session_or_default(session)
    tasks = [
        (run, {it: list(test_solvers(run, it)) for it in run.snapshots()})
        for run in runs
        if not run.diverged
    ]
    rows = parallel_map(_snapshot_rows, tasks, session.n_jobs, split=split, device=session.device)
    return pd.DataFrame.from_records([row for group in rows for row in group])


def _snapshot_rows(
    task: tuple[Run, dict[int, list[SolverSpec]]], *, split: str, device: str | torch.device
) -> list[dict]:
    run, solvers_by_iteration = task
    snapshots: dict[int, dict[str, torch.Tensor]] = {}

    def snapshot_model(iteration: int) -> ODEClassifier:
        if not snapshots:  # read the file only if some score is not memoised
            snapshots.update(run.snapshots())
        return load_ensemble([run], device=device, weights=[snapshots[iteration]])

    labels = run_labels(run)
    rows = []
    for iteration, solvers in sorted(solvers_by_iteration.items()):
        load = partial(snapshot_model, iteration)
        (scores,) = _memoised_scores([run], solvers, split, iteration, load)
        rows += [
            {**labels, "iteration": iteration, **solver_columns(spec), "accuracy": scores[spec]}
            for spec in solvers
        ]
    return rows


def _memoised_scores(
    members: Sequence[Run],
    solvers: Sequence[SolverSpec],
    split: str,
    iteration: int | None,
    load_model: Callable[[], ODEClassifier],
) -> list[dict[SolverSpec, float]]:
    """Each member's accuracy under every solver, from the runs' memo; a solver some
    member lacks is scored for all members in one batched solve (the model, with the
    members stacked, is loaded only then) and memoised."""
    known = [run.scores() for run in members]
    keys = {spec: score_key(split, spec, iteration) for spec in solvers}
    missing = [spec for spec in solvers if any(keys[spec] not in scores for scores in known)]
    if missing:
        x, y = load_dataset(members[0].config.data).split(split)
        model = load_model()
        new: list[dict[str, float]] = [{} for _ in members]
        for spec in missing:
            for member_new, score in zip(new, accuracy(model, x, y, spec).tolist()):
                member_new[keys[spec]] = score
        for run, scores, member_new in zip(members, known, new):
            run.add_scores(member_new)
            scores.update(member_new)
    return [{spec: scores[keys[spec]] for spec in solvers} for scores in known]


def solver_columns(spec: SolverSpec) -> dict:
    """The columns that name a test solver in a results table."""
    return {"test_method": spec.method, "test_steps": spec.steps, "test_tol": spec.tol}


def run_labels(run: Run) -> dict:
    """The columns that identify a run in a results table."""
    config = run.config
    return {
        "run": run.directory.name,
        "data": config.data.short_name,
        "train_method": config.solver.method,
        "train_steps": config.solver.steps,
        "train_tol": config.solver.tol,
        "iterations": config.iterations,
        "seed": config.seed,
        "adapted": config.adaptation is not None,
        "gradient": config.gradient,
    }


def runs_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per run: its labels, final solver and stored metrics."""
    rows = []
    for run in runs:
        final = run.final_solver
        rows.append(
            {
                **run_labels(run),
                "final_steps": final.steps,
                "final_tol": final.tol,
                **{k: v for k, v in run.metrics.items() if k not in ("final_steps", "final_tol")},
            }
        )
    return pd.DataFrame.from_records(rows)


def accuracy_table(
    runs: Sequence[Run],
    test_solvers: Callable[[TrainConfig], Sequence[SolverSpec]],
    session: Session | None = None,
    *,
    split: str = "test",
) -> pd.DataFrame:
    """Tidy table: one row per run and test solver, with the run's accuracy.

    ``test_solvers(config)`` names the test solvers for a run's config. Seeds of
    one configuration are stacked and scored together; configurations are spread
    over the session's worker processes. Diverged runs are left out (the paper averages over
    the seeds whose training succeeded). Scores are memoised in the run directories
    (``runs.py``), so only pairs of run and solver not scored before are computed.
    """
    session = session_or_default(session)
    groups: dict[TrainConfig, list[Run]] = {}
    for run in runs:
        if not run.diverged:
            groups.setdefault(run.config.without_seed(), []).append(run)
    tasks = [(members, list(test_solvers(config))) for config, members in groups.items()]
    rows = parallel_map(_group_rows, tasks, session.n_jobs, split=split, device=session.device)
    return pd.DataFrame.from_records([row for group in rows for row in group])


def _group_rows(
    task: tuple[list[Run], list[SolverSpec]], *, split: str, device: str | torch.device
) -> list[dict]:
    members, solvers = task
    scores = _memoised_scores(
        members, solvers, split, None, lambda: load_ensemble(members, device=device)
    )
    labels = [run_labels(run) for run in members]
    rows = []
    for spec in solvers:
        rows += [
            {**label, **solver_columns(spec), "accuracy": member_scores[spec]}
            for label, member_scores in zip(labels, scores)
        ]
    return rows


@torch.no_grad()
def decision_grid(
    model: ODEClassifier,
    member: int,
    lower: Sequence[float],
    upper: Sequence[float],
    resolution: int = 300,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The class the linear head assigns to each point of a 2-D grid of end states."""
    gx, gy = np.meshgrid(
        np.linspace(lower[0], upper[0], resolution), np.linspace(lower[1], upper[1], resolution)
    )
    points = torch.tensor(np.stack([gx.ravel(), gy.ravel()], axis=1), dtype=torch.float32)
    states = points.unsqueeze(0).expand(model.n_members, -1, -1)
    classes = logits_of_states(model, states)[member].argmax(-1).numpy()
    return gx, gy, classes.reshape(gx.shape)
