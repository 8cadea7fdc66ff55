import numpy as np
import pytest

from nodestudy import NodestudyError
from nodestudy.study.experiments.fan import (
    FanODE,
    XorPoints,
    euler_trajectory,
    linear_separability,
    reference_trajectory,
)


def _mean_angular_speed(ode, radius):
    """Total angle turned by the flow from (radius, 0), divided by the time."""
    states = reference_trajectory(ode, np.array([[radius, 0.0]]))[:, 0]
    angle = np.unwrap(np.arctan2(states[:, 1], states[:, 0]))
    return abs(angle[-1] - angle[0]) / ode.end_time


@pytest.mark.parametrize("ode", [FanODE(), FanODE(a=0.0, b=0.0, g=4.0, d=2.0, end_time=3.0)])
def test_the_flow_turns_faster_further_from_the_origin(ode):
    radii = [0.2, 0.5, 1.0]
    speeds = [_mean_angular_speed(ode, r) for r in radii]
    assert speeds[0] < speeds[1] < speeds[2]
    # and the field's own angular speed grows with |z| along a ray
    points = np.array([[r, 0.0] for r in radii])
    assert np.all(np.diff(np.abs(ode.angular_speed(points))) > 0)


def test_euler_converges_to_the_flow_at_first_order():
    ode = FanODE()
    z0, _ = XorPoints().sample()
    exact = reference_trajectory(ode, z0, n_times=2)[-1]
    errors = [np.abs(euler_trajectory(ode, z0, h)[-1] - exact).max() for h in (1e-3, 1e-4)]
    assert 5 < errors[0] / errors[1] < 20


def test_linear_separability_tells_a_line_from_xor():
    z0, labels = XorPoints().sample()
    assert linear_separability(z0, labels) <= 0.75
    shifted = z0 + np.where(labels[:, None] == 1, 5.0, 0.0)
    assert linear_separability(shifted, labels) == 1.0
    assert np.isnan(linear_separability(np.full_like(z0, np.inf), labels))


def test_xor_points_are_reproducible_and_balanced():
    a, la = XorPoints(seed=3).sample()
    b, lb = XorPoints(seed=3).sample()
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    assert la.mean() == 0.5
    with pytest.raises(NodestudyError, match="positive"):
        euler_trajectory(FanODE(), a, 0.0)
