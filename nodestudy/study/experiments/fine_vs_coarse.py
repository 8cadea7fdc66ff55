"""Figures 1 and 2: a model trained with fine euler steps against one trained with
coarse steps, on Sphere2. What the notebook draws, computed here: the accuracy of each
under every test solver, their trajectories and crossing pairs, and the coarse model's
end states over its decision regions at its own K and at twice that."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...core.crossings import count_crossings
from ...core.solvers import SolverSpec
from ..analysis.evaluate import accuracy, accuracy_table, decision_grid, trajectories
from ..data.datasets import load_dataset
from ..figures.views import panel_views
from ..profiles import Study
from ..session import Session, session_or_default
from ..store.runs import Run, load_ensemble
from ..training.sweep import train_runs


@dataclass(frozen=True)
class FineVsCoarse:
    #: Training K of the "fine" and the "coarse" model.
    steps: dict[str, int]
    runs: dict[str, list[Run]]
    #: Accuracy tables under ``Study.step_count_solvers``, per model.
    tables: dict[str, pd.DataFrame]
    #: Crossing pairs of the plotted test points' trajectories, per seed.
    crossings: dict[str, list[int]]
    #: The first seed's trajectories of the plotted points (N, grid points, 2).
    paths: dict[str, np.ndarray]
    labels: np.ndarray


def fine_vs_coarse(study: Study, n_plotted: int, session: Session | None = None) -> FineVsCoarse:
    """Train (or load) both models for every seed and compute Figure 1's panels."""
    session = session_or_default(session)
    steps = {"fine": study.fine_steps, "coarse": study.coarse_steps}
    runs = {
        name: train_runs([study.config("euler", k, seed) for seed in study.seeds], session)
        for name, k in steps.items()
    }
    every_run = [run for group in runs.values() for run in group]
    table = accuracy_table(every_run, study.step_count_solvers, session)
    data = load_dataset(study.data)
    x_plot = data.x_test[:n_plotted]
    crossings, paths = {}, {}
    for name, group in runs.items():
        model = load_ensemble(group, device=session.device)
        member_paths = trajectories(model, x_plot, SolverSpec("euler", steps[name])).numpy()
        crossings[name] = [count_crossings(p) for p in member_paths]
        paths[name] = member_paths[0]
    return FineVsCoarse(
        steps=steps,
        runs=runs,
        tables={name: table[table.train_steps == k] for name, k in steps.items()},
        crossings=crossings,
        paths=paths,
        labels=data.y_test[:n_plotted].numpy(),
    )


@dataclass(frozen=True)
class DecisionRegions:
    """Figure 2: the coarse model's decision regions and its test end states under
    euler at each of ``steps`` (its own K and twice that), with the accuracy of each.
    ``grids`` holds, per K, the head's class over the panel's view (x, y, class;
    ``figures.views`` chooses the views)."""

    grids: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]
    ends: dict[int, np.ndarray]
    scores: dict[int, float]
    labels: np.ndarray
    train_steps: int
    seed: int


def coarse_decision_regions(
    result: FineVsCoarse, study: Study, session: Session | None = None
) -> DecisionRegions:
    session = session_or_default(session)
    coarse = load_ensemble(result.runs["coarse"][:1], device=session.device)
    data = load_dataset(study.data)
    k = result.steps["coarse"]
    ends, scores = {}, {}
    for kk in (k, 2 * k):
        solver = SolverSpec("euler", kk)
        ends[kk] = trajectories(coarse, data.x_test, solver)[0, :, -1].numpy()
        scores[kk] = float(accuracy(coarse, data.x_test, data.y_test, solver)[0])
    views = panel_views(ends)
    grids = {kk: decision_grid(coarse, 0, *views[kk]) for kk in ends}
    seed = result.runs["coarse"][0].config.seed
    return DecisionRegions(grids, ends, scores, data.y_test.numpy(), k, seed)


def fine_vs_coarse_numbers(
    result: FineVsCoarse, study: Study, regions: DecisionRegions | None = None
) -> dict:
    """The numbers written beside Figure 1, per model; with ``regions``, Figure 2's
    accuracies by evaluation K beside the coarse model's."""
    from ..figures.records import frame_records

    numbers = {
        name: {
            "train_steps": result.steps[name],
            "seeds": list(study.seeds),
            "crossing_pairs_per_seed": result.crossings[name],
            "pairs_checked": len(result.labels) * (len(result.labels) - 1) // 2,
            "accuracy_by_test_steps": frame_records(
                result.tables[name]
                .groupby(["test_method", "test_steps"])["accuracy"]
                .agg(["mean", "std"])
                .reset_index()
            ),
        }
        for name in result.steps
    }
    if regions is not None:
        numbers["coarse"]["decision_region_accuracy"] = regions.scores
    return numbers
