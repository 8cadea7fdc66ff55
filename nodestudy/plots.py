"""Figures of the study. Functions take tidy tables (or arrays) and an axis or
return a figure; they compute nothing that is not drawn."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from .core.solvers import SolverSpec
from .report import output_directory

CLASS_COLOURS = ("#1f77b4", "#d62728")  # class 0 blue, class 1 red
METHOD_COLOURS = {"euler": "#1b9e77", "midpoint": "#d95f02", "rk4": "#7570b3"}


def save_figure(fig: Figure, directory: str | Path, name: str) -> list[Path]:
    """Write ``name``.png and ``name``.pdf into ``directory``."""
    directory = output_directory(directory)
    paths = [directory / f"{name}.png", directory / f"{name}.pdf"]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight", metadata={"CreationDate": None})
    return paths


def _mean_std_line(
    ax: Axes, values: pd.core.groupby.SeriesGroupBy, colour, label: str, ms: float = 3
) -> pd.Series:
    """Mean over seeds as a line with markers and a ±1 std band; returns the means."""
    stats = values.agg(["mean", "std"]).fillna(0.0)
    ax.plot(stats.index, stats["mean"], "-o", ms=ms, color=colour, label=label)
    ax.fill_between(
        stats.index,
        stats["mean"] - stats["std"],
        stats["mean"] + stats["std"],
        color=colour,
        alpha=0.18,
    )
    return stats["mean"]


def _log2_steps_axis(ax: Axes, label: str) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xlabel(label)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))


def plot_test_solver_sweep(
    table: pd.DataFrame, train_method: str, test_methods: Sequence[str], chance: float = 0.5
) -> Figure:
    """Figure 4(a)/(b): accuracy of models trained with ``train_method`` at each K,
    tested with each test method at multiples of K. Mean and std over seeds; the
    training configuration is the circled point; ``chance`` dotted."""
    trained = table[table.train_method == train_method]
    ks = sorted(trained.train_steps.unique())
    palette = dict(zip(ks, sns.color_palette("viridis", len(ks))))
    fig, axes = plt.subplots(
        1, len(test_methods), figsize=(4.2 * len(test_methods), 3.6), sharey=True, squeeze=False
    )
    for ax, test_method in zip(axes[0], test_methods):
        subset = trained[trained.test_method == test_method]
        for k in ks:
            curve = subset[subset.train_steps == k].groupby("test_steps")["accuracy"]
            mean = _mean_std_line(ax, curve, palette[k], f"K={k}")
            if test_method == train_method and k in mean.index:
                ax.plot(k, mean[k], "o", ms=9, mfc="none", mec="black", mew=1.2)
        _log2_steps_axis(ax, f"test steps ({test_method})")
        ax.set_title(f"trained {train_method}, tested {test_method}")
        ax.set_ylim(min(0.35, chance - 0.05), 1.02)
        ax.axhline(chance, color="grey", lw=0.8, ls=":")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("test accuracy (mean ± std over seeds)")
    axes[0, -1].legend(
        title="training K", fontsize=7, title_fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1)
    )
    fig.tight_layout()
    return fig


def plot_collapse_summary(
    drops: pd.DataFrame,
    critical: pd.DataFrame,
    reference_label: str,
    panel_column: str = "train_method",
    title: str = "Sphere2 trained with {}",
    chance: float = 0.5,
) -> Figure:
    """Accuracy with the training solver and with a converged reference against the
    training step count, one panel per value of ``panel_column`` (the training method,
    the data set, ...); the critical K marked."""
    methods = list(dict.fromkeys(drops[panel_column]))
    fig, axes = plt.subplots(
        1, len(methods), figsize=(4.6 * len(methods), 3.6), sharey=True, squeeze=False
    )
    for ax, method in zip(axes[0], methods):
        subset = drops[drops[panel_column] == method]
        for column, label, colour in (
            (
                "train_solver_accuracy",
                "tested with the training solver (same method and K)",
                "black",
            ),
            (
                "reference_accuracy",
                f"tested with a converged reference ({reference_label})",
                "#d62728",
            ),
        ):
            _mean_std_line(ax, subset.groupby("train_steps")[column], colour, label, ms=4)
        row = critical[critical[panel_column] == method]
        if len(row) and not np.isnan(row.critical_steps.iloc[0]):
            k = row.critical_steps.iloc[0]
            ax.axvline(k, color="grey", ls="--", lw=1)
            ax.text(k, 0.40, f"critical K={k:g} ", fontsize=8, color="dimgrey", ha="right")
        _log2_steps_axis(ax, "training steps K (h = 1/K)")
        ax.set_title(title.format(method))
        ax.set_ylim(min(0.35, chance - 0.05), 1.02)
        ax.axhline(chance, color="grey", lw=0.8, ls=":")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("test accuracy (mean ± std over seeds)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def plot_trajectories(
    ax: Axes, paths: np.ndarray, labels: np.ndarray, title: str, view_quantile: float = 0.01
) -> None:
    """Phase-space trajectories (N, grid points, 2) coloured by class.

    A few end points far out would squeeze the rest into a corner, so the view keeps
    the central positions (between the ``view_quantile`` and 1 - ``view_quantile``
    quantiles) and says so when that hides anything.
    """
    for cls, colour in enumerate(CLASS_COLOURS):
        for path in paths[labels == cls]:
            ax.plot(path[:, 0], path[:, 1], color=colour, lw=0.5, alpha=0.5)
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
    ax.legend(fontsize=7, markerscale=2, loc="upper right")


def plot_accuracy_vs_steps(
    ax: Axes, table: pd.DataFrame, train_method: str, train_steps: int, title: str
) -> None:
    """Test accuracy against the number of test steps, one line per test method."""
    for method, group in table.groupby("test_method"):
        colour = METHOD_COLOURS.get(method)
        _mean_std_line(ax, group.groupby("test_steps")["accuracy"], colour, method)
    ax.axvline(
        train_steps, color="black", ls="--", lw=1, label=f"training: {train_method} K={train_steps}"
    )
    _log2_steps_axis(ax, "number of test steps")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0.35, 1.02)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.grid(alpha=0.3)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower right", title="test solver", title_fontsize=7)


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
    ax.legend(fontsize=7, markerscale=2, loc="upper right")


def plot_adaptation(
    histories: dict[int, pd.DataFrame],
    snapshots: pd.DataFrame,
    reference: SolverSpec,
    critical_steps: float | None = None,
) -> Figure:
    """Figure 5: (a) test accuracy during training with the solver in use, and with
    the converged reference (crosses); (b) the step count K chosen during training;
    (c) the same snapshots under midpoint and rk4 on the run's current grid.

    ``histories`` maps seed to run history; ``snapshots`` is a
    :func:`nodestudy.evaluate.snapshot_accuracy_table` whose rows name the training
    method or a test method.
    """
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    colours = dict(zip(histories, sns.color_palette("tab10", len(histories))))
    is_reference = (snapshots.test_method == reference.method) & (
        snapshots.test_steps == reference.steps
    )
    for seed, history in histories.items():
        colour = colours[seed]
        own = snapshots[
            (snapshots.seed == seed) & (snapshots.test_method == snapshots.train_method)
        ]
        converged = snapshots[(snapshots.seed == seed) & is_reference]
        axes[0].plot(own.iteration, own.accuracy, "-o", ms=3, color=colour, label=f"seed {seed}")
        axes[0].plot(converged.iteration, converged.accuracy, "x", ms=7, color=colour)
        axes[1].plot(history.iteration, history.steps, color=colour, lw=1, label=f"seed {seed}")
        axes[2].plot(own.iteration, own.accuracy, "-", color=colour, lw=1)
        for method, marker in (("midpoint", "s"), ("rk4", "^")):
            same_grid = snapshots[
                (snapshots.seed == seed) & (snapshots.test_method == method) & ~is_reference
            ]
            axes[2].plot(
                same_grid.iteration, same_grid.accuracy, marker, ms=4, mfc="none", color=colour
            )
    axes[0].plot([], [], "x", color="grey", label=f"reference ({reference.label()})")
    axes[0].set_title("(a) test accuracy, adapted solver (lines)")
    axes[0].set_ylabel("test accuracy")
    axes[1].set_title("(b) number of steps K chosen during training")
    axes[1].set_ylabel("K (h = 1/K)")
    axes[1].set_yscale("log", base=2)
    axes[1].yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    if critical_steps is not None and not np.isnan(critical_steps):
        axes[1].axhline(
            critical_steps,
            color="grey",
            ls="--",
            lw=1,
            label=f"critical K of the grid search ({critical_steps:g})",
        )
    axes[2].plot([], [], "s", mfc="none", color="grey", label="midpoint, same K")
    axes[2].plot([], [], "^", mfc="none", color="grey", label="rk4, same K")
    axes[2].set_title("(c) the same models under smaller-error solvers")
    for ax in axes:
        ax.set_xlabel("training iteration")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    # from 0.35 (two-class chance is 0.5) unless some accuracy lies lower, as early in
    # training on ten classes
    bottom = min(0.35, float(snapshots.accuracy.min()) - 0.03)
    for ax in (axes[0], axes[2]):
        ax.set_ylim(max(0.0, bottom), 1.02)
    fig.tight_layout()
    return fig


def plot_tolerance_adaptation(histories: dict[int, pd.DataFrame]) -> Figure:
    """The tolerance chosen during training and the NFE of each training solve."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for seed, history in histories.items():
        axes[0].plot(history.iteration, history.adapted_value, lw=1, label=f"seed {seed}")
        smooth = history.nfe_forward.rolling(25, min_periods=1).mean()
        axes[1].plot(history.iteration, smooth, lw=1, label=f"seed {seed}")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("tolerance (rtol = atol)")
    axes[0].set_title("(a) tolerance during training")
    axes[1].set_ylabel("NFE per training solve (25-iteration mean)")
    axes[1].set_title("(b) cost of the training solve")
    for ax in axes:
        ax.set_xlabel("training iteration")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


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
    ax.set_ylim(0.3, 1.03)
    ax.set_title("separability against the step size", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def plot_tolerance_sweep(
    table: pd.DataFrame, costs: pd.DataFrame, reference: SolverSpec, chance: float
) -> Figure:
    """Figure 4(c)(d): models trained with fehlberg2 and dopri5 at fixed tolerances (one
    colour each), tested at multiples of their tolerance (solid: the same method,
    dashed: dopri5 for fehlberg2-trained models; circled: the training solver), the
    converged reference as a dotted line of the same colour; right: NFE per training
    iteration against the tolerance (``costs``: train_method, train_tol, nfe_forward)."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    tols = sorted(table.train_tol.dropna().unique())
    palette = dict(zip(tols, sns.color_palette("viridis", len(tols))))
    for ax, method in zip(axes[:2], ("fehlberg2", "dopri5")):
        trained = table[table.train_method == method]
        for tol in tols:
            runs = trained[trained.train_tol == tol]
            for test_method, style in ((method, "-o"), ("dopri5", "--s")):
                if test_method == method and style == "--s":
                    continue
                curve = runs[runs.test_method == test_method].groupby("test_tol")["accuracy"]
                stats = curve.mean()
                ax.plot(
                    stats.index,
                    stats.to_numpy(),
                    style,
                    ms=4,
                    color=palette[tol],
                    label=f"tol={tol:g}" if test_method == method else None,
                )
                if test_method == method and tol in stats.index:
                    ax.plot(tol, stats[tol], "o", ms=9, mfc="none", mec="black", mew=1.2)
            ref = runs[
                (runs.test_method == reference.method) & (runs.test_steps == reference.steps)
            ]
            if len(ref):
                ax.axhline(ref.accuracy.mean(), color=palette[tol], ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("test tolerance")
        extra = " (dashed: tested with dopri5)" if method == "fehlberg2" else ""
        ax.set_title(f"trained with {method}{extra}", fontsize=10)
        ax.set_ylim(min(0.35, chance - 0.05), 1.02)
        ax.axhline(chance, color="grey", lw=0.8, ls=":")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"test accuracy (mean over seeds; dotted: {reference.label()})")
    axes[1].legend(title="training tol", fontsize=7, title_fontsize=8)
    ax = axes[2]
    for method, group in costs.groupby("train_method"):
        mean = group.groupby("train_tol")["nfe_forward"].mean()
        ax.plot(mean.index, mean.to_numpy(), "-o", label=method)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training tolerance")
    ax.set_ylabel("NFE per training iteration (forward)")
    ax.set_title("cost of a training solve", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_check_verdicts(checks: pd.DataFrame, critical_steps: float | None = None) -> Figure:
    """The validity check of every run of a sweep: one cell per training K (columns)
    and seed (rows), coloured by verdict, with the accuracy drop to the reference and
    its interval; the sweep's critical K (from mean drops) marked."""
    ks = sorted(checks.train_steps.unique())
    seeds = sorted(checks.seed.unique())
    colours = {"valid": "#c8e6c9", "invalid": "#ffcdd2", "inconclusive": "#fff0b3"}
    fig, ax = plt.subplots(figsize=(1.15 * len(ks) + 1.5, 0.75 * len(seeds) + 1.6))
    for _, row in checks.iterrows():
        x, y = ks.index(row.train_steps), seeds.index(row.seed)
        ax.add_patch(plt.Rectangle((x - 0.5, y - 0.5), 1, 1, color=colours[row.verdict]))
        ax.text(
            x,
            y,
            f"{row.verdict}\n{row.difference:.3f}\n[{row.difference_low:.3f}, "
            f"{row.difference_high:.3f}]",
            ha="center",
            va="center",
            fontsize=6.5,
        )
    if critical_steps is not None and not np.isnan(critical_steps) and critical_steps in ks:
        ax.axvline(ks.index(critical_steps) - 0.5, color="black", ls="--", lw=1.2)
        ax.text(
            ks.index(critical_steps) - 0.45,
            -0.45,
            f"the sweep's critical K={critical_steps:g} (mean drop)",
            fontsize=7,
            va="bottom",
        )
    ax.set_xlim(-0.5, len(ks) - 0.5)
    ax.set_ylim(-0.5, len(seeds) - 0.5)
    ax.set_xticks(range(len(ks)), [f"{k:g}" for k in ks])
    ax.set_yticks(range(len(seeds)), [f"seed {s}" for s in seeds])
    ax.set_xlabel("training steps K (h = 1/K)")
    limit = checks.limit.iloc[0]
    ax.set_title(
        "check_ode per run: verdict, accuracy drop to the verified reference "
        f"[95% interval]; limit ±{limit:g}",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def plot_rule_comparison(rules: pd.DataFrame, limit: float, title: str) -> Figure:
    """Adaptation rules side by side, one dot per seed and a bar for the mean: the
    accuracy drop to the converged reference at the end of training and at its worst
    during training (the limit of a valid model dashed), and the forward evaluations
    per iteration with the checks included."""
    order = list(dict.fromkeys(rules.rule))
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    panels = (
        ("final_drop", "accuracy drop to the reference, end of training", True),
        ("worst_drop", "worst drop during training (20 snapshots)", True),
        ("nfe_per_iteration", "forward NFE per iteration, checks included", False),
    )
    learned = rules.learned if "learned" in rules else pd.Series(True, index=rules.index)
    for ax, (column, label, limited) in zip(axes, panels):
        means = rules[learned].groupby("rule", sort=False)[column].mean().reindex(order)
        ax.bar(range(len(order)), means.to_numpy(), color="0.85", edgecolor="0.5", width=0.6)
        for i, rule in enumerate(order):
            mine = rules.rule == rule
            values = rules.loc[mine, column].to_numpy()
            jitter = np.linspace(-0.12, 0.12, len(values)) if len(values) > 1 else np.zeros(1)
            for x, value, ok in zip(i + jitter, values, learned[mine]):
                ax.plot(x, value, "o", ms=5, color="#1f77b4", mfc=None if ok else "none")
        if limited:
            ax.axhline(
                limit, color="#d62728", ls="--", lw=1, label=f"limit of a valid model ({limit:g})"
            )
            ax.axhline(0, color="grey", lw=0.6)
            ax.legend(fontsize=7)
        ax.set_xticks(range(len(order)), order)
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    axes[0].set_ylabel("per seed (dots; hollow: not learned), mean of learned (bars)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


VERDICT_COLOURS = {"valid": "#1a7f37", "invalid": "#c62828", "inconclusive": "#b08800"}


def plot_adapter_against_fixed_steps(table: pd.DataFrame, histories: dict) -> Figure:
    """Left: each model's forward NFE per training iteration against its accuracy under
    its own solver (hollow) and under the verified reference (filled), coloured by the
    check's verdict; fixed steps as circles, adapted ones as stars. Right: the step
    count each adapter chose during training, the fixed step counts dotted."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.4))
    ax = axes[0]
    for _, row in table.iterrows():
        colour = VERDICT_COLOURS.get(row.verdict, "black")
        marker = "*" if row.adapted else "o"
        size = 13 if row.adapted else 8
        x = row.nfe_per_iteration
        ax.plot([x, x], [row.accuracy, row.reference_accuracy], color=colour, lw=1)
        ax.plot(x, row.accuracy, marker, ms=size, mfc="none", mec=colour)
        ax.plot(x, row.reference_accuracy, marker, ms=size, color=colour)
        ax.annotate(
            f"{row.model}: {row.verdict}",
            (x, row.reference_accuracy),
            xytext=(4, 6 if row.adapted else -10),
            textcoords="offset points",
            fontsize=7,
            color=colour,
        )
    for verdict, colour in VERDICT_COLOURS.items():
        ax.plot([], [], "s", color=colour, label=verdict)
    ax.plot([], [], "o", mfc="none", mec="grey", label="training solver (hollow)")
    ax.plot([], [], "o", color="grey", label="verified reference (filled)")
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("forward NFE per training iteration (adapters: checks included)")
    ax.set_ylabel("test accuracy")
    ax.set_title("the textbook model: fixed steps (circles) and the adapter (stars)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax = axes[1]
    for (label, history), colour in zip(histories.items(), sns.color_palette("tab10")):
        ax.plot(history.iteration + 1, history.steps, lw=1, color=colour, label=label)
    for _, row in table[~table.adapted].iterrows():
        ax.axhline(row.final_steps, color=VERDICT_COLOURS.get(row.verdict, "grey"), ls=":", lw=1)
    ax.set_yscale("log", base=2)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("training iteration")
    ax.set_ylabel("euler steps K (h = 1/K)")
    ax.set_title("K the adapter chose (dotted: the fixed K, coloured by verdict)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
