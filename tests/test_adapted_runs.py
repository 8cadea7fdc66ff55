"""Adapted runs of the study: its trainer against a plain torchdiffeq loop with the
library's adapter, what an adapted run records, probe sets, tolerance adaptation and the
command line."""

import json
import math

import pytest
import torch
import torch.nn.functional as F
from study_helpers import nodestudy
from torchdiffeq import odeint

from nodestudy import NodestudyError, SolverSpec, StepSizeAdapter
from nodestudy.core.adaptation.rules import grid_steps
from nodestudy.study import DataConfig, TrainConfig, accuracy, load_dataset
from nodestudy.study.config import StepAdaptation, ToleranceAdaptation
from nodestudy.study.data.datasets import EpochBatches
from nodestudy.study.models import ODEClassifier, member_generators
from nodestudy.study.training.run_adapter import probe_split, start_from_heuristic
from nodestudy.study.training.sweep import train_runs

RULE = StepAdaptation()


def test_the_study_trainer_and_a_plain_torchdiffeq_loop_give_the_same_history(cache_dir):
    rule = StepAdaptation(check_every=20)
    config = TrainConfig(
        DataConfig(n_train=256, n_test=64),
        SolverSpec("euler", 3),
        iterations=100,
        batch_size=64,
        learning_rate=3e-3,
        adaptation=rule,
    )
    (run,) = train_runs([config], progress=False)
    study = run.history()

    data = load_dataset(config.data)
    model = ODEClassifier.initialised([0], data.state_shape, 32, data.n_classes)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    batches = EpochBatches(256, 64, [member_generators(0)[1]])
    adapter = StepSizeAdapter(method="euler", rule=rule, steps=3)

    def func(t, z):
        return model.vector_field()(t, z.reshape(1, len(z), -1)).reshape(z.shape)

    def head(z):
        return model.classify(z.reshape(1, len(z), -1))[0]

    t = torch.tensor([0.0, 1.0])
    for iteration in range(100):
        index = batches.next()[0]
        x, y = data.x_train[index], data.y_train[index]
        z = odeint(func, x, t, method=adapter.method, options=adapter.options)[-1]
        loss = F.cross_entropy(head(z), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        adapter.update(iteration, func, x, y, head)

    plain = adapter.history
    assert plain.steps.tolist() == study.steps.tolist()
    assert plain.decision.tolist() == study.check_decision.fillna("").tolist()
    assert plain.nfe_check.tolist() == study.nfe_check.tolist()
    checked = plain.decision != ""
    assert plain.train_accuracy[checked].tolist() == pytest.approx(
        study.check_train_accuracy[checked].tolist(), abs=0.02
    )


def test_start_matches_the_study_heuristic_for_the_same_model_and_batch():
    config = TrainConfig(
        DataConfig(n_train=256, n_test=64),
        SolverSpec("euler", 1),
        batch_size=64,
        adaptation=RULE,
    )
    chosen = start_from_heuristic(config).solver.steps
    data = load_dataset(config.data)
    model = ODEClassifier.initialised([0], data.state_shape, 32, data.n_classes)
    first = EpochBatches(256, 64, [member_generators(0)[1]]).next()[0]
    ode = model.member_ode(0)
    adapter = StepSizeAdapter("euler").start(ode.func, data.x_train[first])
    assert adapter.steps == chosen


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
    assert final.steps == run.metrics["final_steps"]
    assert final.steps == grid_steps(history.adapted_value.iloc[-1], 500)
    data = load_dataset(config.data)
    score = accuracy(run.model(), data.x_test, data.y_test, final).item()
    assert score == pytest.approx(run.metrics["test_accuracy"])
    assert len(run.snapshots()) == 20


def test_a_probe_rule_holds_its_points_out_of_training(cache_dir):
    train_index, probe_index = probe_split(256, 32, seed=0)
    assert len(probe_index) == 32 and len(train_index) == 224
    assert not set(train_index.tolist()) & set(probe_index.tolist())
    assert torch.equal(probe_split(256, 32, seed=0)[1], probe_index)
    config = TrainConfig(
        DataConfig(n_train=256, n_test=64),
        SolverSpec("euler", 4),
        iterations=40,
        batch_size=64,
        adaptation=StepAdaptation.named("paired", probe_size=32, check_every=20),
    )
    (run,) = train_runs([config], progress=False)
    history = run.history()
    checked = history[history.check_decision.fillna("") != ""]
    assert len(checked) == 2 and checked.check_difference_low.notna().all()
    assert json.loads((run.directory / "config.json").read_text())["adaptation"]["probe_size"] == 32
    # the paper's rule keeps its old key: the new fields stay out at their defaults
    assert (
        "probe_size"
        not in TrainConfig(DataConfig(), SolverSpec("euler", 1), adaptation=RULE).to_dict()[
            "adaptation"
        ]
    )


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


def test_a_run_s_adaptation_must_fit_its_training_solver():
    with pytest.raises(NodestudyError, match="higher order"):
        TrainConfig(
            DataConfig(), SolverSpec("rk4", 4), adaptation=StepAdaptation(test_method="rk4")
        )
    with pytest.raises(NodestudyError, match="fixed-step training solver"):
        TrainConfig(DataConfig(), SolverSpec("dopri5", tol=1e-3), adaptation=StepAdaptation())
    with pytest.raises(NodestudyError, match="adaptive training solver"):
        TrainConfig(DataConfig(), SolverSpec("euler", 4), adaptation=ToleranceAdaptation())


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
