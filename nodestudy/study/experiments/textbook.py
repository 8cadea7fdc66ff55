"""A Neural ODE written without nodestudy, and a way to point the check at yours.

:func:`train_textbook` trains the way the torchdiffeq examples do: an ``nn.Module``
field ``f(t, z)``, a linear head, Adam, and ``odeint`` in a plain loop over random
mini-batches. Nothing in it uses nodestudy, so :func:`nodestudy.check_ode` sees it
exactly as it would see a user's model. :func:`load_user_model` imports a user's
``"package.module:function"`` that returns the keyword arguments of ``check_ode``.
"""

from __future__ import annotations

import importlib
import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...core.adaptation.adapters import StepSizeAdapter
from ...core.adaptation.rules import NAMED_RULES, StepAdaptation
from ...core.check.procedure import check_ode
from ...core.check.report import OdeCheck
from ...core.errors import NodestudyError
from ...core.solvers import SolverSpec


def rings(n: int, seed: int) -> tuple[Tensor, Tensor]:
    """Points in three radius bands of the plane, the middle band class 1 (as the
    paper's Sphere2, written out with plain torch)."""
    generator = torch.Generator().manual_seed(seed)
    bands = [(0.10, 0.15, 0, n // 4), (0.25, 0.30, 1, n - 2 * (n // 4)), (0.40, 0.45, 0, n // 4)]
    points, labels = [], []
    for low, high, label, m in bands:
        angle = torch.rand(m, generator=generator) * 2 * math.pi
        radius = low + (high - low) * torch.rand(m, generator=generator).sqrt()
        points.append(torch.stack([radius * angle.cos(), radius * angle.sin()], 1))
        labels.append(torch.full((m,), label))
    order = torch.randperm(n, generator=generator)
    return torch.cat(points)[order], torch.cat(labels)[order]


class MLPField(nn.Module):
    """f(t, z): a two-hidden-layer ReLU network on the state (t unused)."""

    def __init__(self, dim: int = 2, hidden: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, dim),
        )

    def forward(self, t: Tensor, z: Tensor) -> Tensor:
        return self.net(z)


@dataclass
class TextbookModel:
    """A trained textbook Neural ODE and how it was trained."""

    func: MLPField
    head: nn.Linear
    method: str
    options: dict[str, Any]
    iterations: int
    train_seconds: float
    #: Forward evaluations per training iteration (an adapter's checks included).
    nfe_per_iteration: float
    adapter: StepSizeAdapter | None = None


def train_textbook(
    x: Tensor,
    y: Tensor,
    *,
    method: str,
    step_size: float | None = None,
    iterations: int,
    learning_rate: float = 3e-3,
    batch_size: int = 128,
    seed: int = 0,
    adapter: StepSizeAdapter | None = None,
) -> TextbookModel:
    """Train ``MLPField`` and a linear head with ``odeint`` over [0, 1] and
    cross-entropy, the textbook way: at a fixed ``step_size``, or with the step an
    ``adapter`` chooses (the lines a user adds to the loop are marked)."""
    from torchdiffeq import odeint

    if (step_size is None) == (adapter is None):
        raise NodestudyError("pass either step_size or adapter")
    torch.manual_seed(seed)
    func, head = MLPField(x.shape[1]), nn.Linear(x.shape[1], int(y.max()) + 1)
    optimiser = torch.optim.Adam([*func.parameters(), *head.parameters()], lr=learning_rate)
    t = torch.tensor([0.0, 1.0])
    batches = [torch.randint(0, len(y), (batch_size,)) for _ in range(iterations)]
    if adapter is not None and adapter.step_size is None:
        adapter.start(func, x[batches[0]])  # the adapter: its first step
    started = time.perf_counter()
    for iteration, index in enumerate(batches):
        options = adapter.options if adapter is not None else {"step_size": step_size}
        z = odeint(func, x[index], t, method=method, options=options)[-1]
        loss = F.cross_entropy(head(z), y[index])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if adapter is not None:
            adapter.update(iteration, func, x[index], y[index], head)  # the adapter: check
    seconds = time.perf_counter() - started
    if adapter is not None:
        nfe = float(adapter.history.nfe.mean())
        options = adapter.options
    else:
        nfe = float(SolverSpec.from_torchdiffeq(method, options).nfe)
    return TextbookModel(func, head, method, options, iterations, seconds, nfe, adapter)


def load_user_model(spec: str) -> dict[str, Any]:
    """Import ``"package.module:function"`` and call it: it returns the keyword
    arguments of :func:`nodestudy.check_ode` (at least ``func``, ``x`` and
    ``method``; usually also ``y``, ``head`` and ``options``)."""
    module_name, _, function_name = spec.partition(":")
    if not module_name or not function_name:
        raise NodestudyError(
            f"model must look like 'package.module:function' (got {spec!r}); the function "
            "returns the keyword arguments of check_ode: func, x, y, head, method, options"
        )
    if os.getcwd() not in sys.path:  # as `python -m` does: the user's own package
        sys.path.insert(0, os.getcwd())
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as error:
        raise NodestudyError(
            f"cannot load {spec!r} ({error}); is its package importable from here (the "
            "current directory is on the path)?"
        ) from None
    arguments = function()
    if not isinstance(arguments, dict):
        raise NodestudyError(
            f"{spec} must return a dict of check_ode's keyword arguments, not "
            f"{type(arguments).__name__}"
        )
    missing = [key for key in ("func", "x", "method") if key not in arguments]
    if missing:
        raise NodestudyError(f"{spec} returned no {', '.join(missing)}; check_ode needs them")
    return arguments


def check_textbook_models(study) -> tuple[dict[str, TextbookModel], dict[str, OdeCheck]]:
    """Train a coarse and a fine textbook model on rings (sizes from a
    :class:`~nodestudy.study.profiles.TextbookStudy`) and check each on held-out points."""
    x, y = rings(study.n_train, study.seed)
    x_test, y_test = rings(study.n_test, study.seed + 1)
    solvers = {"coarse": ("euler", study.coarse_step), "fine": (study.fine_method, study.fine_step)}
    models = {
        name: train_textbook(
            x,
            y,
            method=method,
            step_size=step,
            iterations=study.iterations,
            learning_rate=study.learning_rate,
            seed=study.seed,
        )
        for name, (method, step) in solvers.items()
    }
    checks = {
        name: check_ode(
            model.func,
            x_test,
            y_test,
            head=model.head,
            method=model.method,
            options=model.options,
        )
        for name, model in models.items()
    }
    return models, checks


def check_user_model(spec: str) -> dict[str, OdeCheck]:
    """:func:`~nodestudy.check_ode` of the model ``spec`` names (see
    :func:`load_user_model`), keyed by ``spec``."""
    return {spec: check_ode(**load_user_model(spec))}


def check_summary(checks: dict[str, OdeCheck], models: dict[str, TextbookModel]) -> dict:
    """JSON-ready numbers of each check (and how its model was trained)."""
    summary = {}
    for name, check in checks.items():
        training, reference = check.row("training"), check.row("reference")
        summary[name] = {
            "verdict": check.verdict,
            "training_solver": check.training.label(),
            "measure": check.measure.value,
            "estimate": check.estimate.to_dict(),
            "training_accuracy": training.get("accuracy"),
            "reference_accuracy": reference.get("accuracy"),
            "reference": check.reference.label(),
            "safe_steps": check.safe_steps,
            "crossings": check.crossings,
            "check_seconds": check.seconds,
            "reasons": list(check.reasons),
        }
        if name in models:
            summary[name]["train_iterations"] = models[name].iterations
            summary[name]["train_seconds"] = models[name].train_seconds
    return summary


def check_tables(checks: dict[str, OdeCheck]):
    """Every check's table in one tidy frame, with a ``model`` column."""
    return pd.concat(
        [check.table.assign(model=name) for name, check in checks.items()], ignore_index=True
    )


def adapt_textbook(study) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The textbook model on rings trained with the step-size adapter (each rule of
    ``study.rules``; rules with a probe check on ``study.probe_size`` held-out points)
    and at the fixed euler steps ``study.grid_steps``, all checked on held-out points.
    One row per model (how it trained, its cost per iteration, its verdict), and the
    adapters' histories."""
    x, y = rings(study.n_train, study.seed)
    x_test, y_test = rings(study.n_test, study.seed + 1)
    probe = rings(study.probe_size, study.seed + 2)
    common = {"iterations": study.adapt_iterations, "learning_rate": study.adapt_learning_rate}
    models = {
        f"fixed K={k}": train_textbook(x, y, method="euler", step_size=1 / k, **common)
        for k in study.grid_steps
    }
    for name in study.rules:
        rule = StepAdaptation.named(
            name,
            **({"probe_size": study.probe_size} if NAMED_RULES[name].get("probe_size") else {}),
        )
        adapter = StepSizeAdapter("euler", rule, probe=probe if rule.probe_size else None)
        models[f"adapted: {name}"] = train_textbook(x, y, method="euler", adapter=adapter, **common)
    rows = []
    for label, model in models.items():
        check = check_ode(
            model.func, x_test, y_test, head=model.head, method="euler", options=model.options
        )
        rows.append(
            {
                "model": label,
                "adapted": model.adapter is not None,
                "final_steps": check.training.steps,
                "nfe_per_iteration": model.nfe_per_iteration,
                "train_seconds": model.train_seconds,
                "accuracy": check.row("training")["accuracy"],
                "reference_accuracy": check.row("reference")["accuracy"],
                "verdict": check.verdict,
                "drop": check.estimate.value,
                "drop_low": check.estimate.low,
                "drop_high": check.estimate.high,
            }
        )
    histories = {label: model.adapter.history for label, model in models.items() if model.adapter}
    return pd.DataFrame(rows), histories
