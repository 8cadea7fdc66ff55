"""The sizes of the study: ``smoke`` (seconds, for tests), ``quick`` (the default of
``make figures``: about 2 h 20 min from a cold start on two CPU cores, estimated; at sizes where the
study's effects show with 3 learned seeds) and ``paper`` (the paper's sizes).

Profiles only change numbers; every profile runs the same code. Notebooks take a
profile name and optional overrides, so ``papermill -p iterations 5000`` works.
"""

from .appendix import APPENDIX_PROFILES, THREE_MINIMA_LEARNING_RATE, AppendixStudy, appendix_study
from .study import (
    IMAGE_DATASET_SIZES,
    IMAGE_PROFILES,
    SPHERE_PROFILES,
    Study,
    image_study,
    powers_of_two,
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
    "sphere_study",
    "textbook_study",
    "tolerance_study",
]
