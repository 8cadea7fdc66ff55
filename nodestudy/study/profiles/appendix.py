"""The appendix: euler collapse sweeps on other data sets, and adjoint training."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...core.solvers import SolverSpec
from ..config import (
    DataConfig,
    TrainConfig,
)
from .grids import powers_of_two
from .parameters import with_overrides


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
    #: Largest accuracy drop to the reference at which a K still counts as an ODE.
    drop_limit: float = 0.03
    #: Adam's learning rate per data set where it is not the paper's 1e-4 (the key is
    #: the data set's short name).
    learning_rates: tuple[tuple[str, float], ...] = ()

    def config(
        self, dataset: str, steps: int, seed: int, gradient: str = "backprop"
    ) -> TrainConfig:
        return TrainConfig(
            data=DataConfig.from_name(dataset),
            solver=SolverSpec("euler", steps),
            iterations=self.iterations,
            learning_rate=dict(self.learning_rates).get(dataset, TrainConfig.learning_rate),
            seed=seed,
            gradient=gradient,
        )

    @property
    def data_configs(self) -> tuple[DataConfig, ...]:
        """Each data set of the sweeps, and Sphere2 (the adjoint runs')."""
        names = dict.fromkeys([*self.datasets, "sphere2"])
        return tuple(DataConfig.from_name(name) for name in names)

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


#: Three minima does not learn at the paper's learning rate: at 1e-4 (3,000 iterations,
#: euler K = 16) no run gets past 0.45-0.59 test accuracy, against 0.375 for always
#: answering the largest class; 10,000 iterations at 1e-3 reach 0.63-0.70. At 1e-2 it
#: learns (0.80-0.85). Its labels come from integrating to t = 100, so a model that
#: integrates to t = 1 needs a large field. A deviation from the paper, stated in the
#: figure's numbers (``learning_rates``).
THREE_MINIMA_LEARNING_RATE = (("three_minima", 1e-2),)

APPENDIX_PROFILES: dict[str, AppendixStudy] = {
    "smoke": AppendixStudy(
        seeds=(0,),
        iterations=20,
        euler_steps=(1, 2, 4),
        datasets=("sphere3", "three_minima"),
        adjoint_steps=(2, 4),
        reference=SolverSpec("rk4", 16),
    ),
    # K <= 128 (the Sphere2 study goes to 256); 5 seeds, so that 4 learned seeds remain
    # where one does not learn (sphere10 seed 0 does not, at the paper's learning rate).
    # The Sphere2 row reuses that study's runs (same configs, stored).
    "quick": AppendixStudy(
        seeds=(0, 1, 2, 3, 4),
        iterations=3000,
        euler_steps=powers_of_two(128),
        datasets=("sphere2", "sphere3", "sphere10", "three_minima"),
        adjoint_steps=(2, 8, 32, 128),
        learning_rates=THREE_MINIMA_LEARNING_RATE,
    ),
    # sphere900 trains for days on two CPU cores; it is meant for a GPU (device="cuda").
    "paper": AppendixStudy(
        seeds=(0, 1, 2, 3, 4),
        iterations=10_000,
        euler_steps=powers_of_two(256),
        datasets=("sphere2", "sphere3", "sphere10", "sphere900", "three_minima"),
        adjoint_steps=(2, 8, 32, 128),
        learning_rates=THREE_MINIMA_LEARNING_RATE,
    ),
}


def appendix_study(profile: str, **overrides: Any) -> AppendixStudy:
    """A profile's settings with the overrides that are not None applied."""
    return with_overrides(APPENDIX_PROFILES, profile, overrides)
