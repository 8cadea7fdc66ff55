import math

import pandas as pd
import pytest

from nodestudy import SolverSpec, critical_steps, reference_drop

REFERENCE = SolverSpec("rk4", 512)


def table_from(drops_by_k, method="euler", seeds=(0, 1)):
    """An accuracy table whose reference accuracy is 0.95 minus the given drop."""
    rows = []
    for k, drop in drops_by_k.items():
        for seed in seeds:
            label = {"data": "sphere2", "train_method": method, "train_steps": k, "seed": seed}
            rows.append({**label, "test_method": method, "test_steps": k, "accuracy": 0.95})
            rows.append({**label, "test_method": "rk4", "test_steps": 512, "accuracy": 0.95 - drop})
    return pd.DataFrame(rows)


def test_critical_steps_is_the_smallest_k_from_which_all_finer_k_pass():
    table = table_from({1: 0.4, 2: 0.4, 4: 0.01, 8: 0.2, 16: 0.02, 32: 0.0, 64: 0.01})
    drops = reference_drop(table, REFERENCE)
    assert drops["drop"].tolist()[:2] == pytest.approx([0.4, 0.4])
    (row,) = critical_steps(drops, tolerance=0.03).to_dict(orient="records")
    assert row["critical_steps"] == 16
    assert row["critical_step_size"] == 1 / 16
    assert row["coarsest_failing_steps"] == 8


def test_critical_steps_is_nan_when_even_the_finest_k_fails():
    drops = reference_drop(table_from({1: 0.4, 2: 0.3}), REFERENCE)
    (row,) = critical_steps(drops).to_dict(orient="records")
    assert math.isnan(row["critical_steps"])


def test_the_drop_is_averaged_over_seeds():
    table = table_from({1: 0.0, 2: 0.0})
    # seed 1 of K=1 drops by 0.1, seed 0 not at all: mean 0.05 > 0.03
    second_seed_reference = (
        (table.train_steps == 1) & (table.seed == 1) & (table.test_method == "rk4")
    )
    table.loc[second_seed_reference, "accuracy"] = 0.85
    (row,) = critical_steps(reference_drop(table, REFERENCE)).to_dict(orient="records")
    assert row["critical_steps"] == 2
