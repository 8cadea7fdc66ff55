"""The library's adapters (``nodestudy.StepSizeAdapter``, ``ToleranceAdapter``) and
their rules' arithmetic, on models written without the study (``conftest.py``'s textbook
models and fields written here)."""

import numpy as np
import pytest
import torch

from nodestudy import NodestudyError, StepAdaptation, StepSizeAdapter, ToleranceAdapter
from nodestudy.core.adaptation.rules import (
    check_step_size,
    grid_steps,
    grown,
    initial_step_size,
    shrunk,
    steps_for,
)
from nodestudy.core.solvers import is_exact_torchdiffeq_grid

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


def test_a_probe_rule_without_its_probe_set_is_refused_not_run_on_the_batch():
    with pytest.raises(NodestudyError, match="fixed probe set of 256 points: pass probe="):
        StepSizeAdapter("euler", "flips")
    x, y = torch.randn(100, 2), torch.zeros(100, dtype=torch.long)
    with pytest.raises(NodestudyError, match="probe_size is 256 but the probe set has 100"):
        StepSizeAdapter("euler", "flips", probe=(x, y))
    assert StepSizeAdapter("euler", "flips", probe=(x, y), probe_size=100).probe is not None
    assert StepSizeAdapter("euler", "flips", probe_size=None).rule.probe_size is None


def test_a_named_rule_takes_the_paper_s_test_solver_for_the_training_method():
    assert StepSizeAdapter("midpoint", "paper").rule.test_method == "rk4"
    assert StepSizeAdapter("euler", "paper").rule.test_method == "midpoint"


def test_adaptation_rules_reject_what_cannot_work():
    with pytest.raises(NodestudyError, match="shrink"):
        StepAdaptation(shrink=1.5)
    with pytest.raises(NodestudyError, match="decision"):
        StepAdaptation(decision="vote")
    with pytest.raises(NodestudyError, match="start"):
        StepSizeAdapter("euler").steps  # noqa: B018


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"error_ratio": float("inf")}, "error_ratio must be a number in"),
        ({"error_ratio": 1e12}, "error_ratio must be a number in"),
        ({"threshold": "0.1"}, "threshold must be a number in"),
        ({"grow": float("nan")}, "grow must be a number in"),
        ({"max_steps": 10**7}, "max_steps must lie between"),
        ({"check_every": 2.0}, "check_every must be a whole number"),
    ],
    ids=["inf ratio", "huge ratio", "string", "nan", "huge max_steps", "float count"],
)
def test_a_rule_s_numbers_are_checked_as_numbers_in_one_line(setting, message):
    """Each was a traceback (ZeroDivisionError, '<' not supported) or an update that ran
    past 100 s; numpy's integers are taken as whole numbers."""
    with pytest.raises(NodestudyError, match=message):
        StepAdaptation(**setting)
    assert StepAdaptation(max_steps=np.int64(64)).to_dict()["max_steps"] == 64
