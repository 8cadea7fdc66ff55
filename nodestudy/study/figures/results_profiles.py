"""Figures 1 and 2 at the quick profile's and the paper's sizes, beside what the paper
reports: the table of ``<!-- results:profiles -->``, from ``figures/fig1_sphere2.json``
and ``figures/paper/fig1_sphere2.json`` (``make figures PROFILE=paper``)."""

from __future__ import annotations

from pathlib import Path

from .results_text import load_numbers

#: What the paper reports for Figure 1 (c, d) and Figure 2, read off its figures (it
#: shows one model of each): the coarse (h = 1/2) model's accuracy under euler at 1, 2
#: and 4 or more test steps, and the fine model's from 64 steps up.
PAPER_FIGURE_1 = {
    "coarse at 1": "about 0.74",
    "coarse at its K": "about 0.98",
    "coarse at 2K": "about 0.48 (chance)",
    "coarse at 4096": "about 0.48 (chance)",
    "fine from 64": "0.97–0.98",
    "coarse crossings": "they cross",
    "fine crossings": "they never cross",
    "regions": "at half the step many class-1 points move into the class-0 region",
}


def _accuracy(side: dict, steps: int) -> str:
    """Mean ± std over the seeds under euler at ``steps`` test steps."""
    for row in side["accuracy_by_test_steps"]:
        if row["test_method"] == "euler" and row["test_steps"] == steps:
            return f"{row['mean']:.3f} ± {row['std']:.3f}"
    return "not tested"


def _fine_range(side: dict, from_steps: int = 64) -> str:
    means = [
        row["mean"]
        for row in side["accuracy_by_test_steps"]
        if row["test_method"] == "euler" and row["test_steps"] >= from_steps
    ]
    return f"{min(means):.3f}–{max(means):.3f} (means)" if means else "not tested"


def _column(numbers: dict | None) -> dict[str, str]:
    if numbers is None:
        return {}
    coarse, fine = numbers["coarse"], numbers["fine"]
    k = coarse["train_steps"]
    regions = coarse.get("decision_region_accuracy", {})
    return {
        "sizes": f"{len(coarse['seeds'])} seeds, {numbers['iterations']:,} iterations",
        "coarse at 1": _accuracy(coarse, 1),
        "coarse at its K": _accuracy(coarse, k),
        "coarse at 2K": _accuracy(coarse, 2 * k),
        "coarse at 4096": _accuracy(coarse, 4096),
        "fine from 64": _fine_range(fine),
        "coarse crossings": ", ".join(f"{c:,}" for c in coarse["crossing_pairs_per_seed"]),
        "fine crossings": ", ".join(f"{c:,}" for c in fine["crossing_pairs_per_seed"]),
        "regions": " and ".join(f"{float(v):.2f}" for v in regions.values()) or "not drawn",
    }


ROWS = [
    ("sizes", "trained"),
    ("coarse at 1", "coarse model under euler, 1 test step"),
    ("coarse at its K", "coarse model under euler at its training step"),
    ("coarse at 2K", "coarse model under euler at half its training step"),
    ("coarse at 4096", "coarse model under euler, 4,096 test steps"),
    ("fine from 64", "fine model under euler, 64 test steps and more"),
    ("coarse crossings", "crossing pairs of test trajectories, coarse model (per seed)"),
    ("fine crossings", "crossing pairs of test trajectories, fine model (per seed)"),
    ("regions", "Figure 2: first seed's coarse model at its step and at half of it"),
]


def profiles_table(figures: Path) -> str:
    """Figures 1 and 2: the quick profile, the paper profile (where it has run) and the
    paper, row by row."""
    quick = _column(load_numbers(figures, "fig1_sphere2"))
    paper_profile = _column(load_numbers(figures, "paper/fig1_sphere2"))
    lines = [
        "| Sphere2, Figures 1 and 2 | quick profile | paper profile | the paper |",
        "| --- | --- | --- | --- |",
    ]
    for key, label in ROWS:
        cells = [
            quick.get(key, "not run"),
            paper_profile.get(key, "not run"),
            PAPER_FIGURE_1.get(key, "one model each" if key == "sizes" else "not stated"),
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
