"""check_ode on hard models, each with a known answer, written with torch and
torchdiffeq alone: a collapse under intermediate solvers, overflow, a blow-up, shifted
coordinates, accurate orbits, trajectory models over a time grid with the user's own
loss, tuple states, numpy and float64 inputs."""

from functools import partial

import pytest
import torch
from torch import nn
from torchdiffeq import odeint

from nodestudy import NodestudyError, SolverSpec, check_ode

# z' = a z with a = -1.2785: one euler step multiplies by 1 + a = -0.2785, the exact
# flow by e^a = +0.2785; the same size, so a head reading |z| agrees at K = 1 and in the
# limit, and disagrees at K = 2 ((1 + a/2)^2 = 0.130), 4, 8 and under midpoint.
DECAY = -1.2785
X_LINE = torch.linspace(-1, 1, 1001)[:, None]
X_LINE = X_LINE[X_LINE.abs().squeeze() > 0.01]
Y_BAND = (X_LINE.abs() > 0.5).long().squeeze()


def band_head(z):
    return 100 * torch.cat([0.139 - z.abs(), z.abs() - 0.139], 1)


def accuracy_under(func, x, y, head, method, steps):
    with torch.no_grad():
        z = odeint(
            func, x, torch.tensor([0.0, 1.0]), method=method, options={"step_size": 1 / steps}
        )
        return float((head(z[-1]).argmax(1) == y).float().mean())


def test_a_collapse_under_an_intermediate_solver_is_invalid():
    func = lambda t, z: DECAY * z  # noqa: E731
    # measured by hand: the training solver and the converged flow agree, K = 2 does not
    own = accuracy_under(func, X_LINE, Y_BAND, band_head, "euler", 1)
    exact = accuracy_under(func, X_LINE, Y_BAND, band_head, "rk4", 512)
    two = accuracy_under(func, X_LINE, Y_BAND, band_head, "euler", 2)
    assert abs(own - exact) < 0.01 and own - two > 0.4
    check = check_ode(
        func, X_LINE, Y_BAND, head=band_head, method="euler", options={"step_size": 1.0}
    )
    assert check.verdict == "invalid"
    assert abs(check.estimate.value) < 0.01  # the reference alone would not tell
    flagged = {c.solver for c in check.comparisons if c.beyond}
    assert SolverSpec("euler", 2) in flagged and SolverSpec("midpoint", 1) in flagged
    assert "euler K=2" in check.reasons[0]


def test_a_flow_that_overflows_float32_is_solved_in_float64_and_invalid():
    x = torch.cat([torch.linspace(-1, -0.1, 200), torch.linspace(0.1, 1, 200)])[:, None]
    y = (x > 0).long().squeeze()

    def head(z):  # class 1 near +100, class 0 near -100
        return torch.cat([-((z + 100) ** 2), -((z - 100) ** 2)], 1)

    with torch.no_grad():  # e^100 overflows float32
        exact = odeint(
            lambda t, z: 100 * z,
            x,
            torch.tensor([0.0, 1.0]),
            method="rk4",
            options={"step_size": 1 / 512},
        )[-1]
    assert not torch.isfinite(exact).all()
    check = check_ode(
        lambda t, z: 100 * z,
        x,
        y,
        head=head,
        method="euler",
        options={"step_size": 1.0},
        max_reference_steps=2048,
    )
    assert check.verdict == "invalid"
    assert "float64" in {f.name for f in check.preflight}
    reference = check.row("reference")
    assert reference["dtype"] == "float64" and reference["accuracy"] == pytest.approx(0.5)
    assert check.row("training")["accuracy"] == 1.0
    assert check.table["accuracy"].notna().sum() >= 10  # every finite solver keeps its numbers


def test_a_flow_that_blows_up_even_in_float64_is_invalid():
    x = torch.linspace(1.5, 2.0, 200)[:, None]  # z' = z^2 blows up at t = 1/z0 < 1
    check = check_ode(lambda t, z: z**2, x, method="euler", options={"step_size": 1.0})
    assert check.verdict == "invalid"
    assert check.row("reference")["finite"] == 0.0
    assert "blow up" in check.reasons[0]


def pendulum(t, z):
    return torch.stack([z[:, 1], -torch.sin(z[:, 0])], 1)


@pytest.mark.parametrize(("shift", "scale"), [(10.0, 1.0), (-3.0, 1.0), (0.0, 3.0)])
def test_moving_or_rescaling_the_state_space_changes_no_verdict(shift, scale):
    x = torch.rand(500, 2, generator=torch.Generator().manual_seed(0)) * 2 - 1
    options = {"method": "euler", "options": {"step_size": 0.5}}
    plain = check_ode(pendulum, x, **options)
    moved = check_ode(
        lambda t, z: scale * pendulum(t, (z - shift) / scale), scale * x + shift, **options
    )
    assert plain.verdict == moved.verdict == "invalid"
    assert moved.estimate.value == pytest.approx(plain.estimate.value, rel=1e-3)
    fine = check_ode(
        lambda t, z: scale * pendulum(t, (z - shift) / scale),
        scale * x + shift,
        method="rk4",
        options={"step_size": 0.25},
    )
    assert fine.verdict == "valid"


def test_an_accurate_solve_has_no_crossing_orbits():
    m = torch.tensor([[-0.5, 2.0], [-2.0, -0.5]])
    x = torch.randn(400, 2, generator=torch.Generator().manual_seed(0))
    check = check_ode(lambda t, z: z @ m.T, x, method="rk4", options={"step_size": 1 / 16})
    assert check.verdict == "valid"
    assert check.crossings["training"] == 0 and check.crossings["reference"] == 0


SPIRAL = torch.tensor([[-0.1, 2.0], [-2.0, -0.1]])
TIMES = torch.linspace(0, 3, 16)


class TanhField(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 2))
        self.nfe = 0

    def forward(self, t, z):
        self.nfe += 1
        return self.net(z)


def mse(pred, y):
    return ((pred - y) ** 2).mean(dim=(0, 2))


@pytest.fixture(scope="module")
def spiral_data():
    y0 = torch.rand(64, 2, generator=torch.Generator().manual_seed(0)) * 4 - 2
    with torch.no_grad():
        true = odeint(
            lambda t, z: z @ SPIRAL.T, y0, TIMES, method="rk4", options={"step_size": 0.01}
        )
    return y0, true


def fit_spiral(y0, true, method, step, iterations=300):
    """The torchdiffeq spiral demo's loop: a loss over every output time."""
    torch.manual_seed(0)
    func = TanhField()
    optimiser = torch.optim.Adam(func.parameters(), lr=1e-2)
    for _ in range(iterations):
        pred = odeint(func, y0, TIMES, method=method, options={"step_size": step})
        loss = ((pred - true) ** 2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return func


@pytest.mark.parametrize(
    ("method", "step", "verdict"), [("euler", 0.5, "invalid"), ("rk4", 0.1, "valid")]
)
def test_a_trajectory_model_over_a_time_grid(spiral_data, method, step, verdict):
    y0, true = spiral_data
    func = fit_spiral(y0, true, method, step)
    options = {"method": method, "options": {"step_size": step}}
    counted = func.nfe
    with_loss = check_ode(func, y0, true, t=TIMES, metric=mse, **options)
    with_states = check_ode(func, y0.numpy(), t=TIMES, **options)
    assert with_loss.verdict == with_states.verdict == verdict, (with_loss, with_states)
    assert with_loss.measure == "loss increase" and with_states.measure == "end-state distance"
    assert func.nfe == counted  # the field's own counter is left as found


def loss_under(func, y0, true, method, **options):
    with torch.no_grad():
        return float(((odeint(func, y0, TIMES, method=method, **options) - true) ** 2).mean())


def test_a_loss_that_rises_past_a_tenth_of_the_model_s_own_is_invalid_in_either_layout(
    spiral_data,
):
    """The spiral fitted with euler at h = 0.125: measured by hand, its loss rises from
    its own to more than twice that under dopri5. The limit is a share of the model's
    own loss, so the verdict does not depend on how y is laid out."""
    y0, true = spiral_data
    func = fit_spiral(y0, true, "euler", 0.125)
    own = loss_under(func, y0, true, "euler", options={"step_size": 0.125})
    converged = loss_under(func, y0, true, "dopri5", rtol=1e-7, atol=1e-9)
    assert converged > 2 * own, (own, converged)
    options = {"method": "euler", "options": {"step_size": 0.125}}
    time_first = check_ode(func, y0, true, t=TIMES, metric=mse, **options)

    def points_first_mse(pred, y):  # y as (N, T, D): the metric permutes
        return ((pred.permute(1, 0, 2) - y) ** 2).mean(dim=(1, 2))

    points_first = check_ode(
        func, y0, true.permute(1, 0, 2).contiguous(), t=TIMES, metric=points_first_mse, **options
    )
    assert time_first.verdict == points_first.verdict == "invalid", (time_first, points_first)
    assert time_first.limit == pytest.approx(0.1 * own, rel=1e-3)
    assert time_first.limit == pytest.approx(points_first.limit)


def test_a_density_model_s_loss_limit_can_be_set_in_nats():
    """A log-likelihood's zero is arbitrary: with loss_limit=0 the limit is loss_atol."""
    x = (torch.randn(300, 2, generator=torch.Generator().manual_seed(1)), torch.zeros(300, 1))
    check = check_ode(
        cnf,
        x,
        metric=gaussian_nll,
        method="rk4",
        options={"step_size": 0.1},
        loss_limit=0,
        loss_atol=0.05,
    )
    assert check.verdict == "valid" and check.limit == 0.05
    with pytest.raises(NodestudyError, match="loss_limit and loss_atol are both 0"):
        check_ode(cnf, x, metric=gaussian_nll, method="rk4", loss_limit=0)


def cnf(t, state):
    """A linear continuous normalising flow: (z, log p) with d log p/dt = -tr(B)."""
    z, logp = state
    b = torch.tensor([[-2.0, 6.0], [-6.0, -2.0]])
    return z @ b.T, -torch.trace(b) * torch.ones_like(logp)


def gaussian_nll(pred, y):
    z, logp = pred
    return 0.5 * (z**2).sum(1) - logp[:, 0]


@pytest.mark.parametrize(
    ("method", "step", "verdict"), [("euler", 1.0, "invalid"), ("rk4", 0.1, "valid")]
)
def test_a_tuple_state_as_a_cnf_has(method, step, verdict):
    x = (torch.randn(300, 2, generator=torch.Generator().manual_seed(1)), torch.zeros(300, 1))
    options = {"method": method, "options": {"step_size": step}}
    assert check_ode(cnf, x, **options).verdict == verdict
    assert check_ode(cnf, x, metric=gaussian_nll, **options).verdict == verdict
    over_time = check_ode(cnf, x, t=torch.linspace(0, 1, 5), **options)  # reproduced by odeint
    assert over_time.verdict == verdict


def test_a_linear_ode_over_a_time_grid_is_valid_and_its_reference_is_the_flow():
    m = torch.tensor([[-0.5, 2.0], [-2.0, -0.5]])
    x = torch.randn(200, 2, generator=torch.Generator().manual_seed(2))
    times = torch.linspace(0, 2, 9)
    exact = torch.stack([x @ torch.linalg.matrix_exp(m * t).T for t in times])
    check = check_ode(
        lambda t, z: z @ m.T,
        x,
        exact,
        t=times,
        metric=mse,
        method="rk4",
        options={"step_size": 0.05},
    )
    assert check.verdict == "valid"
    assert check.row("reference")["loss"] < 1e-10  # the reference is the exact flow
    assert check.t_span == (0.0, 2.0)


def test_numpy_and_float64_inputs_give_the_same_verdict():
    func, head = (lambda t, z: DECAY * z), band_head
    options = {"method": "euler", "options": {"step_size": 1 / 64}}
    tensor = check_ode(func, X_LINE, Y_BAND, head=head, **options)
    as_numpy = check_ode(func, X_LINE.double().numpy(), Y_BAND.numpy(), head=head, **options)
    assert tensor.verdict == as_numpy.verdict == "valid"
    field = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        field.weight.fill_(DECAY)
    cast = check_ode(lambda t, z: field(z), X_LINE.double(), Y_BAND, head=head, **options)
    assert cast.verdict == "valid" and "dtype" in {f.name for f in cast.preflight}
    assert field.weight.dtype == torch.float32


def test_a_model_that_did_not_learn_is_noted():
    y = torch.zeros(len(X_LINE), dtype=torch.long)
    y[::2] = 1
    check = check_ode(
        lambda t, z: DECAY * z, X_LINE, y, head=band_head, method="rk4", options={"step_size": 0.25}
    )
    assert any(f.name == "learned" for f in check.preflight)
    assert any("may not have learned" in r for r in check.reasons)


def test_the_report_prints_whole_and_shows_in_a_notebook():
    check = check_ode(
        lambda t, z: DECAY * z,
        X_LINE,
        Y_BAND,
        head=band_head,
        method="euler",
        options={"step_size": 1.0},
    )
    text = str(check.table)
    assert (
        "..." not in text
        and "state_distance" in text
        and len(text.splitlines()) == len(check.table) + 1
    )
    page = check._repr_html_()
    assert "INVALID" in page and "<table" in page


def two_logit_head(z):
    return torch.cat([z, -z], 1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y": torch.full((50,), 7)}, "head gives 2 classes"),
        ({"y": torch.full((50,), -1)}, "head gives 2 classes"),
        ({"y": torch.full((50,), 0.7)}, "whole class numbers"),
        ({"y": torch.tensor([0, 1] * 25), "head": lambda z: z[:1]}, "one row of logits"),
        ({"options": {"step_sze": 0.1}}, "'step_sze'"),
        ({"options": {"step_size": float("nan")}}, "positive number"),
        ({"options": {"step_size": 1e-7}}, "tested at up to"),
        ({"options": [0.1]}, "must be a dict"),
        ({"t_span": (0.0, float("inf"))}, "finite"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"drop_limit": "0.03"}, "drop_limit must be a number"),
        ({"x": [[1.0], [2.0]]}, "got list"),
        ({"t": torch.tensor([0.0, 1.0, 0.5])}, "strictly"),
        ({"t": torch.tensor([0.0, 1.0]), "y": torch.zeros(50, dtype=torch.long)}, "pass metric"),
        ({"metric": lambda pred, y: pred.sum()}, "one loss per point"),
    ],
)
def test_bad_check_input_is_one_line_that_names_the_fix(kwargs, message):
    arguments = {
        "x": torch.linspace(-1, 1, 50)[:, None],
        "method": "euler",
        "options": {"step_size": 0.5},
        "head": two_logit_head,
    }
    arguments.update(kwargs)
    x = arguments.pop("x")
    with pytest.raises(NodestudyError, match=message):
        check_ode(lambda t, z: -z, x, **arguments)


# -- the adapters, as a new user finds them ----------------------------------------------


def test_an_adapter_takes_a_named_rule():
    from nodestudy import StepAdaptation, StepSizeAdapter

    adapter = StepSizeAdapter("euler", rule="paper", steps=4)
    assert adapter.rule == StepAdaptation.named("paper")
    probe = (torch.zeros(256, 2), torch.zeros(256, dtype=torch.long))
    adapter = StepSizeAdapter("euler", rule="flips", steps=4, probe=probe)
    assert adapter.rule == StepAdaptation.named("flips")


def test_an_adapter_s_default_rule_is_flips_on_the_probe_if_given_else_on_the_batch():
    from nodestudy import StepAdaptation, StepSizeAdapter

    on_batch = StepSizeAdapter("euler", steps=4).rule
    assert on_batch == StepAdaptation.named("flips", probe_size=None)
    probe = (torch.zeros(100, 2), torch.zeros(100, dtype=torch.long))
    assert StepSizeAdapter("euler", steps=4, probe=probe).rule.probe_size == 100
    assert StepSizeAdapter("euler", steps=4, check_every=10).rule.measure == "predictions"


@pytest.mark.parametrize("steps", [0, -4, 2.5, True])
def test_an_adapter_refuses_a_step_count_that_is_not_one(steps):
    from nodestudy import StepSizeAdapter

    with pytest.raises(NodestudyError, match="whole number of steps"):
        StepSizeAdapter("euler", steps=steps)


@pytest.mark.parametrize(
    ("x", "y", "func", "message"),
    [
        (torch.zeros(0, 1), torch.zeros(0, dtype=torch.long), lambda t, z: -z, "non-empty"),
        (torch.ones(8, 1), torch.ones(8), lambda t, z: -z, "integers"),
        (torch.ones(8, 2), torch.ones(8, dtype=torch.long), lambda t, z: z[:, :1], "shape of z"),
    ],
)
def test_an_adapter_check_refuses_bad_input_in_one_line(x, y, func, message):
    from nodestudy import StepSizeAdapter

    adapter = StepSizeAdapter("euler", steps=4, check_every=1)
    with pytest.raises(NodestudyError, match=message):
        adapter.update(0, func, x, y, lambda z: torch.cat([z[:, :1], -z[:, :1]], 1))


def test_a_tolerance_adapter_refuses_a_test_tolerance_no_stricter():
    from nodestudy import ToleranceAdapter

    with pytest.raises(NodestudyError, match="test_tol_ratio"):
        ToleranceAdapter("fehlberg2", test_tol_ratio=0)


def test_an_adapter_s_final_check_checks_the_model_under_the_solver_it_ended_with():
    from nodestudy import StepSizeAdapter

    x = torch.linspace(-1, 1, 1000).reshape(-1, 1)  # enough points to decide
    y = (x[:, 0] > 0).long()
    adapter = StepSizeAdapter("euler", steps=8)
    check = adapter.final_check(lambda t, z: -z, x, y, head=lambda z: torch.cat([-z, z], 1))
    assert check.training.method == "euler" and check.training.steps == 8
    assert check.verdict == "valid"


def test_with_dense_output_times_each_fixed_step_row_is_the_k_it_names(spiral_data):
    """40 output times and K below 39: each row steps K times over the whole span and
    is read at the output times as torchdiffeq reads its grid (no row takes one step
    per output interval), so each row's loss is odeint's at that step, by hand."""
    y0, true = spiral_data
    times = torch.linspace(0, 3, 40)
    with torch.no_grad():
        dense = odeint(
            lambda t, z: z @ SPIRAL.T, y0, times, method="rk4", options={"step_size": 0.01}
        )
    func = fit_spiral(y0, true, "euler", 0.125, iterations=100)
    check = check_ode(
        func, y0, dense, t=times, metric=mse, method="euler", options={"step_size": 0.375}
    )
    rows = check.table[check.table.method == "euler"].dropna(subset=["loss"])
    assert rows.steps.nunique() == len(rows) >= 4
    assert rows.loss.nunique() == len(rows)  # no two K the same solve
    for steps, loss in zip(rows.steps, rows.loss):
        with torch.no_grad():
            pred = odeint(func, y0, times, method="euler", options={"step_size": 3 / steps})
        assert loss == pytest.approx(float(mse(pred, dense).mean()), rel=1e-3), steps


#: A field a script holds as a global, as torchdiffeq's examples do.
script_field = TanhField()


def test_a_lambda_over_a_global_module_leaves_its_counter_as_it_was():
    """``lambda t, z: 3 * field(t, z)`` with ``field`` a global reaches the module by
    name, not through a closure: its counter is found and restored all the same."""
    script_field.nfe = 5
    wrapped = partial(lambda t, z, scale: scale * script_field(t, z), scale=3.0)
    for func in (lambda t, z: 3 * script_field(t, z), wrapped):
        x = torch.randn(50, 2, generator=torch.Generator().manual_seed(3))
        check_ode(func, x, method="rk4", options={"step_size": 0.25})
        assert script_field.nfe == 5


def test_backward_time_with_a_step_that_divides_it_gets_no_grid_note():
    """t = [10, 0], as torchdiffeq's cnf.py: torchdiffeq steps exactly at 10, 8, ..., 0."""
    x = (torch.randn(100, 2, generator=torch.Generator().manual_seed(4)), torch.zeros(100, 1))
    slow = lambda t, state: tuple(0.1 * s for s in cnf(t, state))  # noqa: E731
    check = check_ode(slow, x, t_span=(10.0, 0.0), method="rk4", options={"step_size": 2.0})
    assert [f.status for f in check.preflight if f.name == "grid"] == ["ok"], check.preflight
    assert check.training.steps == 5


@pytest.mark.parametrize(
    "options",
    [
        {"grid_constructor": lambda func, y0, t: torch.linspace(0, 1, 11)},
        {"step_size": 0.1, "perturb": True},
        {"step_size": 0.1, "interp": "cubic"},
    ],
    ids=["grid_constructor", "perturb", "interp"],
)
def test_a_torchdiffeq_grid_option_the_tests_cannot_carry_is_refused_in_one_line(options):
    x = torch.randn(20, 2, generator=torch.Generator().manual_seed(5))
    with pytest.raises(NodestudyError, match="is not supported by check_ode") as refused:
        check_ode(lambda t, z: -z, x, method="euler", options=options)
    assert "\n" not in str(refused.value)
    defaults = {"step_size": 0.1, "perturb": False, "interp": "linear"}
    check_ode(lambda t, z: -z, x, method="euler", options=defaults)  # torchdiffeq's own


def test_torchdiffeq_s_defaults_and_a_misspelt_option():
    """method defaults to dopri5 with torchdiffeq's tolerances, as odeint's does; a
    misspelt step_size is refused, not read as one step."""
    x = torch.randn(60, 2, generator=torch.Generator().manual_seed(6))
    check = check_ode(lambda t, z: -z, x)
    assert check.training.label() == SolverSpec("dopri5", tol=1e-7, atol=1e-9).label()
    assert check.verdict == "valid"
    with pytest.raises(NodestudyError, match=r"unknown option.*'stepsize'"):
        SolverSpec.from_torchdiffeq("euler", {"stepsize": 0.1})


@pytest.mark.parametrize("n", [1, 5])
def test_too_few_points_are_refused_in_one_line(n):
    x = torch.randn(n, 2, generator=torch.Generator().manual_seed(7))
    with pytest.raises(NodestudyError, match=f"at least 10 points.*got {n}"):
        check_ode(lambda t, z: -z, x, method="rk4", options={"step_size": 0.25})
