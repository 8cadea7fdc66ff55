"""The reproduction of Ott, Katiyar, Hennig and Tiemann, "ResNet After All? Neural ODEs
and Their Numerical Solution" (ICLR 2021), on top of the library (:mod:`nodestudy.core`,
whose face is ``import nodestudy``). Needs ``pip install 'nodestudy[study]'``.

Sub-packages, bottom up (each imports only those before it): :mod:`.runtime`
(numerical mode, device, worker processes, memory, data files), :mod:`.config` (what a
run is), :mod:`.profiles` (the study's sizes, as data), :mod:`.models` (the paper's
classifier), :mod:`.budget` (a run's memory and work), :mod:`.data`, :mod:`.store`
(stored runs, the cache), :mod:`.session` (device, worker processes and cache, in one
object),
:mod:`.analysis` (scores, learned seeds, critical steps, verdicts), :mod:`.training`,
:mod:`.figures` (plots, the numbers beside them, the README's tables),
:mod:`.experiments` (one module per notebook's experiment) and :mod:`.cli`.

The names below are what notebooks and scripts use most:

- :class:`TrainConfig`, :class:`DataConfig`, :class:`ModelConfig` (with the library's
  :class:`~nodestudy.SolverSpec`): what a run is;
- :func:`load_dataset` -> :class:`Dataset`, :func:`majority_rates` (the learned
  bar's floor), :func:`use_data_directory` (where MNIST and CIFAR10 files are);
  :class:`ODEClassifier`;
- :class:`Session`: where runs are computed and kept (device, worker processes, cache);
  every function that trains or scores many runs takes one;
- :func:`train_runs`: train configs (or load them from the cache);
  :class:`RunCache`, :func:`open_run`, :func:`load_ensemble` -> :class:`Run`;
- :func:`accuracy`, :func:`accuracy_table`, :func:`trajectories`: score models under any
  solver;
- :func:`paired_counts_table`: each run point by point under its training solver and
  the reference, the counts the paired test reads;
- :func:`analyse_collapse` (:func:`reference_drop`, :func:`mark_learned`,
  :func:`critical_steps`, defined by :data:`CRITICAL_STEP_DEFINITION`): the study's
  numbers, from the seeds that learned;
- :func:`load_ipython_extension`: ``%load_ext nodestudy.study`` prints errors as one line.
"""

# ruff: noqa: E402 (the numerical mode is set first, before any module computes with torch)
from .runtime import numerics as _numerics

_numerics.apply()

from ..core.solvers import SolverSpec
from .analysis.collapse import analyse_collapse, mark_learned, reference_drop
from .analysis.critical import CRITICAL_STEP_DEFINITION, critical_steps
from .analysis.evaluate import accuracy, accuracy_table, trajectories
from .analysis.paired import paired_counts_table
from .cli.ipython import load_ipython_extension
from .config import DataConfig, ModelConfig, TrainConfig
from .data.datasets import Dataset, load_dataset, majority_rates
from .models import ODEClassifier
from .runtime.data_files import use_data_directory
from .session import Session
from .store.cache import RunCache
from .store.runs import Run, load_ensemble, open_run
from .training.sweep import train_runs

__all__ = [
    "CRITICAL_STEP_DEFINITION",
    "DataConfig",
    "Dataset",
    "ModelConfig",
    "ODEClassifier",
    "Run",
    "RunCache",
    "Session",
    "SolverSpec",
    "TrainConfig",
    "accuracy",
    "accuracy_table",
    "analyse_collapse",
    "critical_steps",
    "load_dataset",
    "load_ensemble",
    "load_ipython_extension",
    "majority_rates",
    "mark_learned",
    "open_run",
    "paired_counts_table",
    "reference_drop",
    "train_runs",
    "trajectories",
    "use_data_directory",
]
