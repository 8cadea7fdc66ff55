"""The study's side of solver adaptation: the core's adapters
(:mod:`nodestudy.core.adaptation.adapters`) applied to a
:class:`~nodestudy.study.config.TrainConfig`.

A config is the whole description of a run, so the heuristic's starting K is written
into it (:func:`start_from_heuristic`), and a rule with ``probe_size`` holds that many
points of the training split out of training to check on (:func:`probe_split`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import Tensor

from ...core.adaptation.adapters import SolverAdapter, StepSizeAdapter, ToleranceAdapter
from ...core.adaptation.rules import StepAdaptation
from ...core.errors import NodestudyError
from ...core.solvers import SolverSpec
from ..budget import require_memory
from ..config import TrainConfig
from ..data.datasets import EpochBatches, load_dataset
from ..models import ODEClassifier, member_generators

#: Entropy that separates a run's probe draw from its weights and batch order.
_PROBE_STREAM = 2


def probe_split(n_train: int, probe_size: int | None, seed: int) -> tuple[Tensor, Tensor | None]:
    """Indices of the training points that train, and of those held out as the probe
    (None without a probe): a seeded draw, fixed for the run."""
    if probe_size is None:
        return torch.arange(n_train), None
    if probe_size >= n_train:
        raise NodestudyError(
            f"probe_size {probe_size} leaves no training points (the split has {n_train})"
        )
    state = np.random.SeedSequence([seed, _PROBE_STREAM]).generate_state(1)[0]
    order = torch.randperm(n_train, generator=torch.Generator().manual_seed(int(state)))
    return order[probe_size:].sort().values, order[:probe_size].sort().values


def start_from_heuristic(config: TrainConfig) -> TrainConfig:
    """The config with its starting K chosen by the starting-step heuristic, at the
    state training starts from: the seed's initial weights and its first batch. The
    chosen K is written into the config, so the config stays the whole description of
    the run; it is what :meth:`StepSizeAdapter.start` chooses for the same model."""
    rule = config.adaptation
    if not isinstance(rule, StepAdaptation):
        raise NodestudyError("start_from_heuristic needs a config with a StepAdaptation rule")
    require_memory([[config]])  # before the data: its size alone may be refused
    data = load_dataset(config.data)
    model = ODEClassifier.initialised(
        [config.seed], data.state_shape, config.model.hidden_channels, data.n_classes
    )
    train_index, _ = probe_split(len(data.y_train), rule.probe_size, config.seed)
    batch_order = member_generators(config.seed)[1]
    first_batch = EpochBatches(len(train_index), config.batch_size, [batch_order]).next()
    # the core adapter's own start (its probe set plays no part in the first step)
    adapter = StepSizeAdapter(config.solver.method, dataclasses.replace(rule, probe_size=None))
    x_first = data.x_train[train_index[first_batch]]
    adapter.start(model.vector_field(), x_first, encode=model.flatten_inputs)
    return config.replace(solver=SolverSpec(config.solver.method, adapter.steps))


def adapter_for(config: TrainConfig, probe: tuple[Tensor, Tensor] | None) -> SolverAdapter:
    """The core's adapter that applies a config's rule from its starting solver."""
    rule = config.adaptation
    if isinstance(rule, StepAdaptation):
        return StepSizeAdapter(config.solver.method, rule, probe=probe, steps=config.solver.steps)
    return ToleranceAdapter(config.solver.method, rule, probe=probe, tol=config.solver.tol)
