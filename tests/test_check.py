"""check_ode on models nodestudy did not build: textbook torchdiffeq models (trained
in conftest.py with torch and torchdiffeq alone), linear ODEs with known solutions,
and fields that break the ODE contract."""

import json

import pytest
import torch
from torch import nn
from torchdiffeq import odeint

from nodestudy import NodestudyError, check_ode


@pytest.fixture
def coarse(coarse_textbook):
    return coarse_textbook


@pytest.fixture
def fine(fine_textbook):
    return fine_textbook


def test_a_coarse_textbook_model_is_invalid(coarse):
    func, head, (x, y) = coarse
    check = check_ode(func, x, y, head=head, method="euler", options={"step_size": 0.5})
    assert check.verdict == "invalid"
    assert check.estimate.low > 0.03  # the whole interval lies beyond the limit
    assert check.reference_converged
    trained, reference = check.row("training"), check.row("reference")
    assert trained["accuracy"] - reference["accuracy"] == pytest.approx(check.estimate.value)
    assert check.safe_steps is None or check.safe_steps > 2
    assert check.crossings["training"] > 10 * max(1, check.crossings["reference"])
    assert "not an ODE flow" in check.reasons[0]


def test_a_fine_textbook_model_is_valid_and_reproduces_its_own_solve(fine):
    func, head, (x, y) = fine
    check = check_ode(func, x, y, head=head, method="rk4", options={"step_size": 1 / 16})
    assert check.verdict == "valid", check
    assert check.estimate.low >= -0.03 and check.estimate.high <= 0.03
    with torch.no_grad():
        z = odeint(func, x, torch.tensor([0.0, 1.0]), method="rk4", options={"step_size": 1 / 16})
        own = (head(z[-1]).argmax(1) == y).float().mean().item()
    assert check.row("training")["accuracy"] == pytest.approx(own)
    assert check.safe_steps <= 16
    roles = set(check.table.role)
    assert {"training", "coarser", "finer", "adaptive", "reference", "reference check"} <= roles


def test_without_labels_the_check_counts_changed_predictions(coarse):
    func, head, (x, _) = coarse
    check = check_ode(func, x, head=head, method="euler", options={"step_size": 0.5})
    assert check.measure == "changed predictions"
    assert check.verdict == "invalid"
    assert 0 < check.estimate.value <= 1


# z' = A z: a rotation with decay, exact solution expm(A t) z0.
A = torch.tensor([[-0.5, 2.0], [-2.0, -0.5]])


def linear(t, z):
    return z @ A.T


def linear_problem(n=400):
    x = torch.randn(n, 2, generator=torch.Generator().manual_seed(0))
    exact = x @ torch.linalg.matrix_exp(A).T
    return x, (exact[:, 0] > exact[:, 1]).long()


def identity_head(z):
    return torch.stack([z[:, 1], z[:, 0]], 1)


def test_a_linear_ode_is_valid_and_euler_converges_at_first_order():
    x, y = linear_problem()
    check = check_ode(
        linear, x, y, head=identity_head, method="euler", options={"step_size": 1 / 64}
    )
    assert check.verdict == "valid"
    assert check.row("reference")["accuracy"] == 1.0  # the reference is the exact flow
    assert check.observed_order == pytest.approx(1.0, abs=0.15)
    # chords between grid points of neighbouring spirals may cross, the flow's orbits not
    assert check.crossings["pairs"] == 300 * 299 // 2
    assert check.crossings["training"] <= 0.001 * check.crossings["pairs"]
    assert check.crossings["reference"] <= 0.001 * check.crossings["pairs"]


def test_end_states_alone_decide_without_a_head():
    x, _ = linear_problem()
    exact = check_ode(linear, x, method="rk4", options={"step_size": 0.1})
    assert exact.measure == "end-state distance" and exact.verdict == "valid"
    coarse = check_ode(linear, x, method="euler", options={"step_size": 0.5})
    assert coarse.verdict == "invalid"  # euler at h = 1/2 is far from the flow


def test_an_unconverged_reference_makes_the_verdict_inconclusive():
    omega = 40.0  # a fast rotation: rk4 needs h * omega well below 2.8

    def spin(t, z):
        return omega * torch.stack([z[:, 1], -z[:, 0]], 1)

    x, _ = linear_problem()
    limited = check_ode(
        spin,
        x,
        method="rk4",
        options={"step_size": 1 / 256},
        reference_steps=16,
        max_reference_steps=16,
    )
    assert not limited.reference_converged and limited.verdict == "inconclusive"
    assert any("did not converge" in reason for reason in limited.reasons)
    refined = check_ode(spin, x, method="rk4", options={"step_size": 1 / 256}, crossing_points=0)
    assert refined.reference_converged and refined.verdict == "valid"


class Noisy(nn.Module):
    def forward(self, t, z):
        return -z + 0.1 * torch.randn_like(z)


def test_a_random_field_is_flagged_and_the_verdict_withheld():
    x, y = linear_problem(100)
    check = check_ode(Noisy(), x, y, head=identity_head, method="euler", options={"step_size": 0.1})
    statuses = {f.name: f.status for f in check.preflight}
    assert statuses["deterministic"] == "problem"
    assert check.verdict == "inconclusive"


def test_dropout_and_batch_norm_in_training_mode_are_flagged_and_left_unchanged():
    field = nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.Dropout(0.2), nn.Linear(16, 2))
    norm = field[1]
    before = (norm.running_mean.clone(), norm.running_var.clone(), int(norm.num_batches_tracked))
    rng_before = torch.random.get_rng_state()
    x, y = linear_problem(100)
    check = check_ode(
        lambda t, z: field(z),
        x,
        y,
        head=identity_head,
        method="euler",
        options={"step_size": 0.25},
    )
    # the modules a closure captured are found, and left as they were
    assert {f.name: f.status for f in check.preflight}["batch_norm"] == "problem"
    assert check.verdict == "inconclusive"
    torch.testing.assert_close(norm.running_mean, before[0])

    class Wrapped(nn.Module):
        def __init__(self):
            super().__init__()
            self.field = field

        def forward(self, t, z):
            return self.field(z)

    check = check_ode(
        Wrapped(), x, y, head=identity_head, method="euler", options={"step_size": 0.25}
    )
    statuses = {f.name: f.status for f in check.preflight}
    assert statuses["batch_norm"] == "problem" and statuses["dropout"] == "problem"
    assert check.verdict == "inconclusive"
    torch.testing.assert_close(norm.running_mean, before[0])
    torch.testing.assert_close(norm.running_var, before[1])
    assert int(norm.num_batches_tracked) == before[2]
    assert torch.equal(torch.random.get_rng_state(), rng_before)
    field.eval()
    check = check_ode(
        Wrapped(), x, y, head=identity_head, method="euler", options={"step_size": 0.25}
    )
    assert {f.name: f.status for f in check.preflight}["batch_norm"] == "ok"
    assert check.verdict != "inconclusive" or check.reference_converged


def test_time_dependence_is_noted_and_crossings_are_not_counted():
    x, y = linear_problem(100)
    check = check_ode(
        lambda t, z: -z + t, x, y, head=identity_head, method="euler", options={"step_size": 0.05}
    )
    assert {f.name: f.status for f in check.preflight}["time_dependent"] == "note"
    assert check.crossings is None


def test_what_torchdiffeq_does_with_the_grid_is_reported_and_reproduced():
    x, y = linear_problem(100)
    no_step = check_ode(linear, x, y, head=identity_head, method="euler")
    assert {f.name: f.status for f in no_step.preflight}["grid"] == "warning"
    assert no_step.training.steps == 1
    uneven = check_ode(linear, x, y, head=identity_head, method="euler", options={"step_size": 0.3})
    assert {f.name: f.status for f in uneven.preflight}["grid"] == "warning"
    assert uneven.row("training")["nfe"] == 4  # torchdiffeq: 0, .3, .6, .9, 1
    sliver = check_ode(
        linear, x, y, head=identity_head, method="euler", options={"step_size": 1 / 61}
    )
    assert {f.name: f.status for f in sliver.preflight}["grid"] == "note"
    assert sliver.row("training")["nfe"] == 62  # torchdiffeq adds a sliver step


def test_an_adaptive_training_solver_is_tested_at_tighter_tolerances():
    x, y = linear_problem(200)
    check = check_ode(linear, x, y, head=identity_head, method="fehlberg2", rtol=1e-4, atol=1e-5)
    rows = check.table.set_index("role")
    assert check.training.rtol == 1e-4 and check.training.absolute_tol == 1e-5
    tighter = sorted(check.table[check.table.role == "tighter"].rtol)
    assert tighter == pytest.approx([1e-6, 1e-5])
    assert (rows.loc["training", "nfe_per_sample_median"]) > 0
    assert check.verdict == "valid"
    assert check.safe_solver is not None and check.safe_solver.method == "fehlberg2"


def test_the_report_is_strict_json_with_the_contract_keys(coarse):
    func, head, (x, y) = coarse
    check = check_ode(func, x[:200], y[:200], head=head, method="euler", options={"step_size": 0.5})
    data = json.loads(json.dumps(check.to_dict(), allow_nan=False))
    for key in ("verdict", "reasons", "safe_steps", "estimate", "table", "preflight"):
        assert key in data
    assert data["verdict"] == check.verdict
    fig = check.plot()
    assert check.verdict.upper() in fig._suptitle.get_text()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y": torch.zeros(10, dtype=torch.long)}, "need a head"),
        ({"method": "heun"}, "unknown or unsupported"),
        ({"t_span": (1.0, 1.0)}, "t0 != t1"),
        ({"t_span": "soon"}, "two numbers"),
        ({"options": {"step_size": -0.1}}, "positive number"),
        ({"drop_limit": 2.0}, "drop_limit"),
        ({"x": torch.zeros(0, 2)}, "non-empty"),
    ],
)
def test_bad_input_is_refused_with_the_fix(kwargs, message):
    arguments = {"x": torch.randn(10, 2), "method": "euler", "options": {"step_size": 0.5}}
    arguments.update(kwargs)
    x = arguments.pop("x")
    with pytest.raises(NodestudyError, match=message):
        check_ode(linear, x, **arguments)


def test_a_field_that_changes_the_shape_is_refused():
    with pytest.raises(NodestudyError, match="shape of z"):
        check_ode(lambda t, z: z[:, :1], torch.randn(10, 2), method="euler")
