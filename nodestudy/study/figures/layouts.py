"""What each figure's JSON holds at its top level, written once: the notebooks' writer
(:func:`~nodestudy.study.figures.records.write_numbers`) refuses numbers that do not
fit their figure's layout, and the documents' generator
(:mod:`~nodestudy.study.figures.results_tables`) refuses a figures folder holding one,
so a key a notebook renames or drops fails where it is written, not as a blank in the
README later."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ...core.errors import NodestudyError

Number = (int, float)
MaybeNumber = (int, float, type(None))


@dataclass(frozen=True)
class Layout:
    """The keys every run of a notebook writes, with their JSON types, and the keys it
    may add."""

    required: Mapping[str, type | tuple[type, ...]]
    optional: Mapping[str, type | tuple[type, ...]] = field(default_factory=dict)

    def problems(self, numbers: Mapping) -> list[str]:
        missing = [key for key in self.required if key not in numbers]
        allowed = {**self.required, **self.optional, "numerics": str, "store": dict}
        unknown = [key for key in numbers if key not in allowed]
        mistyped = [
            f"{key} is {type(value).__name__}"
            for key, value in numbers.items()
            if key in allowed and not isinstance(value, allowed[key])
        ]
        problems = [f"missing {', '.join(missing)}"] if missing else []
        problems += [f"unknown {', '.join(unknown)}"] if unknown else []
        return problems + mistyped


_RUN = {"profile": str, "seeds": list, "iterations": int, "reference": str}
_CRITICAL = {"critical": list, "critical_definition": str}
_TIMED = {"wall_seconds": Number}

#: A figure's layout by its JSON name; ``{data}`` stands for a data set's short name.
LAYOUTS: dict[str, Layout] = {
    "fig1_sphere2": Layout(
        {"fine": dict, "coarse": dict, "profile": str, "iterations": int, **_TIMED}
    ),
    "fig3_fan": Layout(
        {
            "profile": str,
            "ode": dict,
            "xor_points": dict,
            "separability": dict,
            "samples": int,
            "mean_separability_by_step": dict,
            "mean_separability_exact_flow": Number,
        }
    ),
    "fig4_sphere2": Layout(
        {**_RUN, "drop_limit": Number, **_CRITICAL, "by_training_steps": list, "checks": list},
        _TIMED,
    ),
    "fig4_{data}": Layout(
        {
            **_RUN,
            "data": str,
            "hidden_channels": int,
            "drop_limit": Number,
            **_CRITICAL,
            "by_training_steps": list,
        },
        # tolerance_costs: only in figures written before Figure 4 (c, d) had its own
        # notebook (fig4_mnist5k.json)
        {**_TIMED, "tolerance_costs": list},
    ),
    "fig4cd_{data}": Layout(
        {
            **_RUN,
            "data": str,
            "tolerances": list,
            "test_factors": list,
            "runs": int,
            "diverged": int,
            "summary": list,
            **_TIMED,
        },
        {"majority_rate": Number},
    ),
    "fig5_{data}": Layout(
        {
            **_RUN,
            "data": str,
            "hidden_channels": int,
            "rule": dict,
            "grid_critical_steps": MaybeNumber,
            "critical_definition": str,
            # None where no seed learned: the bar is then infinite (written as null)
            "learned_bar": MaybeNumber,
            "table1": list,
            "rules": list,
            "rule_runs": list,
        },
        {**_TIMED, "tolerance_runs": list},
    ),
    "figA_adaptation_solvers": Layout(
        {
            **_RUN,
            "data": str,
            "drop_limit": Number,
            "rule": dict,
            "grid_critical_steps": MaybeNumber,
            "critical_definition": str,
            "pairs": list,
            "pair_runs": list,
        },
        _TIMED,
    ),
    "figA_adjoint": Layout({**_RUN, **_CRITICAL, "comparison": list}, _TIMED),
    "figA_collapse_datasets": Layout(
        {**_RUN, "drop_limit": Number, "learning_rates": dict, **_CRITICAL, "summary": list},
        _TIMED,
    ),
    "check_textbook": Layout({"profile": str, "study": dict, "checks": dict}),
    # check_your_model with -p model: a user's own model, checked the same way
    "check_user_model": Layout({"profile": str, "study": dict, "checks": dict}),
    "adaptation_rules_textbook": Layout(
        {"profile": str, "seeds": list, "models": list, "summary": list}
    ),
    "numerics_cost": Layout({"by_cpu_vendor": dict}),
    "numerics_machines": Layout({"comparisons": dict}),
    "store_verifications": Layout({"verifications": list}),
}


def layout_of(name: str) -> Layout:
    """The layout of the JSON called ``name`` (a profile's folder, ``paper/``, aside)."""
    stem = Path(name).name
    if stem in LAYOUTS:
        return LAYOUTS[stem]
    prefix = stem.rsplit("_", 1)[0]
    if f"{prefix}_{{data}}" in LAYOUTS:
        return LAYOUTS[f"{prefix}_{{data}}"]
    raise NodestudyError(
        f"no layout for the figure numbers {stem!r}; add one to nodestudy/study/figures/layouts.py"
    )


def check_layout(numbers: Mapping, name: str) -> None:
    """Refuse, in one line, numbers that do not fit their figure's layout (as JSON holds
    them: pass what is written, after ``json_safe``)."""
    problems = layout_of(name).problems(numbers)
    if problems:
        raise NodestudyError(f"{name}.json does not fit its layout: {'; '.join(problems)}")


def check_folder(figures: Path) -> None:
    """Every JSON of a figures folder (and of its profiles' folders) fits its layout."""
    for path in sorted(figures.glob("*.json")) + sorted(figures.glob("*/*.json")):
        name = str(path.relative_to(figures).with_suffix(""))
        check_layout(json.loads(path.read_text()), name)
