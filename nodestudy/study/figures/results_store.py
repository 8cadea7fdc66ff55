"""The run store's evidence as the README states it: every machine ``nodestudy verify``
ran on, generated from ``figures/store_verifications.json``."""

from __future__ import annotations

from pathlib import Path

from .results_text import load_numbers


def verifications_table(figures: Path) -> str:
    """Every machine ``nodestudy verify`` ran on, and how many of the runs it trained
    again were the stored bits (``figures/store_verifications.json``)."""
    record = load_numbers(figures, "store_verifications") or {"verifications": []}
    lines = [
        "| date | CPU | vendor | instruction set | store | runs trained again | the stored bits "
        "| trained before on |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for entry in record["verifications"]:
        cpu = entry["cpu"]
        before = sorted({sample["trained_on"] for sample in entry["sampled"]})
        lines.append(
            f"| {entry['date']} | {cpu['model']}, {cpu['cores']} cores | {cpu['vendor']} | "
            f"{cpu['instruction_set']} | {entry['store_runs']} runs, "
            f"{entry['store_megabytes']:.1f} MB | {entry['runs']} | "
            f"{entry['identical']} of {entry['runs']} | {'; '.join(before)} |"
        )
    if not record["verifications"]:
        lines.append("| — | not yet run | | | | | | |")
    return "\n".join(lines)
