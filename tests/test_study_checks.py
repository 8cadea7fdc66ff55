"""The validity check on the study's own stored runs agrees with the study's tables."""

import json

import pytest
from study_helpers import nodestudy

from nodestudy import NodestudyError, SolverSpec
from nodestudy.study import DataConfig, TrainConfig, accuracy_table, reference_drop
from nodestudy.study.analysis.verdicts import check_run, check_table
from nodestudy.study.training.sweep import train_runs


def sphere_run(steps, iterations=600, seed=0):
    config = TrainConfig(
        DataConfig(),
        SolverSpec("euler", steps),
        iterations=iterations,
        learning_rate=1e-3,
        seed=seed,
    )
    (run,) = train_runs([config], progress=False)
    return run


def test_a_stored_run_is_checked_consistently_with_the_study_tables(cache_dir):
    run = sphere_run(1)
    check = check_run(run, crossing_points=100)
    assert check.row("training")["accuracy"] == pytest.approx(run.metrics["test_accuracy"])
    table = accuracy_table([run], lambda config: [config.solver, check.reference])
    drops = reference_drop(table, check.reference)
    assert check.estimate.value == pytest.approx(drops["drop"].iloc[0])
    assert drops["drop"].iloc[0] > 0.1 and check.verdict == "invalid"


def test_check_table_has_one_row_per_run_with_its_verdict(cache_dir):
    runs = [sphere_run(1), sphere_run(1, seed=1)]
    table = check_table(runs, crossing_points=0)
    assert list(table.seed) == [0, 1] and set(table.verdict) <= {"valid", "invalid", "inconclusive"}
    assert (table.training_accuracy - table.reference_accuracy).tolist() == pytest.approx(
        table.difference.tolist()
    )


@pytest.mark.parametrize("setting", [{"n_jobs": 2}, {"device": "cpu"}, {"cache": "/x"}])
def test_check_table_takes_its_run_time_settings_from_a_session_only(setting):
    with pytest.raises(NodestudyError, match="Session"):
        check_table([], **setting)


def test_cli_check_prints_the_verdict_as_json(cache_dir):
    run = sphere_run(1, iterations=50)
    result = nodestudy("check", str(run.directory), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    for key in ("verdict", "reasons", "safe_steps", "estimate", "reference_converged"):
        assert key in report
    assert report["run"] == str(run.directory)
    plain = nodestudy("check", str(run.directory))
    assert plain.returncode == 0 and report["verdict"] in plain.stdout


def test_cli_check_of_a_diverged_run_says_so_in_one_line(cache_dir):
    config = TrainConfig(
        DataConfig(n_train=256, n_test=128),
        SolverSpec("euler", 2),
        iterations=60,
        learning_rate=1e30,
    )
    (run,) = train_runs([config], progress=False)
    result = nodestudy("check", str(run.directory))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "diverged" in result.stderr
