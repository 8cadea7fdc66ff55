"""The results the README and ``docs/results.md`` state, generated from
``figures/*.json`` (and the CSVs beside them), so that a rerun that changes a number
cannot leave a stale claim behind.

The documents hold marked blocks, ``<!-- results:NAME -->`` ... ``<!-- /results:NAME -->``;
``python -m nodestudy.study.figures.results_tables README.md docs/results.md`` rewrites them
from the figures (``make figures`` does this last), and ``--check`` fails when one is stale
(a test runs it on the committed files).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path

from ...core.errors import NodestudyError

Numbers = dict


def _load(figures: Path, name: str) -> Numbers | None:
    path = figures / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _k(value) -> str:
    return (
        "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:g}"
    )


def _critical_text(row: dict) -> str:
    """``K = 32 (seeds 16–64), 3 of 4 seeds learned`` or ``none: <reason>``."""
    learned = f"{row['learned_seeds']} of {row['seeds']} seeds learned"
    if row.get("critical_steps") is None:
        return f"none ({row.get('reason') or 'no K passes'})"
    spread = ""
    if row.get("critical_steps_min") != row.get("critical_steps_max"):
        spread = f", seeds {_k(row['critical_steps_min'])}–{_k(row['critical_steps_max'])}"
    return f"K = {_k(row['critical_steps'])}{spread}; {learned}"


def _drop_at(summary: list[dict], data: str, k: int, method: str = "euler") -> str:
    for row in summary:
        if row["data"] == data and row["train_method"] == method and row["train_steps"] == k:
            if row.get("learned_seeds", 1) == 0 or row.get("drop_mean") is None:
                return f"K = {k}: no learned seed"
            return f"K = {k}: {row['drop_mean']:.3f}"
    return f"K = {k}: not run"


def critical_table(figures: Path) -> str:
    """Every critical step of the study, per data set and training method."""
    lines = [
        "| data | training | critical step (median of the learned seeds) | "
        "mean drop at the coarsest and finest K | numbers |",
        "| --- | --- | --- | --- | --- |",
    ]
    sources = [
        ("fig4_sphere2", "by_training_steps"),
        ("fig4_digits", "by_training_steps"),
        ("fig4_mnist5k", "by_training_steps"),
        ("figA_collapse_datasets", "summary"),
        ("figA_adjoint", "comparison"),
    ]
    for name, summary_key in sources:
        numbers = _load(figures, name)
        if numbers is None:
            lines.append(f"| {name} | not run | | | |")
            continue
        summary = numbers.get(summary_key, [])
        for row in numbers["critical"]:
            data, method = row["data"], row["train_method"]
            training = method + (f", {row['gradient']}" if name == "figA_adjoint" else "")
            rows = [r for r in summary if r["data"] == data and r["train_method"] == method]
            if name == "figA_adjoint":
                rows = [r for r in rows if r["gradient"] == row["gradient"]]
            ks = sorted(r["train_steps"] for r in rows)
            ends = sorted({ks[0], ks[-1]}) if ks else []
            drops = "; ".join(_drop_at(rows, data, k, method) for k in ends)
            lines.append(
                f"| {data} | {training} | {_critical_text(row)} | {drops} | `{name}.json` |"
            )
    return "\n".join(lines)


def _num(value, spec: str) -> str:
    """A number, or a dash where the JSON has none (e.g. the smoke profile's unlearned runs)."""
    return "—" if value is None else format(value, spec)


def adaptation_table(figures: Path) -> str:
    """Table 1 per data set: the grid's critical K against the adaptation."""
    lines = []
    for data in ("sphere2", "digits"):
        numbers = _load(figures, f"fig5_{data}")
        if numbers is None:
            continue
        lines += [
            f"**{data}** ({len(numbers['seeds'])} seeds, {numbers['iterations']} iterations; "
            f"reference {numbers['reference']}; a seed counts as learned above "
            f"{_num(numbers['learned_bar'], '.3f')}):",
            "",
            "| method | NFE per iteration | steps | accuracy, training "
            "solver | accuracy, reference | learned seeds |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for row in numbers["table1"]:
            lines.append(
                f"| {row['method']} | {_num(row['nfe_per_iteration'], '.1f')} | {row['steps']} | "
                f"{row['accuracy_training_solver']} | {row['accuracy_reference']} | "
                f"{row['learned_seeds']} of {row['seeds']} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip()


def rules_table(figures: Path) -> str:
    """The adaptation rules compared, per data set (means over learned seeds)."""
    lines = [
        "| data | rule | final drop | worst drop | NFE per iteration | learned seeds |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for data in ("sphere2", "digits"):
        numbers = _load(figures, f"fig5_{data}")
        for row in (numbers or {}).get("rules", []):
            if not row.get("learned_seeds"):
                lines.append(
                    f"| {data} | {row['rule']} | no learned seed | | | 0 of {row['seeds']} |"
                )
                continue
            lines.append(
                f"| {data} | {row['rule']} | {row['final_drop']:.3f} | {row['worst_drop']:.3f} | "
                f"{_num(row['nfe_per_iteration'], '.1f')} | "
                f"{row['learned_seeds']} of {row['seeds']} |"
            )
    return "\n".join(lines)


Row = tuple[str, str, str, str, str]


def _figure_1_2_rows(figures: Path) -> list[Row]:
    fig1 = _load(figures, "fig1_sphere2")
    if not fig1:
        return []
    fine, coarse = fig1["fine"], fig1["coarse"]
    rows = [
        (
            "1",
            "a model trained with coarse steps has crossing trajectories; a fine one does not",
            f"crossing pairs of {fine['pairs_checked']:,} per seed: K = {coarse['train_steps']} "
            f"{coarse['crossing_pairs_per_seed']}, K = {fine['train_steps']} "
            f"{fine['crossing_pairs_per_seed']}",
            "sphere_fine_vs_coarse",
            "fig1_sphere2_fine_vs_coarse.png",
        )
    ]
    if "decision_region_accuracy" in coarse:
        scores = coarse["decision_region_accuracy"]
        rows.append(
            (
                "2",
                "the coarse model's end states leave its decision regions at a finer step",
                ", ".join(f"test accuracy at K = {k}: {v:.2f}" for k, v in scores.items())
                + " (first seed)",
                "sphere_fine_vs_coarse",
                "fig2_sphere2_decision_regions.png",
            )
        )
    return rows


def _figure_3_rows(figures: Path) -> list[Row]:
    fig3 = _load(figures, "fig3_fan")
    if not fig3:
        return []
    separability = ", ".join(f"{t}: {v:.2f}" for t, v in fig3["separability"].items())
    claim = "a coarse euler solve makes XOR linearly separable; the exact flow does not"
    return [("3", claim, separability, "fan", "fig3_fan.png")]


def _figure_4_rows(figures: Path) -> list[Row]:
    rows = []
    claim = (
        "below a critical step the accuracy does not drop under a converged solver; "
        "above it, it collapses"
    )
    names = {"sphere2": "4 a, b", "digits": "4 a (digits)", "mnist5k": "4 a (MNIST, appendix)"}
    for data, figure in names.items():
        numbers = _load(figures, f"fig4_{data}")
        if numbers:
            euler = next(r for r in numbers["critical"] if r["train_method"] == "euler")
            notebook = "sphere_collapse" if data == "sphere2" else "image_collapse"
            rows.append(
                (
                    figure,
                    claim,
                    f"euler: {_critical_text(euler)}",
                    notebook,
                    f"fig4_{data}_collapse.png",
                )
            )
    appendix = _load(figures, "figA_collapse_datasets")
    if appendix:
        found = "; ".join(f"{r['data']}: {_critical_text(r)}" for r in appendix["critical"])
        rows.append(
            (
                "appendix",
                "the critical step also exists on other data sets",
                found,
                "collapse_datasets",
                "figA_collapse_datasets.png",
            )
        )
    return rows


def _figure_5_rows(figures: Path) -> list[Row]:
    rows = []
    for data in ("sphere2", "digits"):
        numbers = _load(figures, f"fig5_{data}")
        if numbers:
            adapted = numbers["table1"][-1]
            found = (
                f"final steps {adapted['steps'].removeprefix('final ')}; grid's critical K = "
                f"{_k(numbers['grid_critical_steps'])}; reference accuracy "
                f"{adapted['accuracy_reference']}"
            )
            notebook = "sphere_adaptation" if data == "sphere2" else "image_adaptation"
            rows.append(
                (
                    f"5, Table 1 ({data})",
                    "the step adaptation trains near the critical step without a grid search",
                    found,
                    notebook,
                    f"fig5_{data}_adaptation.png",
                )
            )
    return rows


def _check_rows(figures: Path) -> list[Row]:
    check = _load(figures, "check_textbook")
    if not check:
        return []
    verdicts = "; ".join(
        f"{name} ({c['training_solver']}): {c['verdict']}" for name, c in check["checks"].items()
    )
    return [("(new) `check_ode`", "—", verdicts, "check_your_model", "check_textbook.png")]


def claims_table(figures: Path) -> str:
    """The README's front table: figure, the paper's claim, our number, where it is made."""
    rows = [
        row
        for part in (_figure_1_2_rows, _figure_3_rows, _figure_4_rows, _figure_5_rows, _check_rows)
        for row in part(figures)
    ]
    lines = [
        "| figure | the paper's claim | our number (quick profile) | notebook "
        "| file in `figures/` |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [f"| {a} | {b} | {c} | `{d}` | `{e}` |" for a, b, c, d, e in rows]
    return "\n".join(lines)


BLOCKS: dict[str, Callable[[Path], str]] = {
    "claims": claims_table,
    "critical": critical_table,
    "adaptation": adaptation_table,
    "rules": rules_table,
}
_BLOCK = re.compile(r"(<!-- results:(\w+) -->\n)(.*?)(<!-- /results:\2 -->)", re.DOTALL)


def rewrite(text: str, figures: Path) -> str:
    """``text`` with every marked block generated anew from ``figures``."""

    def fill(match: re.Match) -> str:
        name = match.group(2)
        if name not in BLOCKS:
            raise NodestudyError(f"unknown results block {name!r}; known: {', '.join(BLOCKS)}")
        return match.group(1) + BLOCKS[name](figures) + "\n" + match.group(4)

    return _BLOCK.sub(fill, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nodestudy.study.figures.results_tables")
    parser.add_argument("documents", nargs="+", type=Path)
    parser.add_argument("--figures", type=Path, default=Path("figures"))
    parser.add_argument("--check", action="store_true", help="fail if a block is stale")
    args = parser.parse_args(argv)
    stale = []
    for path in args.documents:
        text = path.read_text()
        new = rewrite(text, args.figures)
        if new != text:
            stale.append(str(path))
            if not args.check:
                path.write_text(new)
    if args.check and stale:
        print(
            f"results blocks in {', '.join(stale)} differ from {args.figures}/*.json; "
            f"regenerate them: python -m nodestudy.study.figures.results_tables {' '.join(stale)}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
