"""Figures a reader can read: Figure 2 keeps a narrow cloud of end points readable
beside a wide one."""

import numpy as np

from nodestudy.study.experiments.fine_vs_coarse import DecisionRegions, shares_view
from nodestudy.study.figures import plot_coarse_decision_regions


def _cloud(spread: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(50, 2)) * spread


def _regions(ends: dict[int, np.ndarray]) -> DecisionRegions:
    everything = np.concatenate(list(ends.values()))
    shared = shares_view(ends)
    grids = {}
    for k, own in ends.items():
        points = everything if shared else own
        gx, gy = np.meshgrid(
            np.linspace(points[:, 0].min(), points[:, 0].max(), 5),
            np.linspace(points[:, 1].min(), points[:, 1].max(), 5),
        )
        grids[k] = (gx, gy, (gy > 0).astype(int))
    labels = np.arange(50) % 2
    return DecisionRegions(grids, shared, ends, {k: 0.5 for k in ends}, labels, 2, 0)


def test_panels_share_their_view_unless_one_cloud_is_far_wider():
    assert shares_view({2: _cloud(1.0, 0), 4: _cloud(3.0, 1)})
    assert not shares_view({2: _cloud(1.0, 0), 4: _cloud(30.0, 1)})


def test_a_narrow_cloud_beside_a_wide_one_gets_its_own_axes_and_the_title_says_so():
    wide = plot_coarse_decision_regions(_regions({2: _cloud(1.0, 0), 4: _cloud(30.0, 1)}))
    left, right = wide.axes[:2]
    assert np.ptp(left.get_xlim()) * 10 < np.ptp(right.get_xlim())
    assert "own axes" in wide._suptitle.get_text()
    alike = plot_coarse_decision_regions(_regions({2: _cloud(1.0, 0), 4: _cloud(2.0, 1)}))
    left, right = alike.axes[:2]
    assert left.get_xlim() == right.get_xlim()
    assert "own axes" not in alike._suptitle.get_text()
