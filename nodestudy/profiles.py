"""The sizes of the study: ``smoke`` (seconds, for tests), ``quick`` (the default of
``make figures``: minutes on two CPU cores) and ``paper`` (the paper's sizes).

Profiles only change numbers; every profile runs the same code. Notebooks take a
profile name and optional overrides, so ``papermill -p iterations 5000`` works.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .adapt import start_from_heuristic
from .config import (
    DEFAULT_TEST_METHOD,
    DataConfig,
    StepAdaptation,
    ToleranceAdaptation,
    TrainConfig,
)
from .errors import NodestudyError
from .evaluate import test_solver_grid
from .runs import Run
from .solvers import SolverSpec


def powers_of_two(largest: int) -> tuple[int, ...]:
    return tuple(2**i for i in range(largest.bit_length()) if 2**i <= largest)


@dataclass(frozen=True)
class SphereStudy:
    """Settings of the concentric-spheres collapse study (Figures 1, 2 and 4)."""

    seeds: tuple[int, ...]
    iterations: int
    euler_steps: tuple[int, ...]
    rk4_steps: tuple[int, ...]
    #: Test step counts are the training K times these factors (Figure 4).
    test_factors: tuple[float, ...] = (0.5, 0.75, 1.0, 1.5, 2.0)
    #: The "converged" solver the collapse is measured against.
    reference: SolverSpec = field(default_factory=lambda: SolverSpec("rk4", 512))
    #: Largest acceptable mean accuracy drop to the reference (critical step estimate).
    tolerance: float = 0.03
    #: Figures 1 and 2: the fine and the coarse euler model, and the test step counts.
    fine_steps: int = 256
    coarse_steps: int = 2
    eval_steps: tuple[int, ...] = powers_of_two(4096)
    data: DataConfig = field(default_factory=DataConfig)
    #: Step adaptation (Figure 5, Table 1): its rule; the start comes from the heuristic.
    adaptation: StepAdaptation = field(default_factory=StepAdaptation)
    #: Tolerance adaptation: training method, start, seeds and iterations.
    tolerance_method: str = "fehlberg2"
    tolerance_start: float = 1e-6
    tolerance_seeds: tuple[int, ...] = (0, 1)
    tolerance_iterations: int = 1500

    def config(self, method: str, steps: int, seed: int) -> TrainConfig:
        return TrainConfig(
            data=self.data,
            solver=SolverSpec(method, steps),
            iterations=self.iterations,
            seed=seed,
        )

    def test_solvers(self, config: TrainConfig) -> list[SolverSpec]:
        """Figure 4's test solvers for a run: euler-trained models are tested with
        euler, midpoint and rk4, rk4-trained ones with rk4, each at the training K
        times ``test_factors``; every model also with the converged reference."""
        train = config.solver
        methods = ("euler", "midpoint", "rk4") if train.method == "euler" else (train.method,)
        grid = test_solver_grid(train.steps, methods, self.test_factors)
        return list(dict.fromkeys([*grid, self.reference]))

    def step_count_solvers(self, config: TrainConfig) -> list[SolverSpec]:
        """Figure 1(c)(d): euler, midpoint and rk4 at every count of ``eval_steps``."""
        return [
            SolverSpec(method, k)
            for method in ("euler", "midpoint", "rk4")
            for k in self.eval_steps
        ]

    def adapted_configs(self) -> list[TrainConfig]:
        """Euler training with the step-size adaptation, one per seed."""
        return [
            start_from_heuristic(self.config("euler", 1, seed).replace(adaptation=self.adaptation))
            for seed in self.seeds
        ]

    def tolerance_configs(self) -> list[TrainConfig]:
        """Adaptive-solver training with the tolerance adaptation, one per seed."""
        return [
            TrainConfig(
                data=self.data,
                solver=SolverSpec(self.tolerance_method, tol=self.tolerance_start),
                iterations=self.tolerance_iterations,
                seed=seed,
                adaptation=ToleranceAdaptation(
                    test_method=DEFAULT_TEST_METHOD[self.tolerance_method]
                ),
            )
            for seed in self.tolerance_seeds
        ]

    def snapshot_solvers(self, run: Run, iteration: int) -> list[SolverSpec]:
        """Figure 5: the solver in use at that iteration; midpoint and rk4 on the same
        grid (smaller errors) for fixed-step runs; and the converged reference."""
        used = run.solver_at(iteration)
        same_grid = (
            [SolverSpec(m, used.steps) for m in ("midpoint", "rk4") if m != used.method]
            if used.is_fixed_step
            else []
        )
        return list(dict.fromkeys([used, *same_grid, self.reference]))

    def sweep_configs(self) -> list[TrainConfig]:
        """Every run of Figure 4: euler and rk4 over their K grids, every seed."""
        grid = [("euler", k) for k in self.euler_steps] + [("rk4", k) for k in self.rk4_steps]
        return [self.config(method, k, seed) for method, k in grid for seed in self.seeds]


SPHERE_PROFILES: dict[str, SphereStudy] = {
    "smoke": SphereStudy(
        seeds=(0,),
        iterations=20,
        adaptation=StepAdaptation(check_every=5),
        tolerance_seeds=(0,),
        tolerance_iterations=10,
        euler_steps=(1, 2, 4),
        rk4_steps=(1, 2),
        reference=SolverSpec("rk4", 16),
        fine_steps=4,
        eval_steps=(1, 2, 4, 8),
    ),
    "quick": SphereStudy(
        seeds=(0, 1, 2),
        iterations=3000,
        euler_steps=powers_of_two(256),
        rk4_steps=powers_of_two(32),
    ),
    "paper": SphereStudy(
        seeds=(0, 1, 2, 3, 4),
        iterations=10_000,
        euler_steps=powers_of_two(256),
        rk4_steps=powers_of_two(64),
        tolerance_seeds=(0, 1, 2, 3, 4),
        tolerance_iterations=10_000,
    ),
}


def sphere_study(profile: str, **overrides: Any) -> SphereStudy:
    """A profile's settings with the overrides that are not None applied."""
    if profile not in SPHERE_PROFILES:
        raise NodestudyError(
            f"unknown profile {profile!r}; choose one of {', '.join(SPHERE_PROFILES)}"
        )
    changes = {name: value for name, value in overrides.items() if value is not None}
    for name in (
        "seeds",
        "euler_steps",
        "rk4_steps",
        "test_factors",
        "eval_steps",
        "tolerance_seeds",
    ):
        if name in changes:
            changes[name] = tuple(changes[name])
    return dataclasses.replace(SPHERE_PROFILES[profile], **changes)
