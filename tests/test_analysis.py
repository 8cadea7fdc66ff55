import math

import pandas as pd
import pytest

from nodestudy import NodestudyError, SolverSpec
from nodestudy.study import analyse_collapse, critical_steps, mark_learned, reference_drop
from nodestudy.study.analysis.collapse import learned_bar

REFERENCE = SolverSpec("rk4", 512)
N_POINTS = 1000


def table_from(drops_by_k, method="euler", seeds=(0, 1, 2)):
    """An accuracy table whose reference accuracy is 0.95 minus the given drop."""
    rows = []
    for k, drop in drops_by_k.items():
        for seed in seeds:
            label = {"data": "sphere2", "train_method": method, "train_steps": k, "seed": seed}
            rows.append({**label, "test_method": method, "test_steps": k, "accuracy": 0.95})
            rows.append({**label, "test_method": "rk4", "test_steps": 512, "accuracy": 0.95 - drop})
    return pd.DataFrame(rows)


def pairs_from(table, n=N_POINTS):
    """The paired counts of every run of ``table`` on ``n`` points, as if the points one
    solver gets right and the other wrong all lay on the better solver's side."""
    rows = []
    for keys, run in table.groupby(["data", "train_method", "train_steps", "seed"]):
        own = round(run[run.test_method == keys[1]].accuracy.iloc[0] * n)
        ref = round(run[run.test_method == REFERENCE.method].accuracy.iloc[0] * n)
        both = min(own, ref)
        rows.append(
            {
                **dict(zip(["data", "train_method", "train_steps", "seed"], keys)),
                "diverged": False,
                "correct_both": both,
                "correct_train_only": own - both,
                "correct_reference_only": ref - both,
                "correct_neither": n - max(own, ref),
            }
        )
    return pd.DataFrame(rows)


def analysed(table, pairs=None, majority=0.5):
    pairs = pairs_from(table) if pairs is None else pairs
    return analyse_collapse(table, pairs, REFERENCE, 0.03, {"sphere2": majority})


def test_critical_steps_is_the_coarsest_k_from_which_all_finer_k_pass():
    table = table_from({1: 0.4, 2: 0.4, 4: 0.01, 8: 0.2, 16: 0.01, 32: 0.0, 64: 0.01})
    collapse = analysed(table)
    assert collapse.drops["drop"].tolist()[:2] == pytest.approx([0.4, 0.4])
    (row,) = collapse.critical.to_dict(orient="records")
    assert row["critical_steps"] == 16
    assert row["critical_step_size"] == 1 / 16
    assert row["coarsest_failing_steps"] == 8
    assert row["seeds_valid_from_critical"] == 3


def test_critical_steps_is_nan_when_even_the_finest_k_fails():
    (row,) = analysed(table_from({1: 0.4, 2: 0.3})).critical.to_dict(orient="records")
    assert math.isnan(row["critical_steps"])
    assert (
        "fewer than half of the 3 learned seeds are shown valid even at the finest K=2"
        in row["reason"]
    )


def test_valid_only_within_the_limit_and_the_k_between_invalid_and_valid_inconclusive():
    # 60 points of 1000 lost: the interval lies above 0.03 (invalid); 40 lost: it straddles
    # the limit ([0.028, 0.054]: inconclusive, which is not valid); none lost: valid
    collapse = analysed(table_from({1: 0.06, 2: 0.04, 4: 0.0}))
    drops = collapse.drops.set_index(["train_steps", "seed"])
    assert drops.loc[(1, 0), "drop_low"] > 0.03 > drops.loc[(2, 0), "drop_low"]
    assert drops.loc[(2, 0), "drop_high"] > 0.03
    (row,) = collapse.critical.to_dict(orient="records")
    assert row["critical_steps"] == 4
    assert row["invalid_steps"] == 1 and row["inconclusive_steps"] == "2"
    assert row["verdicts_by_steps"] == "1: 3 invalid; 2: 3 inconclusive; 4: 3 valid"


def test_the_study_decides_a_seed_with_the_check_s_own_decision():
    """One function decides both: check_ode's comparison with the reference and a
    study seed's verdict (nodestudy.core.stats.decide)."""
    from nodestudy.core.check.decision import Comparison
    from nodestudy.core.check.outcomes import Measure, Role
    from nodestudy.core.stats import Estimate, decide
    from nodestudy.study.analysis.critical import seed_verdicts

    drops = analysed(table_from({1: 0.06, 2: 0.04, 4: 0.0})).drops
    for _, row in drops.iterrows():
        estimate = Estimate(row["drop"], row["drop_low"], row["drop_high"], 0.95)
        comparison = Comparison(
            Role.REFERENCE, REFERENCE, Measure.ACCURACY, estimate, 0.03, p_value=1.0
        )
        verdict = decide(estimate, 0.03, two_sided=False)
        assert comparison.within == (verdict == "valid")
    assert set(seed_verdicts(drops, 0.03)) == {"valid", "invalid", "inconclusive"}


def test_no_critical_step_is_stated_whose_mean_drop_exceeds_the_limit():
    # seeds 0-2 valid from K = 2 but seeds 3 and 4 lose 0.3 there: a majority is valid,
    # and the mean drop over the five learned seeds (0.12) exceeds the limit
    table = table_from({2: 0.0, 4: 0.0}, seeds=(0, 1, 2, 3, 4))
    lost = (table.test_method == "rk4") & table.seed.isin([3, 4]) & (table.train_steps == 2)
    table.loc[lost, "accuracy"] = 0.65
    (row,) = analysed(table).critical.to_dict(orient="records")
    assert row["seeds_valid_from_critical"] == 5 and row["critical_steps"] == 4
    assert row["mean_drop_at_critical"] <= 0.03


def test_equal_counts_give_equal_verdicts_whatever_the_accuracies_round_to():
    # 0.95 - 0.92 is 0.030000000000000027 in floats; the counts say 30 of 1000 exactly
    table = table_from({2: 0.0, 4: 0.0})
    ref = table.test_method == "rk4"
    table.loc[ref & (table.train_steps == 2), "accuracy"] = 0.92
    drops = analysed(table).drops
    assert drops[drops.train_steps == 2]["drop"].tolist() == [0.03, 0.03, 0.03]
    assert drops[drops.train_steps == 2]["drop_low"].nunique() == 1


def test_more_than_half_of_the_seeds_decide_and_their_range_is_the_interval():
    table = table_from({1: 0.0, 2: 0.0, 4: 0.0})
    # seed 1 fails at K = 1 and 2, seed 2 at K = 1: per-seed critical K 1, 4, 2
    fails = (table.test_method == "rk4") & (
        ((table.seed == 1) & (table.train_steps <= 2))
        | ((table.seed == 2) & (table.train_steps == 1))
    )
    table.loc[fails, "accuracy"] = 0.9  # shown invalid, and the mean drop at K = 2 within
    (row,) = analysed(table).critical.to_dict(orient="records")
    assert row["critical_steps"] == 2 and row["seeds_valid_from_critical"] == 2
    assert (row["critical_steps_min"], row["critical_steps_max"]) == (1, 4)
    assert row["per_seed_critical_steps"] == "0: 1, 1: 4, 2: 2"


def test_with_four_seeds_three_must_be_valid():
    # per-seed critical K 1, 2, 4, 8: two seeds valid from K = 2 is not more than half
    table = table_from({1: 0.0, 2: 0.0, 4: 0.0, 8: 0.0}, seeds=(0, 1, 2, 3))
    for seed, coarsest in ((1, 2), (2, 4), (3, 8)):
        fails = (table.test_method == "rk4") & (table.seed == seed)
        table.loc[fails & (table.train_steps < coarsest), "accuracy"] = 0.85
    (row,) = analysed(table).critical.to_dict(orient="records")
    assert row["critical_steps"] == 4 and row["seeds_valid_from_critical"] == 3


def test_a_run_that_did_not_learn_at_a_coarser_k_is_a_failure_not_a_gap():
    # three minima's case: seed 1 learned at the finest K but its K = 64 run failed
    table = table_from({16: 0.0, 32: 0.0, 64: 0.0, 128: 0.0})
    table.loc[(table.seed == 1) & (table.train_steps == 64), "accuracy"] = 0.38
    (row,) = analysed(table).critical.to_dict(orient="records")
    assert row["per_seed_critical_steps"] == "0: 16, 1: 128, 2: 16"
    assert row["critical_steps"] == 16 and row["seeds_valid_from_critical"] == 2


def test_a_diverged_run_counts_as_a_failure():
    table = table_from({8: 0.0, 16: 0.0, 32: 0.0})
    pairs = pairs_from(table)
    gone = table.train_steps.eq(16) & table.seed.isin([0, 1])
    diverged = pairs.train_steps.eq(16) & pairs.seed.isin([0, 1])
    pairs.loc[diverged, "diverged"] = True
    pairs.loc[diverged, ["correct_both", "correct_train_only"]] = None
    collapse = analysed(table[~gone], pairs)
    assert collapse.drops.diverged.sum() == 2 and len(collapse.drops) == 9
    (row,) = collapse.critical.to_dict(orient="records")
    assert row["per_seed_critical_steps"] == "0: 32, 1: 32, 2: 8"
    assert row["critical_steps"] == 32


def test_the_critical_step_needs_the_paired_counts():
    drops = reference_drop(table_from({1: 0.0}), REFERENCE)
    with pytest.raises(NodestudyError, match="paired_counts_table"):
        critical_steps(drops)


def test_the_definition_is_stated_once_and_quoted_where_the_study_defines_it():
    from pathlib import Path

    from nodestudy.study import CRITICAL_STEP_DEFINITION

    root = Path(__file__).parent.parent
    for document in ("README.md", "docs/design.md"):
        assert f"> {CRITICAL_STEP_DEFINITION}" in (root / document).read_text(), document


def with_seed_that_never_learned(table, seed=3, accuracy=0.52):
    """The table plus a seed at chance level under every solver (so no drop at all)."""
    extra = table[table.seed == 0].copy()
    extra["seed"], extra["accuracy"] = seed, accuracy
    return pd.concat([table, extra], ignore_index=True)


def test_a_seed_that_did_not_learn_enters_no_mean_and_no_critical_step():
    table = with_seed_that_never_learned(table_from({1: 0.4, 2: 0.2, 4: 0.1, 8: 0.0}))
    collapse = analysed(table)
    drops = collapse.drops
    assert not drops[drops.seed == 3].learned.any() and drops[drops.seed < 3].learned.all()
    (row,) = collapse.critical.to_dict(orient="records")
    assert row["critical_steps"] == 8 and row["learned_seeds"] == 3 and row["seeds"] == 4
    summary = collapse.summary.set_index("train_steps")
    # the mean drop at K = 1 is the three learned seeds' 0.4, not 0.3 with the fourth
    assert summary.loc[1, "drop_mean"] == pytest.approx(0.4)
    assert summary.loc[1, ["learned_seeds", "seeds"]].tolist() == [3, 4]


def test_too_few_learned_seeds_give_no_critical_step_and_say_why():
    table = table_from({1: 0.4, 2: 0.0}, seeds=(0, 1))
    (row,) = analysed(with_seed_that_never_learned(table, seed=2)).critical.to_dict(
        orient="records"
    )
    assert math.isnan(row["critical_steps"])
    assert "2 of 3 seeds learned" in row["reason"]


def test_a_data_set_no_run_learned_has_no_learned_run():
    # three minima: majority class 0.375, best run 0.58 (not halfway to 1)
    assert learned_bar(0.58, 0.375) == math.inf
    assert learned_bar(0.95, 0.5) == pytest.approx(0.855)
    table = table_from({1: 0.1, 2: 0.0})
    table["data"], table["accuracy"] = "three_minima", table.accuracy - 0.4
    collapse = analyse_collapse(table, pairs_from(table), REFERENCE, 0.03, {"three_minima": 0.375})
    assert not collapse.drops.learned.any()
    (row,) = collapse.critical.to_dict(orient="records")
    assert math.isnan(row["critical_steps"]) and "0 of 3 seeds learned" in row["reason"]
    assert collapse.summary.learned_seeds.tolist() == [0, 0]


def test_table1_takes_the_critical_k_and_its_neighbours_and_means_over_learned_seeds_only():
    from nodestudy.study.analysis.tables import grid_vs_adaptation

    table = with_seed_that_never_learned(table_from({4: 0.3, 8: 0.1, 16: 0.0, 32: 0.0}))
    drops = mark_learned(reference_drop(table, REFERENCE), {"sphere2": 0.5})
    runs = drops[["seed", "train_steps"]].assign(
        nfe_forward=drops.train_steps.astype(float), train_seconds=1.0
    )
    adapted = pd.DataFrame(
        {
            "seed": [0, 1, 2, 3],
            "final_steps": [14, 16, 18, 2],
            "nfe_forward": [10.0, 12.0, 14.0, 3.0],
            "test_accuracy": [0.95, 0.95, 0.95, 0.50],
            "reference_accuracy": [0.94, 0.94, 0.94, 0.50],
            "train_seconds": [2.0, 2.0, 2.0, 1.0],
        }
    )
    rows = grid_vs_adaptation(runs, drops, 16, adapted, learned_bar=0.9 * 0.95).set_index("method")
    assert list(rows.index) == [
        "grid search, K=8",
        "grid search, K=16 (critical)",
        "grid search, K=32",
        "step adaptation",
    ]
    critical = rows.loc["grid search, K=16 (critical)"]
    assert (critical.learned_seeds, critical.seeds) == (3, 4)
    assert critical.accuracy_reference == "0.950 ± 0.000"  # seed 3 (at chance) left out
    adaptation = rows.loc["step adaptation"]
    assert (adaptation.learned_seeds, adaptation.seeds) == (3, 4)
    assert adaptation.nfe_per_iteration == pytest.approx(12.0)  # seed 3's 3.0 left out
    assert rows.loc["grid search, K=8"].grid_total_seconds_per_seed == pytest.approx(4.0)


def test_the_learned_bar_comes_from_the_finest_k_not_from_a_coarse_run_that_exploits_it():
    # at K = 1 seed 0 scores 1.00 with its own solver (the discretisation, not learning);
    # at the finest K the seeds reach 0.95 and 0.88: both learned (bar 0.9 * 0.95)
    table = table_from({1: 0.5, 8: 0.0}, seeds=(0, 1))
    own = table.test_method == "euler"
    table.loc[own & (table.train_steps == 1) & (table.seed == 0), "accuracy"] = 1.0
    table.loc[(table.train_steps == 8) & (table.seed == 1), "accuracy"] = 0.88
    drops = mark_learned(reference_drop(table, REFERENCE), {"sphere2": 0.5})
    assert drops.learned_bar.iloc[0] == pytest.approx(0.9 * 0.95)
    assert drops[drops.train_steps == 8].learned.all()


def test_a_missing_majority_rate_is_one_line_naming_the_data_set():
    drops = reference_drop(table_from({1: 0.1}), REFERENCE)
    with pytest.raises(NodestudyError, match="no majority-class rate for sphere2"):
        mark_learned(drops, {})


def test_a_seed_that_did_not_learn_at_the_finest_k_enters_no_coarser_mean_either():
    # seed 2 reaches the bar at K = 1 (by exploiting the discretisation) but not at K = 8
    table = table_from({1: 0.3, 8: 0.0})
    table.loc[(table.seed == 2) & (table.train_steps == 8), "accuracy"] = 0.60
    collapse = analysed(table)
    assert not collapse.drops[collapse.drops.seed == 2].learned.any()
    assert collapse.summary.set_index("train_steps").loc[1, "learned_seeds"] == 2
