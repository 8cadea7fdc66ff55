import json
import math

import pytest
import torch
from test_cli import nodestudy

from nodestudy import DataConfig, NodestudyError, SolverSpec, TrainConfig, accuracy, load_dataset
from nodestudy.adapt import (
    StepSizeController,
    check_step_size,
    grown,
    initial_step_size,
    shrunk,
    start_from_heuristic,
    steps_for,
)
from nodestudy.config import StepAdaptation, ToleranceAdaptation
from nodestudy.sweep import train_runs

RULE = StepAdaptation()


def test_real_step_sizes_map_to_exact_grids_no_coarser_than_asked():
    assert [steps_for(h) for h in (1.0, 0.5, 1 / 64, 0.1, 0.11, 0.3)] == [1, 2, 64, 10, 10, 4]
    assert all(1 / steps_for(h) <= h + 1e-12 for h in (0.37, 0.011, 0.999))


def test_check_step_makes_the_test_error_about_fifty_times_smaller():
    # euler -> midpoint: sqrt(h / 50) while 1/h <= 50, else h itself
    assert check_step_size(0.5, 1, 2, 50) == pytest.approx(0.1)
    assert check_step_size(1 / 100, 1, 2, 50) == 1 / 100
    # midpoint -> rk4: (h^2 / 50)^(1/4) while 1/h^2 <= 50
    assert check_step_size(0.5, 2, 4, 50) == pytest.approx((0.25 / 50) ** 0.25)
    assert check_step_size(0.1, 2, 4, 50) == 0.1
    # euler -> rk4: (h / 50)^(1/4) while 1/h^3 <= 50
    assert check_step_size(0.5, 1, 4, 50) == pytest.approx((0.5 / 50) ** 0.25)
    assert check_step_size(0.2, 1, 4, 50) == 0.2
    # the error model: h^p / 50 == h_test^q wherever the formula applies
    h_test = check_step_size(0.4, 1, 2, 50)
    assert h_test**2 == pytest.approx(0.4 / 50)


def test_halving_stops_at_the_step_limit_and_growth_at_the_whole_interval():
    assert shrunk(0.5, RULE) == 0.25
    assert shrunk(1 / 300, RULE) == 1 / 500
    assert steps_for(shrunk(shrunk(1 / 500, RULE), RULE)) == 500
    assert grown(0.5, RULE) == pytest.approx(0.55)
    assert grown(0.95, RULE) == 1.0


def test_controller_grows_the_step_while_solvers_agree():
    # a zero vector field: every solver gives the same answer, so they always agree
    data = load_dataset(DataConfig(n_train=128, n_test=16))
    from nodestudy import ODEClassifier

    model = ODEClassifier(1, data.state_shape, 8, 2)
    controller = StepSizeController(RULE, "euler", initial_steps=4)
    decisions = [controller.check(model, data.x_train, data.y_train).decision for _ in range(20)]
    assert set(decisions) == {"grow"}
    assert controller.step_size == 1.0 and controller.solver == SolverSpec("euler", 1)


def test_initial_step_heuristic_on_a_linear_field():
    # f(z) = 2 z from z0 = 1: d0 = 1, d1 = 2, h0 = 0.005, d2 = 4, h1 = (0.01/4)^(1/(p+1))
    def field(t, z):
        return 2 * z

    z0 = torch.ones(1, 5, 2)
    assert initial_step_size(field, z0, order=1) == pytest.approx(0.05)
    assert initial_step_size(field, z0, order=4) == pytest.approx(0.0025**0.2)
    # a nearly constant field: 100 h0 is the binding limit, capped at the interval
    assert initial_step_size(lambda t, z: torch.full_like(z, 1e-3), z0, order=1) == 1.0


def test_adaptation_shrinks_the_step_of_a_model_trained_at_one_step(cache_dir):
    data_config = DataConfig()
    coarse = TrainConfig(data_config, SolverSpec("euler", 1), iterations=600, learning_rate=1e-3)
    (run,) = train_runs([coarse], progress=False)
    data = load_dataset(data_config)
    model = run.model()
    x, y = data.x_test[:128], data.y_test[:128]
    own = accuracy(model, x, y, SolverSpec("euler", 1)).item()
    controller = StepSizeController(RULE, "euler", initial_steps=1)
    check = controller.check(model, x, y)
    assert check.train_accuracy == pytest.approx(own)
    assert abs(check.train_accuracy - check.test_accuracy) > RULE.threshold
    assert check.decision == "shrink" and controller.solver.steps == 2
    # euler at K=1 (1 evaluation) and midpoint at h = sqrt(1/50), K = 8 (16 evaluations)
    assert check.nfe == 1 + 2 * steps_for(math.sqrt(1 / 50)) == 17


def test_an_adapted_run_records_steps_checks_and_its_final_solver(cache_dir):
    config = start_from_heuristic(
        TrainConfig(
            DataConfig(n_train=256, n_test=128),
            SolverSpec("euler", 1),
            iterations=120,
            batch_size=64,
            adaptation=StepAdaptation(check_every=20),
        )
    )
    (run,) = train_runs([config], progress=False)
    history = run.history()
    checks = history[history.check_decision.notna() & (history.check_decision != "")]
    assert list(checks.iteration) == [20, 40, 60, 80, 100, 120]
    assert (history.nfe_forward == history.steps).all()  # euler: one evaluation per step
    assert (history.nfe_check[checks.index] > 0).all()
    assert run.metrics["nfe_forward"] == pytest.approx(
        history.nfe_forward.mean() + history.nfe_check.mean()
    )
    final = run.final_solver
    assert final.steps == run.metrics["final_steps"] == steps_for(history.adapted_value.iloc[-1])
    data = load_dataset(config.data)
    score = accuracy(run.model(), data.x_test, data.y_test, final).item()
    assert score == pytest.approx(run.metrics["test_accuracy"])
    assert len(run.snapshots()) == 20


def test_tolerance_adaptation_moves_the_tolerance_by_its_factors(cache_dir):
    config = TrainConfig(
        DataConfig(n_train=256, n_test=128),
        SolverSpec("fehlberg2", tol=1e-3),
        iterations=60,
        batch_size=64,
        adaptation=ToleranceAdaptation(check_every=20),
    )
    (run,) = train_runs([config], progress=False)
    history = run.history()
    tol = history.adapted_value.to_numpy()
    steps = tol[1:] / tol[:-1]
    changed = steps[abs(steps - 1) > 1e-9]
    assert all(any(math.isclose(c, f) for f in (1.1, 0.5, 1 / 1.1, 0.5 / 1.1)) for c in changed)
    assert run.final_solver.tol == pytest.approx(tol[-1])
    assert history.nfe_forward.gt(0).all()


def test_adaptation_rules_reject_what_cannot_work():
    with pytest.raises(NodestudyError, match="higher order"):
        TrainConfig(DataConfig(), SolverSpec("rk4", 4), adaptation=StepAdaptation("rk4"))
    with pytest.raises(NodestudyError, match="fixed-step training solver"):
        TrainConfig(DataConfig(), SolverSpec("dopri5", tol=1e-3), adaptation=StepAdaptation())
    with pytest.raises(NodestudyError, match="adaptive training solver"):
        TrainConfig(DataConfig(), SolverSpec("euler", 4), adaptation=ToleranceAdaptation())
    with pytest.raises(NodestudyError, match="shrink"):
        StepAdaptation(shrink=1.5)


def test_cli_adapt_reports_final_steps_and_nfe_with_checks(cache_dir):
    result = nodestudy("train", "--solver", "euler", "--adapt", "--iters", "100", "--json")
    assert result.returncode == 0, result.stderr
    trained = json.loads(result.stdout)
    assert trained["adapted"] and trained["final_steps"] >= 1
    assert trained["nfe_forward"] == pytest.approx(
        trained["nfe_forward_training"] + trained["nfe_check"]
    )
    scored = json.loads(nodestudy("evaluate", trained["run"], "--json").stdout)
    assert scored["steps"] == trained["final_steps"]
    assert scored["test_accuracy"] == pytest.approx(trained["test_accuracy"])
