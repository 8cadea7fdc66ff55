"""The sizes of the study: ``smoke`` (seconds, for tests), ``quick`` (the default of
``make figures``: hours from a cold start on two CPU cores, measured in
``benchmarks/README.md``; at sizes where the study's effects show with 3 learned seeds)
and ``paper`` (the paper's sizes).

Profiles only change numbers; every profile runs the same code, and this package imports
nothing of the study above it but what a run is (``config``). Notebooks take a
profile name and optional overrides, so ``papermill -p iterations 5000`` works.
"""

from .appendix import APPENDIX_PROFILES, THREE_MINIMA_LEARNING_RATE, AppendixStudy, appendix_study
from .grids import powers_of_two, scaled_steps, test_solver_grid
from .study import (
    IMAGE_DATASET_SIZES,
    IMAGE_PROFILES,
    SPHERE_PROFILES,
    Study,
    image_study,
    sphere_study,
    tolerance_study,
)
from .textbook import TEXTBOOK_PROFILES, TextbookStudy, textbook_study

__all__ = [
    "APPENDIX_PROFILES",
    "IMAGE_DATASET_SIZES",
    "IMAGE_PROFILES",
    "SPHERE_PROFILES",
    "TEXTBOOK_PROFILES",
    "THREE_MINIMA_LEARNING_RATE",
    "AppendixStudy",
    "Study",
    "TextbookStudy",
    "appendix_study",
    "image_study",
    "powers_of_two",
    "scaled_steps",
    "sphere_study",
    "test_solver_grid",
    "textbook_study",
    "tolerance_study",
]
