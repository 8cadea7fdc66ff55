import numpy as np
import pytest
import torch
from torchdiffeq import odeint

from nodestudy import NodestudyError, SolverSpec, solve
from nodestudy.core.solvers import FIXED_STEP_METHODS

# z' = A z with A a rotation plus decay; exact solution expm(A t) z0.
A = torch.tensor([[-0.5, 2.0], [-2.0, -0.5]], dtype=torch.float64)
Z0 = torch.tensor([[1.0, 0.5]], dtype=torch.float64)


def linear_field(t, z):
    return z @ A.T


def exact_end():
    return Z0 @ torch.linalg.matrix_exp(A).T


@pytest.mark.parametrize(
    ("method", "order"), [("euler", 1), ("midpoint", 2), ("heun2", 2), ("heun3", 3), ("rk4", 4)]
)
def test_order_of_convergence(method, order):
    steps = [8, 16, 32, 64]
    errors = [
        (solve(linear_field, Z0, SolverSpec(method, k)).final - exact_end()).norm().item()
        for k in steps
    ]
    slope = np.polyfit(np.log([1 / k for k in steps]), np.log(errors), 1)[0]
    assert abs(slope - order) < 0.3, (method, slope, errors)


@pytest.mark.parametrize(("method", "stages"), [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_evaluations_per_step(method, stages):
    calls = 0

    def counted(t, z):
        nonlocal calls
        calls += 1
        return linear_field(t, z)

    solution = solve(counted, Z0, SolverSpec(method, 7))
    assert calls == 7 * stages == solution.nfe == SolverSpec(method, 7).nfe
    assert FIXED_STEP_METHODS[method].stages == stages


@pytest.mark.parametrize("method", ["euler", "midpoint", "heun2", "heun3", "rk4"])
def test_matches_torchdiffeq_on_an_exact_grid(method):
    k = 5
    grid = torch.linspace(0.0, 1.0, k + 1, dtype=torch.float64)
    ours = solve(linear_field, Z0, SolverSpec(method, k), record=True).trajectory
    theirs = odeint(linear_field, Z0, grid, method=method)
    torch.testing.assert_close(ours, theirs)


def test_recorded_trajectory_has_every_grid_point():
    solution = solve(linear_field, Z0, SolverSpec("euler", 3), record=True)
    assert solution.trajectory.shape == (4, 1, 2)
    torch.testing.assert_close(solution.trajectory[0], Z0)
    torch.testing.assert_close(solution.trajectory[-1], solution.final)


@pytest.mark.parametrize("method", ["dopri5", "fehlberg2"])
def test_adaptive_solvers_meet_their_tolerance(method):
    solution = solve(linear_field, Z0, SolverSpec(method, tol=1e-8))
    assert (solution.final - exact_end()).norm().item() < 1e-5
    assert solution.nfe > 0


def test_step_size_is_exactly_one_over_k():
    assert SolverSpec("euler", 3).step_size == 1 / 3
    assert SolverSpec("euler", 4).step_size_over((0.0, 2.0)) == 0.5
    assert SolverSpec("euler", 4).to_torchdiffeq((0.0, 2.0))["options"] == {"step_size": 0.5}
    assert SolverSpec("rk4", 64).order == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "heun"}, "unknown solver"),
        ({"method": "euler", "steps": 0}, "at least 1"),
        ({"method": "euler", "steps": -2}, "at least 1"),
        ({"method": "euler", "steps": 2.5}, "whole number"),
        ({"method": "euler"}, "whole number"),
        ({"method": "euler", "steps": 4, "tol": 1e-3}, "takes no tolerance"),
        ({"method": "dopri5"}, "tolerance"),
        ({"method": "dopri5", "tol": -1.0}, "tolerance"),
        ({"method": "dopri5", "steps": 4, "tol": 1e-3}, "chooses its own steps"),
    ],
)
def test_bad_solver_specs_say_what_to_fix(kwargs, message):
    with pytest.raises(NodestudyError, match=message):
        SolverSpec(**kwargs)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"spec": "euler"}, "solve takes a SolverSpec"),
        ({"t_span": (0.0, float("nan"))}, "two different finite numbers"),
        ({"t_span": (0.0, float("inf"))}, "two different finite numbers"),
        ({"t_span": (1.0, 1.0)}, "two different finite numbers"),
        ({"z0": np.ones((3, 2), dtype=np.float32)}, "floating-point torch tensor, not ndarray"),
        ({"z0": torch.ones(3, 2, dtype=torch.int64)}, "not Tensor of torch.int64"),
        ({"spec": SolverSpec("euler", 10**10)}, "pass max_num_steps to go past it"),
    ],
    ids=["string spec", "nan span", "inf span", "empty span", "numpy", "integer", "huge K"],
)
def test_solve_refuses_what_it_cannot_solve_in_one_line(arguments, message):
    given = {"z0": torch.ones(3, 2), "spec": SolverSpec("euler", 4), **arguments}
    with pytest.raises(NodestudyError, match=message):
        solve(
            lambda t, z: -z,
            given["z0"],
            given["spec"],
            **{k: v for k, v in given.items() if k == "t_span"},
        )
