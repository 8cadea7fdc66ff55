"""The collapse figures (Figure 4 a-d, the appendix sweeps) and the check verdicts:
from tidy tables, means over the seeds that learned."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ...core.solvers import SolverSpec
from .style import (
    finish_axes,
    log2_steps_axis,
    mean_std_line,
)


def plot_test_solver_sweep(
    table: pd.DataFrame, train_method: str, test_methods: Sequence[str], chance: float = 0.5
) -> Figure:
    """Figure 4(a)/(b): accuracy of models trained with ``train_method`` at each K,
    tested with each test method at multiples of K. Mean and std over seeds; the
    training configuration is the circled point; ``chance`` dotted."""
    trained = table[table.train_method == train_method]
    # the test grid only (multiples of K up to 2 K): not the reference, which would
    # draw every curve out to its step count over K never tested
    trained = trained[trained.test_steps <= 2 * trained.train_steps]
    ks = sorted(trained.train_steps.unique())
    palette = dict(zip(ks, sns.color_palette("tab10" if len(ks) <= 10 else "husl", len(ks))))
    fig, axes = plt.subplots(
        1, len(test_methods), figsize=(4.2 * len(test_methods), 3.6), sharey=True, squeeze=False
    )
    for ax, test_method in zip(axes[0], test_methods):
        subset = trained[trained.test_method == test_method]
        for k in ks:
            curve = subset[subset.train_steps == k].groupby("test_steps")["accuracy"]
            mean = mean_std_line(ax, curve, palette[k], f"K={k}")
            if test_method == train_method and k in mean.index:
                ax.plot(k, mean[k], "o", ms=9, mfc="none", mec="black", mew=1.2)
        log2_steps_axis(ax, f"test steps ({test_method})")
        ax.set_title(f"trained {train_method}, tested {test_method}")
        ax.set_ylim(min(0.35, chance - 0.05), 1.02)
        ax.axhline(chance, color="grey", lw=0.8, ls=":")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("test accuracy\n(mean ± std over the learned seeds)")
    axes[0, -1].legend(
        title="training K", fontsize=7, title_fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1)
    )
    fig.tight_layout()
    return fig


def sweeps_test_steps(table: pd.DataFrame) -> bool:
    """Whether the models are tested at several step counts around their own (Figure
    4 a's test grid): a sweep that tests each model at its own K only has no Figure 4 a."""
    grid = table[table.test_steps <= 2 * table.train_steps]
    return bool(len(grid)) and grid.groupby(["run", "test_method"]).test_steps.nunique().max() > 1


def plot_collapse_summary(
    drops: pd.DataFrame,
    critical: pd.DataFrame,
    reference_label: str,
    panel_column: str = "train_method",
    title: str = "Sphere2 trained with {}",
    chance: float | Mapping[str, float] = 0.5,
) -> Figure:
    """Accuracy with the training solver and with a converged reference against the
    training step count, one panel per value of ``panel_column`` (the training method,
    the data set, ...; two panels a row). Lines are means over the seeds that learned
    (``learned``) at the trained K where at least two did, dots every seed (hollow: did
    not learn); the critical K is dashed and stated in the title, or why there is none.
    ``chance`` (the majority-class rate, dotted) is one number or one per panel."""
    methods = list(dict.fromkeys(drops[panel_column]))
    columns = min(2, len(methods))
    rows = -(-len(methods) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(4.8 * columns, 3.9 * rows), sharey=False, squeeze=False
    )
    learned = drops.learned if "learned" in drops else pd.Series(True, index=drops.index)
    for ax, method in zip(axes.flat, methods):
        mine = drops[panel_column] == method
        lowest = _collapse_panel(ax, drops[mine], learned[mine], reference_label)
        row = critical[critical[panel_column] == method]
        ax.set_title(title.format(method) + _critical_title(row), fontsize=9)
        if len(row) and not np.isnan(row.critical_steps.iloc[0]):
            ax.axvline(row.critical_steps.iloc[0], color="grey", ls="--", lw=1)
        log2_steps_axis(ax, "training steps K (h = 1/K)")
        ax.set_xticks(sorted(drops.loc[mine, "train_steps"].unique()))
        ax.set_xticks([], minor=True)
        rate = chance[method] if isinstance(chance, Mapping) else chance
        ax.axhline(rate, color="grey", lw=0.8, ls=":", label="majority-class rate")
        ax.set_ylim(max(-0.02, min(rate - 0.05, lowest - 0.03)), 1.02)
        ax.grid(alpha=0.3)
        ax.set_ylabel("test accuracy")
    for ax in list(axes.flat)[len(methods) :]:
        ax.set_visible(False)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    handles.append(plt.Line2D([], [], color="grey", ls="--", lw=1))
    labels.append("critical K")
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=2,
        fontsize=8,
        frameon=False,
        title="lines: mean ± std over the seeds that learned (at least two); dots: every "
        "seed, hollow where it did not learn",
        title_fontsize=7,
    )
    fig.tight_layout(rect=(0, 0.17 if rows == 1 else 0.09, 1, 1))
    return fig


def _collapse_panel(ax: Axes, runs: pd.DataFrame, learned: pd.Series, reference_label) -> float:
    """One panel's lines, bands and dots; the lowest value drawn (bands included)."""
    lowest = 1.0
    for column, label, colour in (
        ("train_solver_accuracy", "tested with the training solver (same method and K)", "black"),
        ("reference_accuracy", f"tested with a converged reference ({reference_label})", "#d62728"),
    ):
        kept = runs[learned].groupby("train_steps")[column]
        mean_std_line(ax, kept, colour, label, min_count=2)
        bands = (kept.mean() - kept.std()).dropna()
        lowest = min([lowest, *bands, *runs[column].dropna()])
        for ok, face in ((True, colour), (False, "none")):
            dots = runs[learned == ok]
            ax.scatter(
                dots.train_steps,
                dots[column],
                s=12,
                facecolors=face,
                edgecolors=colour,
                linewidths=0.8,
                zorder=3,
            )
    return lowest


def _critical_title(row: pd.DataFrame) -> str:
    """The title's second line: the critical K with its seeds, or why there is none;
    the dashed line at the critical K."""
    if not len(row):
        return ""
    row = row.iloc[0]
    learned = f"{row.learned_seeds} of {row.seeds} learned at the finest K"
    if not np.isnan(row.critical_steps):
        bracket = ""
        if "invalid_steps" in row.index:
            shown = (
                "none invalid"
                if pd.isna(row.invalid_steps)
                else f"invalid at K ≤ {row.invalid_steps:g}"
            )
            between = row.get("inconclusive_steps") or ""
            bracket = f" ({shown}" + (f", inconclusive at {between}" if between else "") + ")"
        return (
            f"\ncritical K = {row.critical_steps:g}{bracket}\n{seed_range_text(row)}; {learned}"
        )
    return "\nno critical K: " + textwrap.fill(str(row.reason), 50)


def seed_range_text(row) -> str:
    """``3 of 4 seeds valid; per seed 32-128`` (a seed not valid even at the finest K
    reads "beyond the grid")."""
    low, high = row["critical_steps_min"], row["critical_steps_max"]
    high_text = "beyond the grid" if high is None or np.isinf(high) else f"{high:g}"
    spread = f"; per seed {low:g}-{high_text}" if high_text != f"{low:g}" else ""
    return f"{row['seeds_valid_from_critical']} of {row['learned_seeds']} seeds valid{spread}"


def plot_tolerance_sweep(
    table: pd.DataFrame,
    costs: pd.DataFrame,
    reference: SolverSpec,
    chance: float,
    data: str = "",
) -> Figure:
    """Figure 4(c)(d): models trained with fehlberg2 and dopri5 at fixed tolerances (one
    colour each; ``table`` holds the seeds that learned), tested at multiples of their
    tolerance (solid: the same method, dashed: dopri5 for fehlberg2-trained models;
    circled: the training solver), the converged reference as a dotted line of the same
    colour; right: NFE per training iteration against the tolerance (``costs``:
    train_method, train_tol, nfe_forward).
    The accuracy axis spans the data (and chance only where it is near), so that
    differences of a hundredth show."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    seeds = table.seed.nunique()
    tols = sorted(table.train_tol.dropna().unique())
    palette = dict(zip(tols, sns.color_palette("viridis", len(tols))))
    for ax, method in zip(axes[:2], ("fehlberg2", "dopri5")):
        trained = table[table.train_method == method]
        if trained.empty:
            ax.text(
                0.5,
                0.5,
                "no seed learned\n(at the tightest tolerance)",
                ha="center",
                va="center",
                transform=ax.transAxes,
                fontsize=10,
                color="0.3",
            )
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
        if trained.empty:
            ax.set_xticks([], minor=True)
            ax.set_xticks([])
        ax.set_xlabel("test tolerance")
        extra = " (dashed: tested with dopri5)" if method == "fehlberg2" else ""
        ax.set_title(f"trained with {method}{extra}", fontsize=10)
        low, high = (table.accuracy.min(), table.accuracy.max()) if len(table) else (0.0, 1.0)
        if low - chance < 0.1:
            ax.axhline(chance, color="grey", lw=0.8, ls=":")
        ax.set_ylim(max(0.0, low - 0.02), min(1.0, high + 0.02) + 0.005)
        ax.grid(alpha=0.3)
        if not trained.empty:
            ax.legend(title="training tol", fontsize=7, title_fontsize=8)
    mean = {0: "no seed learned", 1: "1 learned seed"}.get(
        seeds, f"mean over {seeds} learned seeds"
    )
    axes[0].set_ylabel(f"test accuracy ({mean};\ndotted: {reference.label()})")
    ax = axes[2]
    for method, group in costs.groupby("train_method"):
        mean = group.groupby("train_tol")["nfe_forward"].mean()
        ax.plot(mean.index, mean.to_numpy(), "-o", label=method)
    ax.set_xscale("log")
    ax.set_yscale("log")
    finish_axes(
        ax,
        "training tolerance",
        "NFE per training iteration (forward)",
        "cost of a training solve",
        title_size=10,
        fontsize=8,
    )
    if data:
        fig.suptitle(f"{data}: models trained at fixed tolerances, tested at others", fontsize=11)
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
    marked = ""
    if critical_steps is not None and not np.isnan(critical_steps) and critical_steps in ks:
        ax.axvline(ks.index(critical_steps) - 0.5, color="black", ls="--", lw=1.2)
        # said in the title, not beside the line, where it would leave the axes
        marked = f"\ndashed line: the sweep's critical K={critical_steps:g} (over the seeds)"
    ax.set_xlim(-0.5, len(ks) - 0.5)
    ax.set_ylim(-0.5, len(seeds) - 0.5)
    ax.set_xticks(range(len(ks)), [f"{k:g}" for k in ks])
    ax.set_yticks(range(len(seeds)), [f"seed {s}" for s in seeds])
    ax.set_xlabel("training steps K (h = 1/K)")
    limit = checks.limit.iloc[0]
    ax.set_title(
        "check_ode per run: verdict, accuracy drop to the verified reference "
        f"[95% interval]; limit ±{limit:g}{marked}",
        fontsize=9,
    )
    fig.tight_layout()
    return fig
