"""Figure 5, Table 1 and the comparison of adaptation rules, for one data set.

Both adaptation notebooks (Sphere2 and images) call :func:`run_adaptation_study`:
it trains (or loads) the adapted runs of every compared rule and the grid search,
scores the weights kept during training under the solver in use and under the
converged reference, and returns the tables the notebooks draw and write.

How a rule is judged (:func:`rule_rows`): for each seed, the *final drop* (accuracy
under the adapted solver minus under the reference, at the end), the *worst drop*
over the weights kept during training (20 snapshots), the forward evaluations per
iteration with the checks included, and the training time per run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...core.adaptation.rules import StepAdaptation
from ..analysis.collapse import mark_learned, reference_drop
from ..analysis.critical import CRITICAL_STEP_DEFINITION, critical_steps
from ..analysis.evaluate import accuracy_table, runs_frame, snapshot_accuracy_table
from ..analysis.paired import paired_counts_table
from ..analysis.tables import grid_vs_adaptation
from ..config import TrainConfig
from ..data.datasets import load_dataset
from ..profiles import Study
from ..session import Session, session_or_default
from ..store.runs import Run
from ..training.run_adapter import start_from_heuristic
from ..training.sweep import train_runs


@dataclass
class AdaptationResults:
    """What the adaptation notebooks draw and write."""

    adapted: list[Run]
    grid: list[Run]
    snapshots: pd.DataFrame
    critical_steps: float
    table1: pd.DataFrame
    adapted_summary: pd.DataFrame
    rules: pd.DataFrame
    rule_summary: pd.DataFrame
    #: The accuracy a seed must reach to count as learned (``learned_bar``).
    learned_bar: float

    @property
    def not_learned(self) -> set[int]:
        """Seeds whose adapted (paper-rule) run ended below the learned bar."""
        summary = self.adapted_summary
        return set(summary.seed[summary.test_accuracy < self.learned_bar].tolist())


def rule_configs(study: Study, rule: StepAdaptation) -> list[TrainConfig]:
    """Euler training adapted by ``rule``, one run per seed, starting from the
    heuristic's step."""
    return [
        start_from_heuristic(study.config("euler", 1, seed).replace(adaptation=rule))
        for seed in study.seeds
    ]


def compared_rules(study: Study) -> dict[str, StepAdaptation]:
    """The study's rule (the paper's) and the named variants it is compared with, each
    with the study's check interval."""
    rules = {"paper": study.adaptation}
    for name in study.compared_rules:
        if name != "paper":
            rules[name] = StepAdaptation.named(name, check_every=study.adaptation.check_every)
    return rules


def run_adaptation_study(study: Study, session: Session | None = None) -> AdaptationResults:
    """Train (or load) what Figure 5, Table 1 and the rule comparison need, and
    score it."""
    session = session_or_default(session)
    rules = compared_rules(study)
    runs = {name: train_runs(rule_configs(study, rule), session) for name, rule in rules.items()}
    grid, grid_drops, bar, critical_k = _euler_grid(study, session)
    adapted = runs["paper"]
    snapshots = snapshot_accuracy_table(
        adapted,
        lambda run, iteration: study.snapshot_solvers(run.solver_at(iteration)),
        session,
    )
    adapted_summary = _adapted_summary(adapted, study, session)
    table1 = grid_vs_adaptation(runs_frame(grid), grid_drops, critical_k, adapted_summary, bar)
    rows = pd.concat(
        [rule_rows(name, group, study, session) for name, group in runs.items()],
        ignore_index=True,
    )
    rows["learned"] = rows.final_accuracy >= bar
    rows["learned_bar"] = bar
    return AdaptationResults(
        adapted=adapted,
        grid=grid,
        snapshots=snapshots,
        critical_steps=critical_k,
        table1=table1,
        adapted_summary=adapted_summary,
        rules=rows,
        rule_summary=summarise_rules(rows, study.drop_limit),
        learned_bar=bar,
    )


def _euler_grid(study: Study, session: Session) -> tuple[list[Run], pd.DataFrame, float, float]:
    """The euler grid search: its runs, their drops to the reference (learned marked),
    the learned bar and the critical K (from the seeds that learned: one that did not
    has no drop to show)."""
    configs = [c for c in study.sweep_configs() if c.solver.method == "euler"]
    grid = train_runs(configs, session)
    table = accuracy_table(grid, lambda c: [c.solver, study.reference], session)
    pairs = paired_counts_table(grid, study.reference, session)
    drops = mark_learned(
        reference_drop(table, study.reference, pairs),
        {study.data.short_name: load_dataset(study.data).majority_rate},
    )
    critical_k = critical_steps(drops, study.drop_limit).critical_steps.iloc[0]
    return grid, drops, float(drops.learned_bar.iloc[0]), critical_k


#: The appendix's pairs of training and test method for the step adaptation: the
#: paper's (euler -> midpoint), and rk4 (order 4) as the test method of euler and midpoint.
SOLVER_PAIRS = (("euler", "midpoint"), ("euler", "rk4"), ("midpoint", "rk4"))


@dataclass(frozen=True)
class SolverPairResults:
    #: One row per run, as :func:`rule_rows` (``rule`` names the pair: "euler -> rk4").
    rows: pd.DataFrame
    #: Per pair, over the seeds that learned (:func:`summarise_rules`).
    summary: pd.DataFrame
    #: The euler grid's critical K, which the euler-trained pairs should end near.
    grid_critical_steps: float


def solver_pair_configs(study: Study, pairs=SOLVER_PAIRS) -> dict[str, list[TrainConfig]]:
    """Per pair, the study's rule with that test method, training with that method
    from the heuristic's step, one run per seed."""
    return {
        f"{train} -> {test}": [
            start_from_heuristic(
                study.config(train, 1, seed).replace(
                    adaptation=dataclasses.replace(study.adaptation, test_method=test)
                )
            )
            for seed in study.seeds
        ]
        for train, test in pairs
    }


def run_solver_pair_study(study: Study, session: Session | None = None) -> SolverPairResults:
    """Train (or load) the adaptation with every solver pair, and judge each pair as
    the rule comparison judges a rule, seeds learned by the euler grid's bar."""
    session = session_or_default(session)
    _, _, bar, critical_k = _euler_grid(study, session)
    rows = pd.concat(
        [
            rule_rows(name, train_runs(configs, session), study, session)
            for name, configs in solver_pair_configs(study).items()
        ],
        ignore_index=True,
    )
    rows["learned"] = rows.final_accuracy >= bar
    rows["learned_bar"] = bar
    return SolverPairResults(rows, summarise_rules(rows, study.drop_limit), critical_k)


def _adapted_summary(adapted: list[Run], study: Study, session: Session) -> pd.DataFrame:
    """Per adapted run: its final solver, cost, and accuracy under it and under the
    reference."""
    reference = accuracy_table(adapted, lambda c: [study.reference], session)
    merged = runs_frame(adapted).merge(reference[["run", "accuracy"]], on="run")
    merged["drop"] = merged.test_accuracy - merged.accuracy
    return merged.rename(columns={"accuracy": "reference_accuracy"})


def rule_rows(
    name: str, runs: list[Run], study: Study, session: Session | None = None
) -> pd.DataFrame:
    """One row per run of a rule: final and worst drop to the reference over the
    weights kept during training, NFE per iteration (checks included), time.

    During training each snapshot is scored under the solver it was trained with at
    that iteration; the final weights under the solver adaptation ended with
    (``Run.final_solver``, the K a user deploys), as Table 1 scores them."""
    reference = study.reference

    def solvers(run: Run, iteration: int):
        final = [run.final_solver] if iteration == run.config.iterations else []
        return list(dict.fromkeys([run.solver_at(iteration), *final, reference]))

    snapshots = snapshot_accuracy_table(runs, solvers, session)
    rows = []
    for run in runs:
        mine = snapshots[snapshots.run == run.directory.name]
        own = _accuracy_by_iteration(mine, run.solver_at)
        converged = _accuracy_by_iteration(mine, lambda it: reference)
        drop = (own - converged).dropna()
        final = mine[mine.iteration == mine.iteration.max()]
        final_own = _accuracy_by_iteration(final, lambda _, s=run.final_solver: s).iloc[-1]
        rows.append(
            {
                "rule": name,
                "seed": run.config.seed,
                "final_steps": run.metrics["final_steps"],
                "final_accuracy": final_own,
                "final_reference_accuracy": converged.iloc[-1],
                "final_drop": final_own - converged.iloc[-1],
                "worst_drop": drop.max(),
                "worst_drop_iteration": int(drop.idxmax()),
                "nfe_per_iteration": run.metrics["nfe_forward"],
                "nfe_check": run.metrics["nfe_check"],
                "train_seconds": run.metrics["train_seconds"],
            }
        )
    return pd.DataFrame(rows)


def _accuracy_by_iteration(snapshots: pd.DataFrame, solver_at) -> pd.Series:
    """Per iteration, the accuracy under the solver ``solver_at(iteration)`` names."""
    chosen = [
        (row.test_method, row.test_steps, row.test_tol) == _solver_key(solver_at(row.iteration))
        for row in snapshots.itertuples()
    ]
    return snapshots[chosen].set_index("iteration").accuracy


def _solver_key(solver) -> tuple:
    return (solver.method, solver.steps, solver.tol)


def summarise_rules(rows: pd.DataFrame, limit: float) -> pd.DataFrame:
    """Per rule, over the seeds that learned (``learned``; the others enter no mean):
    means (and the largest drops), the count of learned seeds, and how many of them
    stayed within ``limit`` at the end and throughout."""
    counts = rows.groupby("rule", sort=False).size()
    if "learned" in rows:
        rows = rows[rows.learned]
    grouped = rows.groupby("rule", sort=False)
    summary = grouped[
        [
            "final_drop",
            "worst_drop",
            "nfe_per_iteration",
            "nfe_check",
            "train_seconds",
            "final_accuracy",
            "final_reference_accuracy",
        ]
    ].mean()
    summary["final_drop_max"] = grouped.final_drop.max()
    summary["worst_drop_max"] = grouped.worst_drop.max()
    summary["learned_seeds"] = grouped.size()
    summary["seeds_final_within_limit"] = grouped.final_drop.apply(
        lambda d: int(np.sum(d <= limit))
    )
    summary["seeds_always_within_limit"] = grouped.worst_drop.apply(
        lambda d: int(np.sum(d <= limit))
    )
    # a rule none of whose seeds learned keeps its row, with counts of 0
    summary = summary.reindex(counts.index)
    summary["seeds"] = counts
    for count in ("learned_seeds", "seeds_final_within_limit", "seeds_always_within_limit"):
        summary[count] = summary[count].fillna(0).astype(int)
    return summary.reset_index()


def adaptation_numbers(results: AdaptationResults, study: Study) -> dict:
    """The numbers written beside Figure 5, Table 1 and the rule comparison."""
    from ..figures.records import frame_records

    return {
        "data": study.data.short_name,
        "hidden_channels": study.model.hidden_channels,
        "seeds": list(study.seeds),
        "iterations": study.iterations,
        "reference": study.reference.label(),
        "rule": study.adaptation.to_dict(),
        "grid_critical_steps": results.critical_steps,
        "critical_definition": CRITICAL_STEP_DEFINITION,
        "learned_bar": results.learned_bar,
        "table1": frame_records(results.table1),
        "rules": frame_records(results.rule_summary),
        "rule_runs": frame_records(results.rules),
    }


def solver_pair_numbers(pairs: SolverPairResults, study: Study) -> dict:
    """The numbers written beside the appendix's solver pairs (``figA_adaptation_solvers``)."""
    from ..figures.records import frame_records

    return {
        "data": study.data.short_name,
        "seeds": list(study.seeds),
        "iterations": study.iterations,
        "reference": study.reference.label(),
        "drop_limit": study.drop_limit,
        "rule": study.adaptation.to_dict(),
        "grid_critical_steps": pairs.grid_critical_steps,
        "critical_definition": CRITICAL_STEP_DEFINITION,
        "pairs": frame_records(pairs.summary),
        "pair_runs": frame_records(pairs.rows),
    }
