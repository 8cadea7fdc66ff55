"""The rule comparison's arithmetic: seeds that did not learn enter no mean."""

import pandas as pd
import pytest

from nodestudy.study.experiments.adaptation import summarise_rules


def rows(rule, drops, learned):
    return [
        {
            "rule": rule,
            "seed": seed,
            "final_drop": drop,
            "worst_drop": drop + 0.01,
            "nfe_per_iteration": 10.0 * (seed + 1),
            "nfe_check": 1.0,
            "train_seconds": 5.0,
            "final_accuracy": 0.9 if ok else 0.3,
            "final_reference_accuracy": 0.9 - drop,
            "learned": ok,
        }
        for seed, (drop, ok) in enumerate(zip(drops, learned))
    ]


def test_a_seed_that_did_not_learn_enters_no_mean_but_is_counted():
    table = pd.DataFrame(
        rows("paper", [0.01, 0.03, 0.5], [True, True, False])
        + rows("flips", [0.0, 0.0], [True, True])
    )
    summary = summarise_rules(table, limit=0.03).set_index("rule")
    assert summary.loc["paper", "final_drop"] == pytest.approx(0.02)
    assert summary.loc["paper", "final_drop_max"] == pytest.approx(0.03)
    assert summary.loc["paper", "nfe_per_iteration"] == pytest.approx(15.0)
    assert (summary.loc["paper", "learned_seeds"], summary.loc["paper", "seeds"]) == (2, 3)
    assert summary.loc["paper", "seeds_final_within_limit"] == 2
    assert list(summary.index) == ["paper", "flips"]
