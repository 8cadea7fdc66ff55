"""How the generated results read: numbers from ``figures/*.json`` as the README and
``docs/results.md`` print them (shared by :mod:`.results_tables` and :mod:`.results_claims`)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..analysis.critical import CRITICAL_STEP_DEFINITION

Numbers = dict


def load_numbers(figures: Path, name: str) -> Numbers | None:
    path = figures / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def k_text(value) -> str:
    return (
        "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:g}"
    )


#: Said of a critical step in numbers made under an earlier definition than
#: :data:`~nodestudy.study.analysis.critical.CRITICAL_STEP_DEFINITION`.
PREVIOUS_DEFINITION = "(earlier rule: inconclusive seeds counted valid; not regenerated yet)"


def previous_rule(numbers: Numbers) -> bool:
    """Whether a figure's critical steps were decided by an earlier definition."""
    return numbers.get("critical_definition") != CRITICAL_STEP_DEFINITION


def critical_text(row: dict, previous: bool = False) -> str:
    """``K = 32 (shown invalid at K = 8, inconclusive at 16), seeds 16–64; 4 of 5 learned
    seeds valid from it, 5 trained`` or ``none (<reason>)``; ``previous``: the numbers
    were decided by an earlier rule, and the text says so."""
    flag = f" {PREVIOUS_DEFINITION}" if previous else ""
    if row.get("critical_steps") is None:
        return f"none ({row.get('reason') or 'no K passes'}){flag}"
    low, high = row.get("critical_steps_min"), row.get("critical_steps_max")
    high_text = "beyond the grid" if high is None else k_text(high)
    spread = f", seeds {k_text(low)}–{high_text}" if high_text != k_text(low) else ""
    bracket = ""
    if "invalid_steps" in row:
        shown = (
            "none shown invalid"
            if row["invalid_steps"] is None
            else f"shown invalid at K = {k_text(row['invalid_steps'])}"
        )
        between = row.get("inconclusive_steps") or ""
        bracket = f" ({shown}" + (f", inconclusive at {between}" if between else "") + ")"
    valid = row.get("seeds_valid_from_critical")
    if valid is None:  # numbers written before the paired test counted valid seeds
        learned = f"{row['learned_seeds']} of {row['seeds']} seeds learned"
        return f"K = {k_text(row['critical_steps'])}{spread}; {learned}{flag}"
    return (
        f"K = {k_text(row['critical_steps'])}{bracket}{spread}; {valid} of "
        f"{row['learned_seeds']} learned seeds valid from it, {row['seeds']} trained{flag}"
    )


def drop_at(summary: list[dict], data: str, k: int, method: str = "euler") -> str:
    for row in summary:
        if row["data"] == data and row["train_method"] == method and row["train_steps"] == k:
            if row.get("learned_seeds", 1) == 0 or row.get("drop_mean") is None:
                return f"K = {k}: no learned seed"
            return f"K = {k}: {row['drop_mean']:.3f}"
    return f"K = {k}: not run"


def number_text(value, spec: str) -> str:
    """A number, or a dash where the JSON has none (e.g. the smoke profile's unlearned runs)."""
    return "—" if value is None else format(value, spec)
