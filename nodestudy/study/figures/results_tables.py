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
import re
import sys
from collections.abc import Callable
from pathlib import Path

from ...core.errors import NodestudyError
from ..analysis.critical import CRITICAL_STEP_DEFINITION
from .layouts import check_folder as check_layout_of_folder
from .results_claims import claims_table
from .results_profiles import profiles_table
from .results_store import verifications_table
from .results_text import (
    PREVIOUS_DEFINITION,
    critical_text,
    drop_at,
    k_text,
    load_numbers,
    number_text,
    previous_rule,
)
from .results_values import fill_values

#: The critical steps the paper states, from its grid search (Table 1: "between 1/64 and
#: 1/128 for Sphere2 and between 1/16 and 1/32 for CIFAR10"), by data set and training
#: method. It states none for the other rows.
PAPER_CRITICAL = {("sphere2", "euler"): "K = 64–128", ("cifar10", "euler"): "K = 16–32"}


def critical_table(figures: Path) -> str:
    """Every critical step of the study, per data set and training method, beside the
    paper's where it states one."""
    lines = [
        "| data | training | critical step (more than half of the learned seeds shown valid) | "
        "the paper | mean drop at the coarsest and finest K | numbers |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    sources = [
        ("fig4_sphere2", "by_training_steps"),
        ("fig4_digits", "by_training_steps"),
        ("fig4_mnist5k", "by_training_steps"),
        ("figA_collapse_datasets", "summary"),
        ("figA_adjoint", "comparison"),
    ]
    for name, summary_key in sources:
        numbers = load_numbers(figures, name)
        if numbers is None:
            lines.append(f"| {name} | not run | | | | |")
            continue
        summary = numbers.get(summary_key, [])
        previous = previous_rule(numbers)
        for row in numbers["critical"]:
            data, method = row["data"], row["train_method"]
            training = method + (f", {row['gradient']}" if name == "figA_adjoint" else "")
            rows = [r for r in summary if r["data"] == data and r["train_method"] == method]
            if name == "figA_adjoint":
                rows = [r for r in rows if r["gradient"] == row["gradient"]]
            ks = sorted(r["train_steps"] for r in rows)
            ends = sorted({ks[0], ks[-1]}) if ks else []
            drops = "; ".join(drop_at(rows, data, k, method) for k in ends)
            paper = PAPER_CRITICAL.get((data, row["train_method"]), "not stated")
            if name == "figA_adjoint" and row["gradient"] == "adjoint":
                paper = "not stated"  # the paper's grid search trained by backpropagation
            lines.append(
                f"| {data} | {training} | {critical_text(row, previous)} | {paper} | {drops} | "
                f"`{name}.json` |"
            )
    return "\n".join(lines)


def adaptation_table(figures: Path) -> str:
    """Table 1 per data set: the grid's critical K against the adaptation."""
    lines = []
    for data in ("sphere2", "digits"):
        numbers = load_numbers(figures, f"fig5_{data}")
        if numbers is None:
            continue
        lines += [
            f"**{data}** ({len(numbers['seeds'])} seeds, {numbers['iterations']} iterations; "
            f"reference {numbers['reference']}; a seed counts as learned above "
            f"{number_text(numbers['learned_bar'], '.3f')})"
            + (f" {PREVIOUS_DEFINITION}" if previous_rule(numbers) else "")
            + ":",
            "",
            "| method | NFE per iteration | steps | accuracy, training "
            "solver | accuracy, reference | learned seeds |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for row in numbers["table1"]:
            lines.append(
                f"| {row['method']} | {number_text(row['nfe_per_iteration'], '.1f')} | "
                f"{row['steps']} | "
                f"{row['accuracy_training_solver']} | {row['accuracy_reference']} | "
                f"{row['learned_seeds']} of {row['seeds']} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip()


def rules_table(figures: Path) -> str:
    """The adaptation rules compared, per data set (over the seeds that learned)."""
    lines = [f"| data | rule {_RULES_HEADER}", "| --- " * 8 + "|"]
    for data in ("sphere2", "digits"):
        numbers = load_numbers(figures, f"fig5_{data}")
        lines += [_rule_row(data, row) for row in (numbers or {}).get("rules", [])]
    return "\n".join(lines)


_RULES_HEADER = (
    "| learned seeds | final drop: mean; largest | worst drop during "
    "training: mean; largest | learned seeds within the limit: at the end / throughout | "
    "forward NFE per iteration (of it checks) | training s per run |"
)


def _rule_row(data: str, row: dict) -> str:
    """A rule (or solver pair) judged over its learned seeds, as one table row."""
    learned = f"{row['learned_seeds']} of {row['seeds']}"
    if not row.get("learned_seeds"):
        return f"| {data} | `{row['rule']}` | {learned} | no learned seed |||||"
    return (
        f"| {data} | `{row['rule']}` | {learned} | {row['final_drop']:.3f}; "
        f"{row['final_drop_max']:.3f} | {row['worst_drop']:.3f}; "
        f"{row['worst_drop_max']:.3f} | {row['seeds_final_within_limit']} / "
        f"{row['seeds_always_within_limit']} | "
        f"{number_text(row['nfe_per_iteration'], '.1f')} "
        f"({number_text(row['nfe_check'], '.1f')}) | "
        f"{number_text(row['train_seconds'], '.0f')} |"
    )


def solver_pairs_table(figures: Path) -> str:
    """The paper's rule with other training -> test solver pairs (appendix), judged as
    the rules are."""
    numbers = load_numbers(figures, "figA_adaptation_solvers") or {}
    lines = [f"| data | training -> test solver {_RULES_HEADER}", "| --- " * 8 + "|"]
    lines += [_rule_row(numbers["data"], row) for row in numbers.get("pairs", [])]
    return "\n".join(lines)


def tolerance_table(figures: Path) -> str:
    """Figure 4 (c, d): mean accuracy of the learned seeds at the training tolerance,
    10 and 100 times tighter and under the reference, per data set, method and tol."""
    lines = [
        "| data | training solver | tol | learned seeds | at its tol | 10x tighter | "
        "100x tighter | reference | drop to 100x tighter | forward NFE per iteration |",
        "| --- " * 10 + "|",
    ]
    for data in ("sphere2", "digits"):
        numbers = load_numbers(figures, f"fig4cd_{data}") or {}
        for r in numbers.get("summary", []):
            values = [
                number_text(r[c], ".3f")
                for c in ("at_train_tol", "at_tol_over_10", "at_tol_over_100", "reference")
            ]
            lines.append(
                f"| {data} | {r['train_method']} | {r['train_tol']:g} | {r['learned_seeds']} of "
                f"{r['seeds']} | {' | '.join(values)} | "
                f"{number_text(r['drop_to_tol_over_100'], '.3f')} | "
                f"{number_text(r['nfe_forward'], '.1f')} |"
            )
    return "\n".join(lines)


def textbook_rules_table(figures: Path) -> str:
    """The adaptation rules taken apart on the textbook model
    (``scripts/adaptation_rules_textbook.py``): per variant, the K each seed ended at,
    the worst drop to the reference, how many models ``check_ode`` calls valid, and the
    cost."""
    numbers = load_numbers(figures, "adaptation_rules_textbook")
    if numbers is None:
        return "(`adaptation_rules_textbook.json` not generated)"
    lines = [
        "| rule variant | final K per seed | largest final drop | valid (check_ode) | forward NFE "
        "per iteration |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in numbers["summary"]:
        lines.append(
            f"| {row['variant']} | {row['final_steps']} | {row['worst_drop']:.3f} | "
            f"{row['valid']} of {row['models']} | {row['nfe_per_iteration']:.1f} |"
        )
    return "\n".join(lines)


#: The per-K summary list of each figure JSON that has one.
SUMMARY_KEYS = ("by_training_steps", "summary", "comparison")


def _mean_std(row: dict, column: str) -> str:
    mean, std = row.get(f"{column}_mean"), row.get(f"{column}_std")
    if mean is None:
        return "—"
    return f"{mean:.3f}" + (f" ± {std:.3f}" if std is not None else "")


def drops_table(figures: Path, name: str) -> str:
    """One sweep's means per training K, over the seeds that learned (how many of how
    many beside each row; a K where none learned states no number)."""
    numbers = load_numbers(figures, name)
    if numbers is None:
        return f"(`{name}.json` not generated)"
    rows = next(numbers[key] for key in SUMMARY_KEYS if key in numbers)
    split = [c for c in ("data", "gradient") if len({r.get(c) for r in rows}) > 1]
    lines = [
        "| " + " | ".join([*split, "trained with", "K", "learned seeds",
                          "accuracy, training solver", "accuracy, reference", "drop"]) + " |",
        "| " + " | ".join(["---"] * (len(split) + 6)) + " |",
    ]  # fmt: skip
    for row in rows:
        cells = [str(row[c]) for c in split] + [row["train_method"], k_text(row["train_steps"])]
        cells.append(f"{row['learned_seeds']} of {row['seeds']}")
        if not row["learned_seeds"]:
            cells += ["no learned seed", "", ""]
        else:
            cells += [
                _mean_std(row, "train_solver_accuracy"),
                _mean_std(row, "reference_accuracy"),
                _mean_std(row, "drop"),
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def definition_text(figures: Path) -> str:
    """The one definition of the critical step, as a quotation."""
    return f"> {CRITICAL_STEP_DEFINITION}"


BLOCKS: dict[str, Callable[[Path], str]] = {
    "definition": definition_text,
    "claims": claims_table,
    "critical": critical_table,
    "adaptation": adaptation_table,
    "rules": rules_table,
    "textbook_rules": textbook_rules_table,
    "tolerance": tolerance_table,
    "solver_pairs": solver_pairs_table,
    "profiles": profiles_table,
    "verifications": verifications_table,
}
#: Blocks that take an argument, ``<!-- results:drops:fig4_sphere2 -->``.
ARGUMENT_BLOCKS: dict[str, Callable[[Path, str], str]] = {"drops": drops_table}
_BLOCK = re.compile(r"(<!-- results:([\w:]+) -->\n)(.*?)(<!-- /results:\2 -->)", re.DOTALL)


def rewrite(text: str, figures: Path) -> str:
    """``text`` with every marked block and number generated anew from ``figures``."""

    def fill(match: re.Match) -> str:
        name, _, argument = match.group(2).partition(":")
        if argument and name in ARGUMENT_BLOCKS:
            generated = ARGUMENT_BLOCKS[name](figures, argument)
        elif not argument and name in BLOCKS:
            generated = BLOCKS[name](figures)
        else:
            known = ", ".join([*BLOCKS, *(f"{n}:NAME" for n in ARGUMENT_BLOCKS)])
            raise NodestudyError(f"unknown results block {match.group(2)!r}; known: {known}")
        return match.group(1) + generated + "\n" + match.group(4)

    return fill_values(_BLOCK.sub(fill, text), figures)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nodestudy.study.figures.results_tables")
    parser.add_argument("documents", nargs="+", type=Path)
    parser.add_argument("--figures", type=Path, default=Path("figures"))
    parser.add_argument("--check", action="store_true", help="fail if a block is stale")
    args = parser.parse_args(argv)
    try:
        check_layout_of_folder(args.figures)
    except NodestudyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
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
