"""Which view a figure's panels of 2-D points take: one shared view while their clouds
are of a size, each its own when one would squeeze another into a corner (Figure 2)."""

from __future__ import annotations

import numpy as np

#: Panels share their axes unless one panel's points spread over more than this many
#: times another's (their widest extent, in z1 or z2).
SHARED_VIEW_MAX_RATIO = 4.0


def spread(points: np.ndarray) -> float:
    """The widest extent of points (N, 2), along either axis."""
    return float(np.ptp(points, axis=0).max())


def shares_view(clouds: dict[int, np.ndarray]) -> bool:
    """Whether panels of these clouds of points share one view: unless one's
    :func:`spread` is more than :data:`SHARED_VIEW_MAX_RATIO` times another's."""
    spreads = [spread(points) for points in clouds.values()]
    return max(spreads) <= SHARED_VIEW_MAX_RATIO * min(spreads)


def panel_views(clouds: dict[int, np.ndarray]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Each panel's view as its lower and upper corner: around all the points when the
    panels share one (:func:`shares_view`), around its own otherwise."""
    everything = np.concatenate(list(clouds.values()))
    shared = shares_view(clouds)
    return {k: _view(everything if shared else own) for k, own in clouds.items()}


def _view(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lower and upper corner of a view of ``points``, a tenth of their spread
    around them (never a view of no width: points that all coincide get a small one)."""
    low, high = points.min(0), points.max(0)
    margin = np.maximum(0.1 * (high - low), 1e-3 * (1 + np.abs(points).max()))
    return low - margin, high + margin
