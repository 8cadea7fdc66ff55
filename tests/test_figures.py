"""Figures a reader can read: Figure 2 keeps a narrow cloud of end points readable
beside a wide one."""

import warnings

import numpy as np

from nodestudy.study.experiments.fine_vs_coarse import DecisionRegions
from nodestudy.study.figures import plot_coarse_decision_regions
from nodestudy.study.figures.views import panel_views, shares_view


def _cloud(spread: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(50, 2)) * spread


def _regions(ends: dict[int, np.ndarray]) -> DecisionRegions:
    """Regions over the views the experiment chooses, the class split at z2 = 0."""
    views = panel_views(ends)
    grids = {}
    for k, (lower, upper) in views.items():
        gx, gy = np.meshgrid(np.linspace(lower[0], upper[0], 5), np.linspace(lower[1], upper[1], 5))
        grids[k] = (gx, gy, (gy > 0).astype(int))
    labels = np.arange(50) % 2
    return DecisionRegions(grids, ends, {k: 0.5 for k in ends}, labels, 2, 0)


def test_panels_share_their_view_unless_one_cloud_is_far_wider():
    assert shares_view({2: _cloud(1.0, 0), 4: _cloud(3.0, 1)})
    assert not shares_view({2: _cloud(1.0, 0), 4: _cloud(30.0, 1)})
    clouds = {2: _cloud(1.0, 0), 4: _cloud(3.0, 1)}
    shared, views = shares_view(clouds), panel_views(clouds)
    assert shared and np.array_equal(views[2][0], views[4][0])
    narrow, wide = _cloud(1.0, 0), _cloud(30.0, 1)
    shared, views = shares_view({2: narrow, 4: wide}), panel_views({2: narrow, 4: wide})
    assert not shared
    for k, points in ((2, narrow), (4, wide)):
        lower, upper = views[k]
        assert np.all(lower < points.min(0)) and np.all(upper > points.max(0))
        assert np.all(upper - lower < 1.5 * np.ptp(points, axis=0))


def test_a_narrow_cloud_beside_a_wide_one_gets_its_own_axes_and_the_title_says_so():
    wide = plot_coarse_decision_regions(_regions({2: _cloud(1.0, 0), 4: _cloud(30.0, 1)}))
    left, right = wide.axes[:2]
    assert np.ptp(left.get_xlim()) * 10 < np.ptp(right.get_xlim())
    assert "own axes" in wide._suptitle.get_text()
    alike = plot_coarse_decision_regions(_regions({2: _cloud(1.0, 0), 4: _cloud(2.0, 1)}))
    left, right = alike.axes[:2]
    assert left.get_xlim() == right.get_xlim()
    assert "own axes" not in alike._suptitle.get_text()


def test_outputs_that_all_coincide_get_a_view_and_a_title_without_infinities():
    point = np.zeros((50, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clouds = {2: point, 4: _cloud(1.0, 1)}
        shared, views = shares_view(clouds), panel_views(clouds)
        figure = plot_coarse_decision_regions(_regions({2: point, 4: _cloud(1.0, 1)}))
    lower, upper = views[2]
    assert not shared and np.all(upper > lower)
    title = figure._suptitle.get_text()
    assert "coincide" in title and "inf" not in title
