"""The figure of an :class:`~nodestudy.core.check.report.OdeCheck`.

Left: the verdict's measure (accuracy, or the share of predictions that differ from
the reference) against the test step count (tolerance, for adaptive training
solvers), one line per method, the training solver circled and the reference with
its band of agreement. Right: the relative distance of end states to the reference,
on log axes, which shows how (and whether) the solves converge. The verdict is the
title.
"""

from __future__ import annotations

import math
import textwrap

import matplotlib.pyplot as plt
import numpy as np

from .outcomes import Measure, Role

METHOD_STYLES = {
    "euler": ("#1b9e77", "o"),
    "midpoint": ("#d95f02", "s"),
    "heun2": ("#e7298a", "v"),
    "heun3": ("#66a61e", "D"),
    "rk4": ("#7570b3", "^"),
    "fehlberg2": ("#1b9e77", "o"),
    "adaptive_heun": ("#e6ab02", "o"),
    "bosh3": ("#a6761d", "D"),
    "dopri5": ("#7570b3", "^"),
    "dopri8": ("#666666", "P"),
}
VERDICT_COLOURS = {"valid": "#1a7f37", "invalid": "#c62828", "inconclusive": "#8a6d00"}


def plot_check(check, ax=None, name: str | None = None):
    """Draw ``check`` into a new figure, or into the two axes ``ax`` (a row of a larger
    figure, whose left title then carries the verdict and ``name``); returns the
    figure."""
    if ax is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    else:
        axes = np.atleast_1d(ax)
        fig = axes[0].figure
    fixed = check.training.is_fixed_step
    table = check.table[~check.table.role.isin([Role.REFERENCE, Role.REFERENCE_CHECK])]
    x_column = "steps" if fixed else "rtol"
    tested = table[table[x_column].notna()]
    _draw_measure(axes[0], check, tested, x_column)
    if len(axes) > 1:
        _draw_distance(axes[1], check, tested, x_column)
    colour = VERDICT_COLOURS.get(check.verdict, "black")
    title = verdict_line(check)
    if ax is None:
        fig.suptitle(title, color=colour, fontsize=11)
        fig.tight_layout(rect=(0, 0, 1, 0.93))
    else:
        prefix = f"{name}: " if name else ""
        axes[0].set_title(textwrap.fill(prefix + title, 70), color=colour, fontsize=9)
    return fig


def verdict_line(check) -> str:
    """The verdict with the comparison that decides it (its estimate, interval and
    limit) and the training solver."""
    from .decision import deciding

    c = deciding(check.comparisons, check.verdict, check.measure)
    e, limit, measure = (
        (c.estimate, c.limit, c.measure) if c else (check.estimate, check.limit, check.measure)
    )
    number = "{:.3f}" if measure in (Measure.ACCURACY, Measure.CHANGED) else "{:.3g}"
    where = f" under {c.solver.label()}" if c else ""
    line = f"{check.verdict.upper()}: {measure.value} {number.format(e.value)}{where}"
    if math.isfinite(e.low):
        low, high = number.format(e.low), number.format(e.high)
        line += f" ({e.confidence:.0%} interval {low} to {high})"
    return line + f", limit {limit:g}; training solver {check.training.label()}"


def _x_axis(ax, fixed: bool) -> None:
    if fixed:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("test steps K (h = span / K)")
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    else:
        ax.set_xscale("log")
        ax.set_xlabel("test tolerance (rtol)")
        ax.invert_xaxis()


def _measure(check) -> tuple[str, str]:
    """The table column the left panel shows, and its axis label."""
    if check.measure == Measure.ACCURACY:
        return "accuracy", "accuracy"
    if check.measure == Measure.CHANGED:
        return "differs_from_reference", "share of predictions unlike the reference"
    if check.measure == Measure.LOSS:
        return "loss", "mean loss (metric)"
    return "state_distance", "state distance to the reference (state spreads)"


def _draw_measure(ax, check, tested, x_column: str) -> None:
    column, label = _measure(check)
    fixed = check.training.is_fixed_step
    if column in tested:
        for method, group in tested.groupby("method", sort=False):
            colour, marker = METHOD_STYLES.get(method, ("black", "o"))
            group = group.sort_values(x_column)
            ax.plot(group[x_column], group[column], f"-{marker}", ms=4, color=colour, label=method)
        training = check.row(Role.TRAINING)
        if column in training and _finite(training[column]):
            ax.plot(
                training[x_column],
                training[column],
                "o",
                ms=11,
                mfc="none",
                mec="black",
                mew=1.4,
                label=f"training: {check.training.label()}",
            )
    reference = check.row(Role.REFERENCE)
    level = reference.get(column, 0.0) if column in ("accuracy", "loss") else 0.0
    if _finite(level):
        ax.axhline(
            level, color="black", ls="--", lw=1, label=f"reference: {check.reference.label()}"
        )
        if column == "loss":
            low, high = level / (1 + check.limit), level * (1 + check.limit)
        else:
            low = level - check.limit if column == "accuracy" else 0.0
            high = level + check.limit
        ax.axhspan(low, high, color="grey", alpha=0.15, label="agreement band")
    if check.safe_solver is not None and fixed:
        ax.axvline(
            check.safe_steps,
            color="grey",
            ls=":",
            lw=1.2,
            label=f"agrees with the reference from K={check.safe_steps}",
        )
    if column in ("state_distance", "loss"):
        ax.set_yscale("log")
    _x_axis(ax, fixed)
    ax.set_ylabel(label)
    ax.set_title("the model under solvers of equal or smaller error", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def _draw_distance(ax, check, tested, x_column: str) -> None:
    fixed = check.training.is_fixed_step
    if "state_distance" in tested:
        for method, group in tested.groupby("method", sort=False):
            colour, marker = METHOD_STYLES.get(method, ("black", "o"))
            group = group.sort_values(x_column)
            distances = group["state_distance"].clip(lower=1e-12)
            ax.plot(group[x_column], distances, f"-{marker}", ms=4, color=colour, label=method)
    ax.set_yscale("log")
    _x_axis(ax, fixed)
    ax.set_ylabel("state distance to the reference (state spreads)")
    order = check.observed_order
    note = f"; observed order of the training method {order:.2f}" if order is not None else ""
    ax.set_title(f"convergence to the reference{note}", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
