"""The step-count grids the profiles are made of: pure functions of numbers, so that
a profile is data that imports nothing of the study above it."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from ...core.solvers import SolverSpec


def powers_of_two(largest: int) -> tuple[int, ...]:
    return tuple(2**i for i in range(largest.bit_length()) if 2**i <= largest)


def scaled_steps(train_steps: int, factors: Iterable[float]) -> list[int]:
    """Test step counts factor * K, rounded, at least 1, without repeats, ascending."""
    return sorted({max(1, round(factor * train_steps)) for factor in factors})


def test_solver_grid(
    train_steps: int, methods: Sequence[str], factors: Iterable[float]
) -> list[SolverSpec]:
    """Every method at every scaled step count (Figure 4's test configurations)."""
    steps = scaled_steps(train_steps, factors)
    return [SolverSpec(method, k) for method, k in itertools.product(methods, steps)]
