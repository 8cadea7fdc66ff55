"""Figure 5 and the adaptation rule comparison: step size (or tolerance) and
accuracy over training."""

from __future__ import annotations

from collections.abc import Collection

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from ...core.solvers import SolverSpec
from .style import VERDICT_COLOURS, finish_axes, log2_scale


def plot_adaptation(
    histories: dict[int, pd.DataFrame],
    snapshots: pd.DataFrame,
    reference: SolverSpec,
    critical_steps: float | None = None,
    not_learned: Collection[int] = (),
) -> Figure:
    """Figure 5: (a) test accuracy during training with the solver in use, and with
    the converged reference (crosses); (b) the step count K chosen during training;
    (c) the same snapshots under midpoint and rk4 on the run's current grid.

    ``histories`` maps seed to run history; ``snapshots`` is a
    :func:`nodestudy.study.analysis.evaluate.snapshot_accuracy_table` whose rows name the training
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
        label = f"seed {seed}" + (" (not learned)" if seed in not_learned else "")
        axes[0].plot(own.iteration, own.accuracy, "-o", ms=3, color=colour, label=label)
        axes[0].plot(converged.iteration, converged.accuracy, "x", ms=7, color=colour)
        axes[1].plot(history.iteration, history.steps, color=colour, lw=1, label=label)
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
        low, high = axes[1].get_ylim()  # the line inside the axes, not on its edge
        axes[1].set_ylim(min(low, critical_steps / 1.5), max(high, critical_steps * 1.5))
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


def plot_tolerance_adaptation(histories: dict[int, pd.DataFrame], title: str = "") -> Figure:
    """The tolerance chosen during training and the NFE of each training solve;
    ``title`` names the solvers and the data set above both panels."""
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
    if title:
        fig.suptitle(title, fontsize=10)
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
        ax.annotate(  # beside the filled marker, the verdict is its colour
            row.model.removeprefix("adapted: ").removeprefix("fixed "),
            (x, row.reference_accuracy),
            xytext=(11 if row.adapted else 8, 0),
            textcoords="offset points",
            va="center",
            fontsize=7,
            color=colour,
        )
    for verdict, colour in VERDICT_COLOURS.items():
        ax.plot([], [], "s", color=colour, label=verdict)
    ax.plot([], [], "o", mfc="none", mec="grey", label="training solver (hollow)")
    ax.plot([], [], "o", color="grey", label="verified reference (filled)")
    log2_scale(ax, "x")
    nfe = table.nfe_per_iteration
    ax.set_xlim(nfe.min() / 1.4, nfe.max() * 2.0)  # room for the labels right of the markers
    finish_axes(
        ax,
        "forward NFE per training iteration (adapters: checks included)",
        "test accuracy",
        "the textbook model: fixed steps (circles) and the adapter (stars)",
        loc="lower right",
    )
    ax = axes[1]
    for (label, history), colour in zip(histories.items(), sns.color_palette("tab10")):
        ax.plot(history.iteration + 1, history.steps, lw=1, color=colour, label=label)
    for _, row in table[~table.adapted].iterrows():
        ax.axhline(row.final_steps, color=VERDICT_COLOURS.get(row.verdict, "grey"), ls=":", lw=1)
    log2_scale(ax, "y")
    finish_axes(
        ax,
        "training iteration",
        "euler steps K (h = 1/K)",
        "K the adapter chose (dotted: the fixed K, coloured by verdict)",
    )
    fig.tight_layout()
    return fig
