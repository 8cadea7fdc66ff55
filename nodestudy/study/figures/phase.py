"""Figures 1-3: trajectories, decision regions, accuracy against test steps, and
Lady Windermere's fan."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from .style import (
    CLASS_COLOURS,
    METHOD_COLOURS,
    log2_steps_axis,
    mean_std_line,
)
from .views import shares_view, spread


def plot_trajectories(
    ax: Axes, paths: np.ndarray, labels: np.ndarray, title: str, view_quantile: float = 0.01
) -> None:
    """Phase-space trajectories (N, grid points, 2) coloured by class.

    A few end points far out would squeeze the rest into a corner, so the view keeps
    the central positions (between the ``view_quantile`` and 1 - ``view_quantile``
    quantiles) and says so when that hides anything.
    """
    # one class's orbits would hide the other's where they overlap: draw them
    # interleaved, point by point in a fixed shuffled order, not class after class
    order = np.random.default_rng(0).permutation(len(paths))
    for i in order:
        colour = CLASS_COLOURS[int(labels[i])]
        ax.plot(paths[i, :, 0], paths[i, :, 1], color=colour, lw=0.5, alpha=0.45)
    for cls, colour in enumerate(CLASS_COLOURS):
        ends = paths[labels == cls, -1]
        ax.scatter(ends[:, 0], ends[:, 1], s=6, color=colour, zorder=3, label=f"class {cls}")
    points = paths.reshape(-1, 2)
    low, high = np.quantile(points, [view_quantile, 1 - view_quantile], axis=0)
    pad = 0.1 * (high - low)
    if np.any(points < low - pad) or np.any(points > high + pad):
        ax.set_xlim(low[0] - pad[0], high[0] + pad[0])
        ax.set_ylim(low[1] - pad[1], high[1] + pad[1])
        share = 100 * (1 - 2 * view_quantile)
        ax.text(
            0.01,
            0.01,
            f"view: central {share:.0f}% of positions",
            transform=ax.transAxes,
            fontsize=7,
            color="dimgrey",
        )
    ax.set_title(title)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.legend(fontsize=7, markerscale=2, loc="best")  # where it hides fewest points


def plot_accuracy_vs_steps(
    ax: Axes, table: pd.DataFrame, train_method: str, train_steps: int, title: str
) -> None:
    """Test accuracy against the number of test steps, one line per test method."""
    for method, group in table.groupby("test_method"):
        colour = METHOD_COLOURS.get(method)
        mean_std_line(ax, group.groupby("test_steps")["accuracy"], colour, method)
    ax.axvline(
        train_steps, color="black", ls="--", lw=1, label=f"training: {train_method} K={train_steps}"
    )
    log2_steps_axis(ax, "number of test steps")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0.35, 1.02)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.grid(alpha=0.3)
    ax.set_title(title)
    seeds = table.seed.nunique() if "seed" in table else 1
    ax.legend(
        fontsize=7,
        loc="lower right",
        title=f"test solver (band: ± std over {seeds} seeds)",
        title_fontsize=7,
    )


def plot_decision_regions(
    ax: Axes,
    grid_x: np.ndarray,
    grid_y: np.ndarray,
    grid_class: np.ndarray,
    states: np.ndarray,
    labels: np.ndarray,
    title: str,
) -> None:
    """ODE outputs (N, 2) coloured by true class over the classifier's regions."""
    regions = ListedColormap([(0.80, 0.87, 0.97), (0.98, 0.82, 0.82)])
    ax.pcolormesh(grid_x, grid_y, grid_class, cmap=regions, shading="auto", vmin=0, vmax=1)
    for cls, colour in enumerate(CLASS_COLOURS):
        points = states[labels == cls]
        ax.scatter(points[:, 0], points[:, 1], s=5, color=colour, label=f"class {cls}")
    ax.set_title(title)
    ax.set_xlabel("$z_1(1)$")
    ax.set_ylabel("$z_2(1)$")
    ax.legend(fontsize=7, markerscale=2, loc="best")  # where it hides fewest points


def plot_fan(
    panels: Sequence[tuple[str, np.ndarray]],
    labels: np.ndarray,
    classifiers: Sequence,
    curves: pd.DataFrame,
    marked_steps: Sequence[float],
) -> Figure:
    """Figure 3. Top row: trajectories (states of shape (T, N, 2)) of XOR-labelled
    starting points (crosses) for each solver, end points as dots coloured by class.
    Bottom row: the end points alone with the regions of the linear classifier fitted
    to them, and its accuracy. Right: that accuracy against the euler step size, one
    grey line per sample of starting points (``curves``: columns sample, solver, step,
    separability), the exact flow's dashed."""
    fig = plt.figure(figsize=(4.0 * (len(panels) + 1.3), 7.2))
    grid = fig.add_gridspec(2, len(panels) + 1, width_ratios=[1] * len(panels) + [1.3])
    for column, ((title, states), classifier) in enumerate(zip(panels, classifiers)):
        top, bottom = fig.add_subplot(grid[0, column]), fig.add_subplot(grid[1, column])
        end = states[-1]
        for label, colour in enumerate(CLASS_COLOURS):
            chosen = labels == label
            top.plot(states[:, chosen, 0], states[:, chosen, 1], color=colour, lw=0.4, alpha=0.5)
            top.scatter(*states[0, chosen].T, color=colour, marker="x", s=18, zorder=3)
            for ax in (top, bottom):
                ax.scatter(
                    *end[chosen].T,
                    color=colour,
                    edgecolor="k",
                    s=28,
                    zorder=4,
                    label=f"class {label}",
                )
        top.set_title(title, fontsize=10)
        top.set_xlabel("$z_1$")
        low, high = end.min(axis=0), end.max(axis=0)
        pad = 0.15 * (high - low)
        xs, ys = np.meshgrid(
            np.linspace(low[0] - pad[0], high[0] + pad[0], 200),
            np.linspace(low[1] - pad[1], high[1] + pad[1], 200),
        )
        regions = classifier.predict(np.column_stack([xs.ravel(), ys.ravel()])).reshape(xs.shape)
        bottom.contourf(xs, ys, regions, levels=[-0.5, 0.5, 1.5], colors=CLASS_COLOURS, alpha=0.15)
        accuracy = classifier.score(end, labels)
        bottom.set_title(f"end points; a line scores {accuracy:.2f}", fontsize=10)
        bottom.set_xlabel("$z_1$")
        if column == 0:
            top.set_ylabel("$z_2$")
            bottom.set_ylabel("$z_2$")
            top.legend(loc="upper right", fontsize=8, title="x: start, dot: end", title_fontsize=8)
    ax = fig.add_subplot(grid[:, -1])
    euler = curves[curves["solver"] == "euler"]
    for i, (_, sample) in enumerate(euler.groupby("sample")):
        ax.plot(
            sample["step"],
            sample["separability"],
            "-o",
            ms=3,
            color="0.2",
            alpha=0.35,
            label="euler, one sample of points" if i == 0 else None,
        )
    mean = euler.groupby("step")["separability"].mean()
    ax.plot(
        mean.index,
        mean.to_numpy(),
        "-o",
        color=METHOD_COLOURS["euler"],
        lw=2,
        label="euler, mean over samples",
    )
    reference = curves.loc[curves["solver"] == "reference", "separability"].mean()
    ax.axhline(reference, color="k", ls="--", lw=1, label="exact flow, mean")
    for step in marked_steps:
        ax.axvline(step, color="0.6", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("euler step size h (dotted: the two panels; missing: euler blew up)")
    ax.set_ylabel("accuracy of a linear classifier on the end points")
    ax.axhline(
        0.5,
        color="0.5",
        ls=(0, (1, 3)),
        lw=1,
        label="one class for every point (0.5); a logistic fit to XOR can score below",
    )
    ax.set_ylim(0.15, 1.05)  # every value inside the frame
    ax.set_title("separability against the step size", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def plot_fine_vs_coarse(result) -> Figure:
    """Figure 1: for the fine and the coarse model (a :class:`FineVsCoarse`), the first
    seed's trajectories (top) and the accuracy under each test solver (bottom)."""
    fig, axes = plt.subplots(2, 2, figsize=(10, 9))
    for column, name in enumerate(result.steps):
        k = result.steps[name]
        plot_trajectories(
            axes[0, column],
            result.paths[name],
            result.labels,
            f"{name}: euler h=1/{k}, seed {result.runs[name][0].config.seed}, "
            + _count(result.crossings[name][0], "crossing pair"),
        )
        plot_accuracy_vs_steps(
            axes[1, column], result.tables[name], "euler", k, f"{name} model (trained with h=1/{k})"
        )
    fig.tight_layout()
    return fig


def _count(n: int, noun: str) -> str:
    """``1 crossing pair``, ``3 crossing pairs``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def plot_coarse_decision_regions(regions) -> Figure:
    """Figure 2: a :class:`DecisionRegions`, one panel per evaluation K (on shared
    axes unless their points spread too differently; the title then says so)."""
    shared = shares_view(regions.ends)
    fig, axes = plt.subplots(1, len(regions.ends), figsize=(10, 4.5), sharex=shared, sharey=shared)
    for ax, (k, ends) in zip(axes, regions.ends.items()):
        plot_decision_regions(
            ax,
            *regions.grids[k],
            ends,
            regions.labels,
            f"evaluated at h=1/{k}: test accuracy {regions.scores[k]:.2f}",
        )
    title = (
        f"Sphere2, coarse model (trained with euler, h=1/{regions.train_steps}, seed "
        f"{regions.seed}): ODE outputs over its decision regions"
    )
    if not shared:
        spreads = {k: spread(ends) for k, ends in regions.ends.items()}
        wide, narrow = max(spreads, key=spreads.get), min(spreads, key=spreads.get)
        compared = (
            f"{spreads[wide] / spreads[narrow]:.0f} times as far as at h=1/{narrow}"
            if spreads[narrow] > 0
            else f"while at h=1/{narrow} they coincide"
        )
        title += f"\neach panel on its own axes: at h=1/{wide} the outputs spread {compared}"
    fig.suptitle(title)
    fig.tight_layout()
    return fig
