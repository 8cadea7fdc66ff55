"""Crossing trajectories: evidence that a discrete map is not an ODE flow.

Orbits of an autonomous ODE never meet. In one dimension the flow therefore keeps
the order of points; in two, trajectories cannot cross. A trained model whose
trajectories (under its training solver) cross is exploiting the discretisation.
Only the full state counts: a projection of higher-dimensional orbits may cross
freely, and beyond two dimensions curves generically do not meet at all, so the
test says nothing there.
"""

from __future__ import annotations

import numpy as np

from .errors import NodestudyError

#: Time steps compared at once when counting order changes in one dimension.
_TIME_BLOCK = 32
#: Every pair is compared: at most this many paths (12.5 million pairs) per call.
MAX_PATHS = 5000


def count_crossings(paths: np.ndarray) -> int:
    """Pairs of trajectories that cross.

    ``paths`` has shape (N, grid points, d) with d = 1 or 2: discrete trajectories in
    phase space. For d = 2, pairs whose polylines intersect; for d = 1, pairs whose
    order changes at some grid point. Identical paths (a point given twice) count as
    one orbit; non-finite paths and more than :data:`MAX_PATHS` are refused in one line.
    """
    try:
        paths = np.asarray(paths, dtype=float)
    except (TypeError, ValueError):
        raise NodestudyError("paths must be an array of numbers of shape (N, T, 1 or 2)") from None
    if paths.ndim != 3 or paths.shape[-1] not in (1, 2):
        raise NodestudyError(
            f"paths must have shape (N, T, 1) or (N, T, 2), not {paths.shape}; crossings "
            "are counted for 1-D and 2-D states only"
        )
    if not np.isfinite(paths).all():
        bad = int((~np.isfinite(paths)).any(axis=(1, 2)).sum())
        raise NodestudyError(
            f"{bad} of {len(paths)} paths hold NaN or infinite values: whether a trajectory "
            "that blew up crosses another is undefined; pass the finite ones"
        )
    if len(paths) > MAX_PATHS:
        raise NodestudyError(
            f"count_crossings compares every pair of paths: {len(paths):,} paths are "
            f"{len(paths) * (len(paths) - 1) // 2:,} pairs; pass at most {MAX_PATHS:,} (a sample)"
        )
    # identical paths are one orbit traced twice (duplicated points), not a crossing
    _, first = np.unique(paths.reshape(len(paths), -1), axis=0, return_index=True)
    paths = paths[np.sort(first)]
    if paths.shape[-1] == 1:
        return _order_changes(paths[..., 0])
    try:
        import shapely
    except ModuleNotFoundError:
        raise NodestudyError(
            "counting crossings of 2-D paths needs shapely, which the light install leaves "
            "out: pip install shapely (or 'nodestudy[study]')"
        ) from None
    lines = shapely.linestrings(np.ascontiguousarray(paths))
    tree = shapely.STRtree(lines)
    left, right = tree.query(lines, predicate="intersects")
    return int(np.count_nonzero(left < right))


def _order_changes(positions: np.ndarray) -> int:
    """Pairs (i < j) whose order at some time differs from their order at the start."""
    n, steps = positions.shape
    initial = np.sign(positions[:, None, 0] - positions[None, :, 0])
    changed = np.zeros((n, n), dtype=bool)
    for start in range(1, steps, _TIME_BLOCK):
        block = positions[:, start : start + _TIME_BLOCK]
        signs = np.sign(block[:, None, :] - block[None, :, :])
        changed |= np.any(signs * initial[..., None] < 0, axis=-1)
    return int(np.count_nonzero(np.triu(changed, k=1)))
