"""Will a run fit in memory? An estimate made before any data is generated or any
weight allocated, so that a size no machine can hold fails in one line, not in the
allocator halfway through a sweep.

The estimate is calibrated against measured peaks (``tests/test_resources.py``
measures one): what backpropagation through the solver keeps per field evaluation
depends on the field's form (``models.DENSE_LIMIT``): the dense form keeps about four
hidden-sized tensors per state position, the convolutional one two and a half.
The memory available is the smaller of the machine's and its container's
(``runtime/memory.py``); parallel jobs are planned against it.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence

from ..core.check.inputs import MAX_STEPS
from ..core.errors import NodestudyError
from ..core.solvers import SolverSpec
from .config import IMAGE_SIZES, DataConfig, TrainConfig
from .models import DENSE_LIMIT
from .runtime.memory import USABLE, available_memory, require_bytes, too_large

#: Image shapes (channels, height, width) of the image data sets.
IMAGE_SHAPES = {
    "digits": (1, 8, 8),
    "mnist5k": (1, 28, 28),
    "mnist": (1, 28, 28),
    "cifar10": (3, 32, 32),
}
FLOAT = 4  # bytes


def field_work(config: TrainConfig) -> int:
    """Multiply-adds of one vector-field evaluation per sample (state positions times
    hidden channels times kernel taps): what makes an image step dearer than a point's."""
    data = config.data
    if data.name in IMAGE_SHAPES:
        channels, *pixels = IMAGE_SHAPES[data.name]
        return (
            math.prod(pixels)
            * config.model.hidden_channels
            * (9 * config.model.hidden_channels + 2 * channels)
        )
    return data.dim * config.model.hidden_channels * (3 * config.model.hidden_channels + 2)


def estimated_bytes(config: TrainConfig, members: int = 1) -> int:
    """A lower bound on what training ``config`` holds at once: the data, the weights
    (with Adam's two moments), one batch's activations kept for the backward pass of
    every stage of every step, and the per-iteration history."""
    data = config.data
    if data.name in IMAGE_SHAPES:
        state = math.prod(IMAGE_SHAPES[data.name])
        taps = 9
        n = IMAGE_SIZES[data.name][0] + IMAGE_SIZES[data.name][1]
    else:
        state = data.dim
        taps = 3
        n = data.n_train + data.n_test
    hidden = config.model.hidden_channels
    channels = 1 if data.name not in IMAGE_SHAPES else IMAGE_SHAPES[data.name][0]
    weights = members * (hidden * hidden * taps + 2 * hidden * channels + 10 * state)
    solver = config.solver
    evaluations = solver.nfe if solver.is_fixed_step else 100
    if config.adaptation is not None and hasattr(config.adaptation, "max_steps"):
        evaluations = max(evaluations, config.adaptation.max_steps)
    batch = min(config.batch_size, n)
    dense = data.name not in IMAGE_SHAPES and hidden * state <= DENSE_LIMIT
    kept = 4 * hidden + 2 if dense else 2.5 * hidden + 1  # measured, see the module's note
    activations = members * batch * kept * (state // channels) * evaluations
    history = config.iterations * members * 12 * 8
    return int(FLOAT * (n * state + 3 * weights + activations) + history)


def require_memory(groups: Sequence[Sequence[TrainConfig]]) -> None:
    """One line naming the sizes if some group (seeds trained together as one
    ensemble) cannot fit in the memory available."""
    available = available_memory()
    if available is None:
        return
    for group in groups:
        config = group[0]
        need = estimated_bytes(config, members=len(group))
        if need > USABLE * available:
            seeds = f", {len(group)} seeds together" if len(group) > 1 else ""
            what = (
                f"{config.data.short_name} {config.solver.label()} with "
                f"{config.model.hidden_channels} hidden channels, batch {config.batch_size} "
                f"and {config.iterations} iterations{seeds}"
            )
            raise too_large(what, need, available)


def planned_jobs(groups: Sequence[Sequence[TrainConfig]], n_jobs: int) -> int:
    """How many groups may train at once: ``n_jobs`` (-1: one per core), fewer when the
    largest groups would not fit in memory side by side (said in one line)."""
    wanted = (os.cpu_count() or 1) if n_jobs == -1 else n_jobs
    wanted = min(wanted, max(1, len(groups)))
    available = available_memory()
    if available is None or wanted <= 1:
        return wanted
    largest = sorted((estimated_bytes(g[0], members=len(g)) for g in groups), reverse=True)
    fitting = wanted
    while fitting > 1 and sum(largest[:fitting]) > USABLE * available:
        fitting -= 1
    if fitting < wanted:
        print(
            f"nodestudy: {fitting} parallel job(s), not {wanted}: {wanted} of the largest runs "
            f"need {sum(largest[:wanted]) / 2**30:.1f} GiB together, more than the "
            f"{available / 2**30:.1f} GiB available",
            file=sys.stderr,
            flush=True,
        )
    return fitting


def data_bytes(data: DataConfig) -> int:
    """What a data set holds in memory once generated or read (float32 inputs, int64
    labels, and the float64 draws the spheres are generated from)."""
    n = data.n_train + data.n_test
    if data.name in IMAGE_SHAPES:
        return n * (FLOAT * math.prod(IMAGE_SHAPES[data.name]) + 8)
    return n * (3 * 8 * data.dim + 8)


def require_data_memory(data: DataConfig) -> None:
    """One line, before anything is generated or read, if the data set cannot fit."""
    require_bytes(f"{data.short_name} ({data.n_train} + {data.n_test} points)", data_bytes(data))


def require_bounded(solver: SolverSpec, what: str, *, tested: bool = False) -> None:
    """One line, before solving, if ``solver`` implies unbounded work: more fixed steps
    than the core's bound (``MAX_STEPS``; a trained solver is tested at up to 8 times
    its steps, so ``tested`` bounds it at an eighth), or a tolerance that is not a
    finite number in (0, 1]."""
    if solver.is_fixed_step:
        limit = MAX_STEPS // 8 if tested else MAX_STEPS
        if solver.steps > limit:
            raise NodestudyError(
                f"{what} with {solver.label()} is more than the {limit:,} steps a solve may "
                f"take{' (it is tested at up to 8 times its steps)' if tested else ''}; use "
                f"--steps {limit:,} or fewer"
            )
    elif not math.isfinite(solver.tol) or not solver.tol <= 1:
        raise NodestudyError(
            f"{what}: the tolerance must be a finite number in (0, 1] (got {solver.tol})"
        )
