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
    return _with_overrides(SPHERE_PROFILES, profile, overrides)


@dataclass(frozen=True)
class AppendixStudy:
    """The appendix's euler collapse sweeps on other data sets (higher-dimensional
    spheres, three minima), and the comparison of adjoint training with
    backpropagation through the solver (on Sphere2)."""

    seeds: tuple[int, ...]
    iterations: int
    euler_steps: tuple[int, ...]
    datasets: tuple[str, ...]
    #: Training K of the adjoint comparison (each trained both ways).
    adjoint_steps: tuple[int, ...]
    reference: SolverSpec = field(default_factory=lambda: SolverSpec("rk4", 512))
    tolerance: float = 0.03

    def config(
        self, dataset: str, steps: int, seed: int, gradient: str = "backprop"
    ) -> TrainConfig:
        return TrainConfig(
            data=DataConfig.from_name(dataset),
            solver=SolverSpec("euler", steps),
            iterations=self.iterations,
            seed=seed,
            gradient=gradient,
        )

    def sweep_configs(self, dataset: str) -> list[TrainConfig]:
        return [self.config(dataset, k, s) for k in self.euler_steps for s in self.seeds]

    def adjoint_configs(self) -> list[TrainConfig]:
        """Sphere2 at each ``adjoint_steps`` K, trained with both gradient methods."""
        return [
            self.config("sphere2", k, s, gradient)
            for gradient in ("backprop", "adjoint")
            for k in self.adjoint_steps
            for s in self.seeds
        ]

    def test_solvers(self, config: TrainConfig) -> list[SolverSpec]:
        """The training solver and the converged reference."""
        return list(dict.fromkeys([config.solver, self.reference]))


APPENDIX_PROFILES: dict[str, AppendixStudy] = {
    "smoke": AppendixStudy(
        seeds=(0,),
        iterations=20,
        euler_steps=(1, 2, 4),
        datasets=("sphere3", "three_minima"),
        adjoint_steps=(2, 4),
        reference=SolverSpec("rk4", 16),
    ),
    # Smaller than the Sphere2 study (2 seeds, 1,500 iterations, K <= 128) to keep
    # make figures in minutes; Sphere2 is rerun at these sizes for a like-for-like row.
    "quick": AppendixStudy(
        seeds=(0, 1),
        iterations=1500,
        euler_steps=powers_of_two(128),
        datasets=("sphere2", "sphere3", "sphere10", "three_minima"),
        adjoint_steps=(2, 8, 32, 128),
    ),
    # sphere900 trains for days on two CPU cores; it is meant for a GPU (device="cuda").
    "paper": AppendixStudy(
        seeds=(0, 1, 2, 3, 4),
        iterations=10_000,
        euler_steps=powers_of_two(256),
        datasets=("sphere2", "sphere3", "sphere10", "sphere900", "three_minima"),
        adjoint_steps=(2, 8, 32, 128),
    ),
}


def appendix_study(profile: str, **overrides: Any) -> AppendixStudy:
    """A profile's settings with the overrides that are not None applied."""
    return _with_overrides(APPENDIX_PROFILES, profile, overrides)


def _with_overrides(profiles: dict[str, Any], profile: str, overrides: dict[str, Any]) -> Any:
    """``profiles[profile]`` with the overrides that are not None applied; lists
    become tuples so that the result stays hashable."""
    if profile not in profiles:
        raise NodestudyError(f"unknown profile {profile!r}; choose one of {', '.join(profiles)}")
    changes = {
        name: tuple(value) if isinstance(value, list) else value
        for name, value in overrides.items()
        if value is not None
    }
    return dataclasses.replace(profiles[profile], **changes)
