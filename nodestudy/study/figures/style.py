"""What every figure shares: colours, saving, the mean-and-band line, the log2 K axis."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .records import output_directory

CLASS_COLOURS = ("#1f77b4", "#d62728")  # class 0 blue, class 1 red


METHOD_COLOURS = {"euler": "#1b9e77", "midpoint": "#d95f02", "rk4": "#7570b3"}


VERDICT_COLOURS = {"valid": "#1a7f37", "invalid": "#c62828", "inconclusive": "#b08800"}


def caption(data: str, profile: str, seeds: Sequence[int] = ()) -> str:
    """What a figure's file must say about itself: ``Sphere2; seeds 0, 1, 2; quick profile``."""
    named = f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}" if seeds else ""
    parts = [data, named, f"{profile} profile"]
    return "; ".join(part for part in parts if part)


def save_figure(
    fig: Figure, directory: str | Path, name: str, caption: str | None = None
) -> list[Path]:
    """Write ``name``.png and ``name``.pdf into ``directory``; ``caption`` (the data
    set, seeds and profile) goes above the figure, so the file says what it shows
    without the notebook beside it."""
    if caption:
        # above everything, where no legend or axis label is
        fig.text(0.01, 1.02, caption, ha="left", va="bottom", fontsize=8, color="dimgrey")
    directory = output_directory(directory)
    paths = [directory / f"{name}.png", directory / f"{name}.pdf"]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight", metadata={"CreationDate": None})
    return paths


def mean_std_line(
    ax: Axes,
    values: pd.core.groupby.SeriesGroupBy,
    colour,
    label: str,
    ms: float = 3,
    min_count: int = 1,
) -> pd.Series:
    """Mean over seeds as a line with markers and a ±1 std band, where at least
    ``min_count`` seeds are behind it; returns the means."""
    stats = values.agg(["mean", "std", "count"])
    stats = stats[stats["count"] >= min_count].fillna(0.0)
    ax.plot(stats.index, stats["mean"], "-o", ms=ms, color=colour, label=label)
    ax.fill_between(
        stats.index,
        stats["mean"] - stats["std"],
        stats["mean"] + stats["std"],
        color=colour,
        alpha=0.18,
    )
    return stats["mean"]


def log2_steps_axis(ax: Axes, label: str) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xlabel(label)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))


def finish_axes(
    ax: Axes, xlabel: str, ylabel: str, title: str, *, title_size: float = 9, **legend
) -> None:
    """Labels, a small title, a light grid and a legend (``legend`` keywords, e.g.
    ``fontsize``): the last lines of most panels."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=title_size)
    ax.grid(alpha=0.3)
    ax.legend(**{"fontsize": 7, **legend})


def log2_scale(ax: Axes, which: str = "x") -> None:
    """A base-2 log scale on the x or y axis, with plain numbers at the ticks."""
    getattr(ax, f"set_{which}scale")("log", base=2)
    getattr(ax, f"{which}axis").set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
