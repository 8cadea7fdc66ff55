"""The collapse and adaptation studies on one data set (Sphere2 and the image
benchmarks) and their profiles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...core.solvers import SolverSpec
from ..config import (
    DEFAULT_TEST_METHOD,
    DataConfig,
    ModelConfig,
    StepAdaptation,
    ToleranceAdaptation,
    TrainConfig,
)
from .grids import powers_of_two, test_solver_grid
from .parameters import with_overrides


@dataclass(frozen=True)
class Study:
    """Settings of a collapse and adaptation study on one data set: Sphere2 (Figures
    1, 2, 4 a/b, 5, Table 1) or an image benchmark (Figures 4 a, c, d and 5)."""

    seeds: tuple[int, ...]
    iterations: int
    euler_steps: tuple[int, ...]
    rk4_steps: tuple[int, ...]
    #: Test step counts are the training K times these factors (Figure 4).
    test_factors: tuple[float, ...] = (0.5, 0.75, 1.0, 1.5, 2.0)
    #: The "converged" solver the collapse is measured against.
    reference: SolverSpec = field(default_factory=lambda: SolverSpec("rk4", 512))
    #: Largest accuracy drop to the reference at which a K still counts as an ODE
    #: (the critical step estimate). Not a solver tolerance.
    drop_limit: float = 0.03
    #: Figures 1 and 2: the fine and the coarse euler model, and the test step counts.
    fine_steps: int = 256
    coarse_steps: int = 2
    eval_steps: tuple[int, ...] = powers_of_two(4096)
    data: DataConfig = field(default_factory=DataConfig)
    #: Step adaptation (Figure 5, Table 1): its rule; the start comes from the heuristic.
    adaptation: StepAdaptation = field(default_factory=StepAdaptation)
    #: Tolerance adaptation: training method, start, seeds and iterations (the
    #: iterations also of the fixed-tolerance runs of Figure 4 c, d, and the seeds unless
    #: ``fixed_tolerance_seeds`` names others).
    tolerance_method: str = "fehlberg2"
    tolerance_start: float = 1e-6
    tolerance_seeds: tuple[int, ...] = (0, 1)
    tolerance_iterations: int = 1500
    #: Figure 4 (c, d)'s seeds and iterations, when they are not the tolerance
    #: adaptation's (empty, None: those)
    fixed_tolerance_seeds: tuple[int, ...] = ()
    fixed_tolerance_iterations: int | None = None
    model: ModelConfig = field(default_factory=ModelConfig)
    batch_size: int = 128
    #: Figure 4 (c, d): fixed training tolerances of fehlberg2 and dopri5, each model
    #: tested at the training tolerance times ``tolerance_test_factors`` (tighter: a
    #: tolerance above 1 means nothing).
    tolerances: tuple[float, ...] = ()
    tolerance_test_factors: tuple[float, ...] = (0.01, 0.1, 1.0)
    #: Adaptation rules compared with the paper's (names of ``StepAdaptation.named``).
    compared_rules: tuple[str, ...] = ("paper", "probe", "paired", "flips", "strict")

    def config(
        self, method: str, steps: int | None, seed: int, tol: float | None = None
    ) -> TrainConfig:
        return TrainConfig(
            data=self.data,
            solver=SolverSpec(method, steps, tol),
            model=self.model,
            iterations=self.iterations,
            batch_size=self.batch_size,
            seed=seed,
        )

    @property
    def fixed_tolerance_run_seeds(self) -> tuple[int, ...]:
        return self.fixed_tolerance_seeds or self.tolerance_seeds

    @property
    def fixed_tolerance_run_iterations(self) -> int:
        if self.fixed_tolerance_iterations is None:
            return self.tolerance_iterations
        return self.fixed_tolerance_iterations

    def fixed_tolerance_configs(self) -> list[TrainConfig]:
        """Figure 4 (c, d): fehlberg2 and dopri5 at every training tolerance (adaptive
        solvers train one seed at a time)."""
        return [
            self.config(method, None, seed, tol=tol).replace(
                iterations=self.fixed_tolerance_run_iterations
            )
            for method in ("fehlberg2", "dopri5")
            for tol in self.tolerances
            for seed in self.fixed_tolerance_run_seeds
        ]

    def tolerance_test_solvers(self, config: TrainConfig) -> list[SolverSpec]:
        """fehlberg2-trained models tested with fehlberg2 and dopri5, dopri5-trained ones
        with dopri5, at the training tolerance times the factors; and the reference."""
        train = config.solver
        methods = ("fehlberg2", "dopri5") if train.method == "fehlberg2" else ("dopri5",)
        tested = [
            SolverSpec(method, tol=train.tol * factor)
            for method in methods
            for factor in self.tolerance_test_factors
        ]
        return list(dict.fromkeys([*tested, self.reference]))

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

    def tolerance_configs(self) -> list[TrainConfig]:
        """Adaptive-solver training with the tolerance adaptation, one per seed."""
        rule = ToleranceAdaptation(test_method=DEFAULT_TEST_METHOD[self.tolerance_method])
        return [
            self.config(self.tolerance_method, None, seed, tol=self.tolerance_start).replace(
                iterations=self.tolerance_iterations, adaptation=rule
            )
            for seed in self.tolerance_seeds
        ]

    def snapshot_solvers(self, used: SolverSpec) -> list[SolverSpec]:
        """Figure 5: a snapshot's solver in use; midpoint and rk4 on the same grid
        (smaller errors) for fixed-step runs; and the converged reference."""
        same_grid = (
            [SolverSpec(m, used.steps) for m in ("midpoint", "rk4") if m != used.method]
            if used.is_fixed_step
            else []
        )
        return list(dict.fromkeys([used, *same_grid, self.reference]))

    @property
    def data_configs(self) -> tuple[DataConfig, ...]:
        """The data sets the study trains on (``majority_rates`` reads them)."""
        return (self.data,)

    def sweep_configs(self) -> list[TrainConfig]:
        """Every run of Figure 4: euler and rk4 over their K grids, every seed."""
        grid = [("euler", k) for k in self.euler_steps] + [("rk4", k) for k in self.rk4_steps]
        return [self.config(method, k, seed) for method, k in grid for seed in self.seeds]


SPHERE_PROFILES: dict[str, Study] = {
    "smoke": Study(
        seeds=(0,),
        iterations=20,
        adaptation=StepAdaptation(check_every=5),
        compared_rules=("paper", "flips"),
        tolerance_seeds=(0,),
        tolerance_iterations=10,
        euler_steps=(1, 2, 4),
        rk4_steps=(1, 2),
        reference=SolverSpec("rk4", 16),
        fine_steps=4,
        eval_steps=(1, 2, 4, 8),
        tolerances=(1e-1,),
    ),
    # 5 seeds, as the paper: a critical step or an adaptation result rests on at least
    # four learned seeds, not on a majority of three that a last bit can flip
    "quick": Study(
        seeds=(0, 1, 2, 3, 4),
        iterations=3000,
        euler_steps=powers_of_two(256),
        rk4_steps=powers_of_two(32),
        # Figure 4 (c, d) up to the loosest tolerance that means anything, as long as
        # the sweep: at 1,500 iterations 1 of 3 dopri5 and 0 of 3 fehlberg2 seeds learned
        tolerances=(1.0, 1e-1, 1e-2, 1e-3),
        fixed_tolerance_seeds=(0, 1, 2),
        fixed_tolerance_iterations=3000,
    ),
    "paper": Study(
        seeds=(0, 1, 2, 3, 4),
        iterations=10_000,
        euler_steps=powers_of_two(256),
        rk4_steps=powers_of_two(64),
        tolerance_seeds=(0, 1, 2, 3, 4),
        tolerance_iterations=10_000,
        tolerances=(1.0, 1e-1, 1e-2, 1e-3, 1e-4),
    ),
}


def sphere_study(profile: str, **overrides: Any) -> Study:
    """A profile's settings with the overrides that are not None applied."""
    return with_overrides(SPHERE_PROFILES, profile, overrides)


#: Image benchmarks. The vector field's hidden channels (the paper: 128) are a
#: parameter; the quick default of 8 keeps a digits sweep to minutes on two CPU cores.
IMAGE_PROFILES: dict[str, Study] = {
    "smoke": Study(
        seeds=(0,),
        iterations=10,
        euler_steps=(1, 2),
        rk4_steps=(),
        reference=SolverSpec("rk4", 8),
        adaptation=StepAdaptation(check_every=5),
        compared_rules=("paper", "flips"),
        tolerance_seeds=(0,),
        tolerance_iterations=10,
        tolerances=(1e-2,),
        data=DataConfig.from_name("digits"),
        model=ModelConfig(hidden_channels=4),
    ),
    # 5 seeds: four learned ones must remain where one does not learn (digits seed 2
    # did not at K >= 4)
    "quick": Study(
        seeds=(0, 1, 2, 3, 4),
        iterations=3000,
        euler_steps=powers_of_two(64),
        rk4_steps=(),
        reference=SolverSpec("rk4", 128),
        tolerance_seeds=(0,),
        tolerance_iterations=1500,
        tolerances=(1.0, 1e-1, 1e-2, 1e-3),
        fixed_tolerance_seeds=(0, 1, 2, 3),
        data=DataConfig.from_name("digits"),
        model=ModelConfig(hidden_channels=8),
        # strict (equivalence) drives digits towards 500 steps, which costs hours here
        compared_rules=("paper", "probe", "paired", "flips"),
    ),
    "paper": Study(
        seeds=(0, 1, 2, 3, 4),
        iterations=7800,
        euler_steps=powers_of_two(64),
        rk4_steps=(),
        reference=SolverSpec("rk4", 256),
        tolerance_seeds=(0, 1, 2, 3, 4),
        tolerance_iterations=7800,
        tolerances=(1.0, 1e-1, 1e-2, 1e-3, 1e-4),
        data=DataConfig.from_name("digits"),
        model=ModelConfig(hidden_channels=128),
        batch_size=256,
    ),
}


#: Where a data set needs other sizes than the profile's. mnist5k (28x28) costs about
#: 12 times digits (8x8) per step, and its converged reference (rk4, 128 steps) about
#: 0.45 s per solve of its 1,000 test images for 3 seeds here: the quick profile trains
#: a coarse and a fine K (2 and 16, 1,000 iterations) and tests each at its own K only,
#: enough for the collapse at K = 2 and the reference drop at K = 16 (measured: 1,000
#: iterations at K = 2 reach 0.87-0.90 test accuracy).
IMAGE_DATASET_SIZES: dict[tuple[str, str], dict[str, Any]] = {
    ("quick", "mnist5k"): {
        "seeds": (0, 1, 2),
        "euler_steps": (2, 16),
        "iterations": 1000,
        "test_factors": (1.0,),
        "tolerances": (),
        "compared_rules": ("paper",),
    },
}


def image_study(profile: str, dataset: str | None = None, **overrides: Any) -> Study:
    """An image profile on ``dataset`` (digits, mnist5k, mnist, cifar10; None: the
    profile's), with the data set's sizes (``IMAGE_DATASET_SIZES``) and the overrides
    that are not None applied. ``hidden_channels`` sets the model."""
    hidden_channels = overrides.pop("hidden_channels", None)
    if dataset is not None:
        overrides["data"] = DataConfig.from_name(dataset)
        sizes = IMAGE_DATASET_SIZES.get((profile, overrides["data"].name), {})
        overrides = {**sizes, **{k: v for k, v in overrides.items() if v is not None}}
    if hidden_channels is not None:
        overrides["model"] = ModelConfig(hidden_channels=hidden_channels)
    return with_overrides(IMAGE_PROFILES, profile, overrides)


def tolerance_study(profile: str, dataset: str, **overrides: Any) -> Study:
    """Figure 4 (c, d) on ``dataset``: Sphere2's profile or an image benchmark's, with
    ``seeds`` and ``iterations`` setting the fixed-tolerance runs' and the other
    overrides that are not None applied."""
    for name, field_name in (
        ("seeds", "fixed_tolerance_seeds"),
        ("iterations", "fixed_tolerance_iterations"),
    ):
        value = overrides.pop(name, None)
        if value is not None:
            overrides[field_name] = value
    if dataset == "sphere2":
        return sphere_study(profile, **overrides)
    return image_study(profile, dataset, **overrides)
