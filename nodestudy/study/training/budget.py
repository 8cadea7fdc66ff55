"""Will a run fit in memory? An estimate made before any data is generated or any
weight allocated, so that a size no machine can hold fails in one line, not in the
allocator halfway through a sweep."""

from __future__ import annotations

import math
import os

from ...core.errors import NodestudyError
from ..config import IMAGE_SIZES, TrainConfig

#: Image shapes (channels, height, width) of the image data sets.
IMAGE_SHAPES = {
    "digits": (1, 8, 8),
    "mnist5k": (1, 28, 28),
    "mnist": (1, 28, 28),
    "cifar10": (3, 32, 32),
}
FLOAT = 4  # bytes


def total_memory() -> int | None:
    """This machine's physical memory in bytes, where the OS says (else None)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


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
    activations = members * batch * (2 * hidden + 1) * (state // channels) * evaluations
    history = config.iterations * members * 12 * 8
    return FLOAT * (n * state + 3 * weights + activations) + history


def require_memory(configs: list[TrainConfig]) -> None:
    """One line naming the sizes if some config cannot fit in this machine's memory."""
    available = total_memory()
    if available is None:
        return
    for config in configs:
        need = estimated_bytes(config)
        if need > 0.8 * available:
            raise NodestudyError(
                f"{config.data.short_name} {config.solver.label()} with "
                f"{config.model.hidden_channels} hidden channels, batch {config.batch_size} "
                f"and {config.iterations} iterations needs at least {need / 2**30:.1f} GiB; "
                f"this machine has {available / 2**30:.1f} GiB: use smaller sizes"
            )
