"""The README's front table: each figure of the paper, its claim, and our number,
generated from ``figures/*.json``."""

from __future__ import annotations

from pathlib import Path

from .results_text import (
    PREVIOUS_DEFINITION,
    critical_text,
    k_text,
    load_numbers,
    number_text,
    previous_rule,
)

Row = tuple[str, str, str, str, str]


def _figure_1_2_rows(figures: Path) -> list[Row]:
    fig1 = load_numbers(figures, "fig1_sphere2")
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
    fig3 = load_numbers(figures, "fig3_fan")
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
        numbers = load_numbers(figures, f"fig4_{data}")
        if numbers:
            euler = next(r for r in numbers["critical"] if r["train_method"] == "euler")
            notebook = "sphere_collapse" if data == "sphere2" else "image_collapse"
            rows.append(
                (
                    figure,
                    claim,
                    f"euler: {critical_text(euler, previous_rule(numbers))}",
                    notebook,
                    f"fig4_{data}_collapse.png",
                )
            )
    appendix = load_numbers(figures, "figA_collapse_datasets")
    if appendix:
        previous = previous_rule(appendix)
        found = "; ".join(
            f"{r['data']}: {critical_text(r, previous)}" for r in appendix["critical"]
        )
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


def _tolerance_rows(figures: Path) -> list[Row]:
    """Figure 4 (c, d): at the loosest and the tightest training tolerance, the drop from
    the training tolerance to 100 times tighter, per method, over its learned seeds."""
    rows = []
    for data in ("sphere2", "digits"):
        numbers = load_numbers(figures, f"fig4cd_{data}")
        if not numbers:
            continue
        parts = []
        for method in ("fehlberg2", "dopri5"):
            mine = sorted(
                (r for r in numbers["summary"] if r["train_method"] == method),
                key=lambda r: r["train_tol"],
            )
            if mine:
                loosest, tightest = mine[-1], mine[0]
                loose, tight = (
                    number_text(r["drop_to_tol_over_100"], ".3f") for r in (loosest, tightest)
                )
                # a drop means something only from a model that scores above chance at
                # its own tolerance: a loose one that never fitted has nothing to lose
                own = number_text(loosest["at_train_tol"], ".3f")
                chance = (
                    f" against the majority class's {numbers['majority_rate']:.3f}"
                    if "majority_rate" in numbers
                    else ""
                )
                scores = f"; it scores {own} at tol {loosest['train_tol']:g}{chance}"
                parts.append(
                    f"{method}: {loose} at tol {loosest['train_tol']:g}, {tight} "
                    f"at tol {tightest['train_tol']:g} ({tightest['learned_seeds']} of "
                    f"{tightest['seeds']} seeds learned"
                    + (scores if tightest["learned_seeds"] else "")
                    + ")"
                )
        found = "accuracy drop to 100x tighter: " + "; ".join(parts)
        claim = (
            "a model trained at a loose tolerance loses accuracy at tighter test tolerances; "
            "at a tight one it does not"
        )
        fig = f"fig4cd_{data}_tolerance.png"
        rows.append((f"4 c, d ({data})", claim, found, "tolerance_collapse", fig))
    return rows


def _solver_pair_rows(figures: Path) -> list[Row]:
    numbers = load_numbers(figures, "figA_adaptation_solvers")
    if not numbers:
        return []
    finals: dict[str, list[str]] = {}
    for run in numbers["pair_runs"]:
        final = k_text(run["final_steps"]) + ("" if run.get("learned", True) else " (not learned)")
        finals.setdefault(run["rule"], []).append(final)
    found = "; ".join(
        f"{pair['rule']}: final K {', '.join(finals.get(pair['rule'], []))}, "
        f"{pair['seeds_final_within_limit']} of {pair['learned_seeds']} learned seeds within "
        f"the limit at the end"
        for pair in numbers["pairs"]
    )
    found += f"; euler grid's critical K = {k_text(numbers['grid_critical_steps'])}"
    claim = "the step adaptation works with other training and test solver pairs"
    return [("appendix", claim, found, "adaptation_solvers", "figA_adaptation_solvers.png")]


def _figure_5_rows(figures: Path) -> list[Row]:
    rows = []
    for data in ("sphere2", "digits"):
        numbers = load_numbers(figures, f"fig5_{data}")
        if numbers:
            adapted = numbers["table1"][-1]
            found = (
                f"final steps {adapted['steps'].removeprefix('final ')}; grid's critical K = "
                f"{k_text(numbers['grid_critical_steps'])}; reference accuracy "
                f"{adapted['accuracy_reference']}"
            )
            if previous_rule(numbers):
                found += f" {PREVIOUS_DEFINITION}"
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
    check = load_numbers(figures, "check_textbook")
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
        for part in (
            _figure_1_2_rows,
            _figure_3_rows,
            _figure_4_rows,
            _tolerance_rows,
            _figure_5_rows,
            _solver_pair_rows,
            _check_rows,
        )
        for row in part(figures)
    ]
    lines = [
        "| figure | the paper's claim | our number (quick profile) | notebook "
        "| file in `figures/` |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {a} | {b} | {c} | {_notebook_link(figures, d)} | `{e}` |" for a, b, c, d, e in rows
    ]
    return "\n".join(lines)


def _notebook_link(figures: Path, notebook: str) -> str:
    """The notebook's name, linked to its executed copy (outputs and figures inline,
    ``make figures`` keeps it in ``figures/notebooks/``) where there is one."""
    executed = figures / "notebooks" / f"{notebook}.ipynb"
    if executed.is_file():
        return f"[`{notebook}`]({figures.name}/notebooks/{notebook}.ipynb)"
    return f"`{notebook}`"
