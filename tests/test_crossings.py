"""Crossing counts on hand-made trajectories."""

import numpy as np
import pytest

from nodestudy import NodestudyError, count_crossings


def test_two_dimensional_paths_that_cross_and_paths_that_do_not():
    t = np.linspace(0, 1, 11)
    rising = np.stack([t, t], axis=1)
    falling = np.stack([t, 1 - t], axis=1)  # meets the rising one at (0.5, 0.5)
    parallel = np.stack([t, t + 0.3], axis=1)
    assert count_crossings(np.stack([rising, falling])) == 1
    assert count_crossings(np.stack([rising, parallel])) == 0
    assert count_crossings(np.stack([rising, falling, parallel])) == 2  # falling crosses both


def test_one_dimensional_paths_cross_when_their_order_changes():
    t = np.linspace(0, 1, 20)
    paths = np.stack([t, 1 - t, 2 + 0 * t])[..., None]  # first two swap order; third stays on top
    assert count_crossings(paths) == 1
    assert count_crossings(np.stack([t, t + 1, t + 2])[..., None]) == 0


def test_higher_dimensional_paths_are_refused():
    with pytest.raises(ValueError, match="shape"):
        count_crossings(np.zeros((3, 5, 3)))


def test_a_path_given_twice_is_one_orbit_not_a_crossing():
    path = np.stack([np.linspace(0, 1, 5), np.sin(np.linspace(0, 1, 5))], axis=1)
    assert count_crossings(np.stack([path, path, path])) == 0
    assert count_crossings(np.stack([path[:, :1]] * 3)) == 0


@pytest.mark.parametrize("dims", [1, 2])
def test_non_finite_paths_are_refused_in_one_line(dims):
    paths = np.random.default_rng(0).normal(size=(4, 6, dims))
    paths[2] = np.nan
    with pytest.raises(NodestudyError, match="1 of 4 paths hold NaN"):
        count_crossings(paths)


def test_more_paths_than_the_pairs_bound_are_refused_before_any_work():
    with pytest.raises(NodestudyError, match="pass at most 5,000"):
        count_crossings(np.zeros((20_000, 3, 1)))
