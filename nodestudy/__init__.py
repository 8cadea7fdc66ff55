"""nodestudy: when is a trained Neural ODE really an ODE?

A reproducible rebuild of Ott et al., "ResNet After All? Neural ODEs and Their
Numerical Solution" (ICLR 2021). The public surface, one entry point per job:

- :func:`check_ode`: is a trained Neural ODE (any torchdiffeq-style model) an ODE?
- :class:`StepSizeAdapter`, :class:`ToleranceAdapter`: adapt the training solver in any
  training loop so that the model stays an ODE;
- :class:`TrainConfig`, :class:`DataConfig`, :class:`SolverSpec`: what a run is;
- :func:`train_runs`: train configs (or load them from the cache);
- :func:`accuracy`, :func:`accuracy_table`: score models under any solver;
- :func:`analyse_collapse` (:func:`reference_drop`, :func:`mark_learned`,
  :func:`critical_steps`): the study's numbers, from the seeds that learned;
- :mod:`nodestudy.study.figures`: the figures; :mod:`nodestudy.study.profiles`: their sizes.
"""

from .core.adapters import StepSizeAdapter, ToleranceAdapter
from .core.check import check_ode
from .core.check_report import OdeCheck
from .core.crossings import count_crossings
from .core.errors import NodestudyError, TrainingDiverged
from .core.integrate import solve
from .core.solvers import SolverSpec
from .study.analysis.collapse import analyse_collapse, critical_steps, mark_learned, reference_drop
from .study.analysis.evaluate import accuracy, accuracy_table, trajectories
from .study.cli.ipython import load_ipython_extension
from .study.config import DataConfig, ModelConfig, TrainConfig
from .study.data.datasets import Dataset, load_dataset
from .study.models import ODEClassifier
from .study.store.cache import RunCache
from .study.store.runs import Run, load_ensemble, open_run
from .study.training.sweep import train_runs

__all__ = [
    "DataConfig",
    "Dataset",
    "ModelConfig",
    "NodestudyError",
    "ODEClassifier",
    "OdeCheck",
    "Run",
    "RunCache",
    "SolverSpec",
    "StepSizeAdapter",
    "ToleranceAdapter",
    "TrainConfig",
    "TrainingDiverged",
    "accuracy",
    "accuracy_table",
    "analyse_collapse",
    "check_ode",
    "count_crossings",
    "critical_steps",
    "load_dataset",
    "load_ensemble",
    "load_ipython_extension",
    "mark_learned",
    "open_run",
    "reference_drop",
    "solve",
    "train_runs",
    "trajectories",
]
