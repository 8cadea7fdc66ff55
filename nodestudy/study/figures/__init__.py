"""Figures of the study. Functions take tidy tables (or arrays) and an axis or
return a figure; they compute nothing that is not drawn. One module per group of
figures; everything is importable from ``nodestudy.study.figures``."""

from .adaptation import (
    plot_adaptation,
    plot_adapter_against_fixed_steps,
    plot_rule_comparison,
    plot_tolerance_adaptation,
)
from .collapse import (
    plot_check_verdicts,
    plot_collapse_summary,
    plot_test_solver_sweep,
    plot_tolerance_sweep,
    sweeps_test_steps,
)
from .phase import (
    plot_accuracy_vs_steps,
    plot_coarse_decision_regions,
    plot_decision_regions,
    plot_fan,
    plot_fine_vs_coarse,
    plot_trajectories,
)
from .style import CLASS_COLOURS, METHOD_COLOURS, VERDICT_COLOURS, caption, save_figure

__all__ = [
    "CLASS_COLOURS",
    "METHOD_COLOURS",
    "VERDICT_COLOURS",
    "caption",
    "plot_accuracy_vs_steps",
    "plot_adaptation",
    "plot_adapter_against_fixed_steps",
    "plot_check_verdicts",
    "plot_coarse_decision_regions",
    "plot_collapse_summary",
    "plot_decision_regions",
    "plot_fan",
    "plot_fine_vs_coarse",
    "plot_rule_comparison",
    "plot_test_solver_sweep",
    "plot_tolerance_adaptation",
    "plot_tolerance_sweep",
    "plot_trajectories",
    "save_figure",
    "sweeps_test_steps",
]
