"""The ``check_your_model`` notebook's textbook models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .parameters import with_overrides


@dataclass(frozen=True)
class TextbookStudy:
    """The ``check_your_model`` notebook: a coarse (euler) and a fine textbook model
    trained on rings with torchdiffeq in a plain loop, then checked."""

    n_train: int
    n_test: int
    iterations: int
    coarse_step: float = 0.5
    fine_method: str = "rk4"
    fine_step: float = 1 / 32
    learning_rate: float = 3e-3
    seed: int = 0
    #: Training with the step-size adapter, against fixed euler steps: iterations and
    #: learning rate (Adam's default), the fixed step counts, the adapter's rules.
    adapt_iterations: int = 2000
    adapt_learning_rate: float = 1e-3
    grid_steps: tuple[int, ...] = (16, 32, 64, 128, 256)
    rules: tuple[str, ...] = ("paper", "flips", "strict")
    probe_size: int = 256


TEXTBOOK_PROFILES: dict[str, TextbookStudy] = {
    "smoke": TextbookStudy(
        n_train=400,
        n_test=200,
        iterations=20,
        adapt_iterations=20,
        grid_steps=(2, 4),
        rules=("paper", "flips"),
        probe_size=64,
    ),
    "quick": TextbookStudy(n_train=2000, n_test=1000, iterations=1000),
    "paper": TextbookStudy(n_train=2000, n_test=1000, iterations=3000),
}


def textbook_study(profile: str, **overrides: Any) -> TextbookStudy:
    """A profile's settings with the overrides that are not None applied."""
    return with_overrides(TEXTBOOK_PROFILES, profile, overrides)
