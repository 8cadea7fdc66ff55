import json
import math

import pytest
import torch
import torch.nn.functional as F
from study_helpers import nodestudy
from torchdiffeq import odeint

from nodestudy import NodestudyError, SolverSpec, StepSizeAdapter, ToleranceAdapter
from nodestudy.core.adaptation_rules import (
    check_step_size,
    grid_steps,
    grown,
    initial_step_size,
    shrunk,
    steps_for,
)
from nodestudy.core.solvers import is_exact_torchdiffeq_grid
from nodestudy.study import DataConfig, TrainConfig, accuracy, load_dataset
from nodestudy.study.config import StepAdaptation, ToleranceAdaptation
from nodestudy.study.data.datasets import EpochBatches
from nodestudy.study.experiments.textbook import rings, train_textbook
from nodestudy.study.models import ODEClassifier, member_generators
from nodestudy.study.training.run_adapter import probe_split, start_from_heuristic
from nodestudy.study.training.sweep import train_runs

RULE = StepAdaptation()


def test_real_step_sizes_map_to_exact_grids_no_coarser_than_asked():
    assert [steps_for(h) for h in (1.0, 0.5, 1 / 64, 0.1, 0.11, 0.3)] == [1, 2, 64, 10, 10, 4]
    assert all(1 / steps_for(h) <= h + 1e-12 for h in (0.37, 0.011, 0.999))


def test_grid_steps_skip_the_step_counts_torchdiffeq_would_add_a_sliver_to():
    assert not is_exact_torchdiffeq_grid(61)  # torchdiffeq takes 62 steps for step_size=1/61
    assert grid_steps(1 / 61, 500) == 62 and grid_steps(1 / 64, 500) == 64
    for h in (0.3, 1 / 109, 1 / 121, 0.0123):
        k = grid_steps(h, 500)
        assert 1 / k <= h + 1e-12 and is_exact_torchdiffeq_grid(k)
    assert grid_steps(1e-4, 500) == 500


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
    h_test = check_step_size(0.4, 1, 2, 50)
    assert h_test**2 == pytest.approx(0.4 / 50)


def test_halving_stops_at_the_step_limit_and_growth_at_the_whole_interval():
    assert shrunk(0.5, RULE) == 0.25
    assert shrunk(1 / 300, RULE) == 1 / 500
    assert grown(0.5, RULE) == pytest.approx(0.55)
    assert grown(0.95, RULE) == 1.0


def test_initial_step_heuristic_on_a_linear_field():
    # f(z) = 2 z from z0 = 1: d0 = 1, d1 = 2, h0 = 0.005, d2 = 4, h1 = (0.01/4)^(1/(p+1))
    def field(t, z):
        return 2 * z

    z0 = torch.ones(1, 5, 2)
    assert initial_step_size(field, z0, order=1) == pytest.approx(0.05)
    assert initial_step_size(field, z0, order=4) == pytest.approx(0.0025**0.2)
    # a nearly constant field: 100 h0 is the binding limit, capped at the interval
    assert initial_step_size(lambda t, z: torch.full_like(z, 1e-3), z0, order=1) == 1.0


@pytest.fixture(scope="module")
def coarse_textbook():
    """A textbook torchdiffeq model trained at euler h = 1/2 (it exploits its solver)."""
    x, y = rings(2000, seed=200)
    model = train_textbook(x, y, method="euler", step_size=0.5, iterations=500)
    return model.func, model.head, rings(256, seed=201)


def test_in_a_plain_loop_the_adapter_shrinks_the_step_of_a_coarse_model(coarse_textbook):
    func, head, (x, y) = coarse_textbook
    adapter = StepSizeAdapter(method="euler", steps=2)
    decisions = [adapter.update(i, func, x, y, head) for i in range(50)]
    assert decisions[:49] == [""] * 49 and decisions[49] == "shrink"
    assert adapter.steps == 4 and adapter.options == {"step_size": 0.25}
    row = adapter.history.iloc[49]
    assert row.train_accuracy - row.test_accuracy > 0.1
    # training solve at K=2 and checks: euler K=2, midpoint at h = sqrt(1/100) (K=10)
    assert row.nfe == 2 + 2 + 2 * 10 and row.nfe_training == 2


def test_the_step_grows_while_solvers_agree_and_stays_in_its_bounds():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(128, 2, generator=generator)
    y = (x[:, 0] > x[:, 1]).long()

    def slow(t, z):  # a gentle rotation: every solver agrees at every step
        return 0.1 * torch.stack([z[:, 1], -z[:, 0]], 1)

    def head(z):
        return torch.stack([z[:, 1], z[:, 0]], 1)

    adapter = StepSizeAdapter(method="euler", steps=64, check_every=1)
    decisions = [adapter.update(i, slow, x, y, head) for i in range(60)]
    assert set(decisions) == {"grow"} and adapter.steps == 1
    # a random field disagrees with itself at every check: the step falls to the floor
    torch.manual_seed(0)
    stubborn = StepSizeAdapter(method="euler", steps=2, check_every=1, threshold=1e-9)

    def noise(t, z):
        return 100 * torch.randn_like(z)

    for i in range(40):
        stubborn.update(i, noise, x, y, head)
    steps = stubborn.history.steps
    assert steps.between(1, 500).all() and stubborn.steps == 500
    assert adapter.history.steps.between(1, 500).all()


def test_the_interval_rule_keeps_the_step_when_the_evidence_is_unclear(coarse_textbook):
    func, head, (x, y) = coarse_textbook
    # 8 points cannot show a 0.03 difference either way: keep, neither shrink nor grow
    adapter = StepSizeAdapter(
        method="euler", steps=8, check_every=1, decision="interval", threshold=0.03
    )
    assert adapter.update(0, func, x[:8], y[:8], head) == "keep" and adapter.steps == 8
    # the equivalence decision demands shown agreement: unclear evidence shrinks the step
    strict = StepSizeAdapter(
        method="euler", steps=8, check_every=1, decision="equivalence", threshold=0.03
    )
    assert strict.update(0, func, x[:8], y[:8], head) == "shrink" and strict.steps == 16


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


def test_the_tolerance_adapter_reverts_a_growth_that_bought_nothing():
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(1))
    y = (x[:, 0] > 0).long()

    def decay(t, z):
        return -z

    def head(z):
        return torch.stack([-z[:, 0], z[:, 0]], 1)

    adapter = ToleranceAdapter("fehlberg2", tol=1e-3, check_every=10, patience=3)
    for i in range(10):
        adapter.update(i, decay, x, y, head, nfe=14)
    assert adapter.history.decision.iloc[-1] == "grow" and adapter.tol == pytest.approx(1.1e-3)
    for i in range(10, 13):  # the training NFE stays at 14: the growth bought nothing
        adapter.update(i, decay, x, y, head, nfe=14)
    assert adapter.tol == pytest.approx(1e-3)


def test_adaptation_rules_reject_what_cannot_work():
    with pytest.raises(NodestudyError, match="higher order"):
        TrainConfig(
            DataConfig(), SolverSpec("rk4", 4), adaptation=StepAdaptation(test_method="rk4")
        )
    with pytest.raises(NodestudyError, match="fixed-step training solver"):
        TrainConfig(DataConfig(), SolverSpec("dopri5", tol=1e-3), adaptation=StepAdaptation())
    with pytest.raises(NodestudyError, match="adaptive training solver"):
        TrainConfig(DataConfig(), SolverSpec("euler", 4), adaptation=ToleranceAdaptation())
    with pytest.raises(NodestudyError, match="shrink"):
        StepAdaptation(shrink=1.5)
    with pytest.raises(NodestudyError, match="decision"):
        StepAdaptation(decision="vote")
    with pytest.raises(NodestudyError, match="start"):
        StepSizeAdapter("euler").steps  # noqa: B018


def test_a_probe_rule_without_its_probe_set_is_refused_not_run_on_the_batch():
    with pytest.raises(NodestudyError, match="fixed probe set of 256 points: pass probe="):
        StepSizeAdapter("euler", "flips")
    x, y = rings(100, seed=0)
    with pytest.raises(NodestudyError, match="probe_size is 256 but the probe set has 100"):
        StepSizeAdapter("euler", "flips", probe=(x, y))
    assert StepSizeAdapter("euler", "flips", probe=(x, y), probe_size=100).probe is not None
    assert StepSizeAdapter("euler", "flips", probe_size=None).rule.probe_size is None


def test_a_named_rule_takes_the_paper_s_test_solver_for_the_training_method():
    assert StepSizeAdapter("midpoint", "paper").rule.test_method == "rk4"
    assert StepSizeAdapter("euler", "paper").rule.test_method == "midpoint"


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
