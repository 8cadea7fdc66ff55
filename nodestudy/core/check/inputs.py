"""What :func:`~nodestudy.check_ode` accepts, turned into what it computes with, or
refused in one line that names the fix (:class:`NodestudyError`).

Inputs may be tensors or numpy arrays (a tuple of them for a tuple state); they are
moved to the model's device and, when their float type differs from the model's,
cast to it (and said so). Labels must be whole numbers within the head's classes;
numbers must be finite; option keys must be ones torchdiffeq knows; and the work a
solver implies is bounded before anything is solved.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import NodestudyError
from ..solvers import (
    ADAPTIVE_METHODS,
    FIXED_STEP_METHODS,
    METHODS,
    TORCHDIFFEQ_FIXED_OPTIONS,
    SolverSpec,
    TimeSpan,
)
from .preflight import NOTE, Finding

#: torchdiffeq's options, by kind of method (``norm`` is taken by both).
FIXED_OPTIONS = TORCHDIFFEQ_FIXED_OPTIONS
ADAPTIVE_OPTIONS = {"min_step", "max_step", "first_step", "step_t", "jump_t", "safety"}
ADAPTIVE_OPTIONS |= {"ifactor", "dfactor", "max_num_steps", "dtype", "norm"}
#: torchdiffeq's fixed-grid options the check cannot carry over to its test solvers, with
#: the values it accepts (torchdiffeq's defaults), and why.
UNREPRODUCED_OPTIONS = {
    "grid_constructor": (None,),
    "perturb": (False, None),
    "interp": ("linear",),
}
UNREPRODUCED_OPTIONS_WHY = {
    "grid_constructor": "a grid of your own would be judged as one step of the whole span",
    "perturb": "a perturbed time at every step is a field the tests would not see",
    "interp": "a cubic reading of the output times would be compared with linear ones",
}
#: The finest test solver has 8 times the training steps; no solve may take more than
#: this many steps (a step_size of 1e-7 would otherwise run for hours).
MAX_STEPS = 2**17


def as_tensors(value: Any, name: str) -> Tensor | tuple[Tensor, ...]:
    """A tensor, or a tuple of them, from tensors or numpy arrays."""
    parts = (Tensor, np.ndarray)
    if isinstance(value, tuple | list) and value and all(isinstance(v, parts) for v in value):
        return tuple(as_tensors(v, f"{name}[{i}]") for i, v in enumerate(value))
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    raise NodestudyError(
        f"{name} must be a torch tensor or a numpy array (a tuple of them for a tuple "
        f"state), got {type(value).__name__}"
    )


def model_placement(modules: list[nn.Module]) -> tuple[torch.device | None, torch.dtype | None]:
    """The device and float type of the model's first floating-point parameter."""
    for module in modules:
        for p in module.parameters():
            if p.is_floating_point():
                return p.device, p.dtype
    return None, None


def placed_inputs(x, y, modules, device, metric) -> tuple[Any, Any, list[Finding]]:
    """x (and tensor labels) on the model's device and in its float type."""
    x = as_tensors(x, "x")
    parts = x if isinstance(x, tuple) else (x,)
    for part in parts:
        if part.dim() < 1 or len(part) == 0 or len(part) != len(parts[0]):
            raise NodestudyError(
                "x must hold one evaluation input per row (non-empty, and every tuple "
                "component with the same number of rows)"
            )
        if not part.is_floating_point():
            raise NodestudyError(f"x must hold floating-point inputs (got {part.dtype})")
    model_device, model_dtype = model_placement(modules)
    device = torch.device(device) if device is not None else model_device or parts[0].device
    findings = []
    if model_dtype is not None and any(p.dtype != model_dtype for p in parts):
        given = sorted({str(p.dtype).replace("torch.", "") for p in parts})
        wanted = str(model_dtype).replace("torch.", "")
        findings.append(
            Finding("dtype", NOTE, f"x was {'/'.join(given)}, the model {wanted}: x cast to it")
        )
        parts = tuple(p.to(model_dtype) for p in parts)
    parts = tuple(p.to(device) for p in parts)
    x = parts if isinstance(x, tuple) else parts[0]
    if y is not None and (metric is None or isinstance(y, np.ndarray)):
        y = as_tensors(y, "y")
    if isinstance(y, Tensor):
        y = y.to(device)
    return x, y, findings


def checked_labels(y: Tensor, n: int, classes: int) -> Tensor:
    """Class labels: one whole number in [0, classes) per point."""
    if isinstance(y, tuple) or y.shape != (n,):
        shape = tuple(y.shape) if isinstance(y, Tensor) else "a tuple"
        raise NodestudyError(
            f"y must hold {n} class labels, one per point (got {shape}); for other "
            "targets pass metric=... (a per-point loss)"
        )
    floats = y.is_floating_point()
    if floats and not (bool(torch.isfinite(y).all()) and bool((y == y.round()).all())):
        raise NodestudyError(
            "y must hold whole class numbers; it has non-integer or non-finite values "
            "(for regression targets pass metric=..., a per-point loss)"
        )
    y = y.long()
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= classes:
        raise NodestudyError(
            f"y has labels from {low} to {high}, but the head gives {classes} classes "
            f"(labels 0 to {classes - 1}); check the labels or the head"
        )
    return y


def checked_times(t: Any, dtype: torch.dtype, device) -> Tensor | None:
    """Output times as odeint takes them: 1-D, at least two, finite, strictly
    monotone."""
    if t is None:
        return None
    times = as_tensors(t, "t")
    if isinstance(times, tuple) or times.dim() != 1 or len(times) < 2:
        raise NodestudyError("t must be a 1-D grid of at least two output times, as odeint takes")
    times = times.to(dtype=dtype if dtype.is_floating_point else torch.float32, device=device)
    steps = times.diff()
    if not bool(torch.isfinite(times).all()) or not (
        bool((steps > 0).all()) or bool((steps < 0).all())
    ):
        raise NodestudyError("t must hold finite output times, strictly increasing or decreasing")
    return times


def checked_options(method: str, options: Any, t_span: TimeSpan) -> dict[str, Any]:
    """torchdiffeq's options, with unknown keys and non-finite step sizes refused."""
    if method not in FIXED_STEP_METHODS and method not in ADAPTIVE_METHODS:
        raise NodestudyError(
            f"unknown or unsupported torchdiffeq method {method!r}; nodestudy handles "
            f"{', '.join(METHODS)}"
        )
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise NodestudyError(
            f"options must be a dict, as odeint takes it (e.g. {{'step_size': 0.1}}), "
            f"got {type(options).__name__}"
        )
    known = FIXED_OPTIONS if method in FIXED_STEP_METHODS else ADAPTIVE_OPTIONS
    unknown = sorted(set(options) - known)
    if unknown:
        raise NodestudyError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for method {method!r}; "
            f"torchdiffeq takes {', '.join(sorted(known))}"
        )
    for name, accepted in UNREPRODUCED_OPTIONS.items():
        if name in options and options[name] not in accepted:
            raise NodestudyError(
                f"options[{name!r}] = {options[name]!r} is not supported by check_ode: its "
                f"test solvers step on uniform grids of K steps and read them as torchdiffeq's "
                f"default does, so {UNREPRODUCED_OPTIONS_WHY[name]}; check the model with "
                "options={'step_size': h}"
            )
    step = options.get("step_size")
    if step is not None:
        number = isinstance(step, int | float) and not isinstance(step, bool)
        if not number or not math.isfinite(step) or step <= 0:
            raise NodestudyError(f"options['step_size'] must be a positive number (got {step!r})")
    return dict(options)


def checked_work(training: SolverSpec, reference_steps: int) -> None:
    """Refuse a training solver whose tests would take more than MAX_STEPS steps."""
    if training.is_fixed_step and 8 * training.steps > MAX_STEPS:
        raise NodestudyError(
            f"{training.label()} would be tested at up to {8 * training.steps:,} steps, more "
            f"than the {MAX_STEPS:,} a check takes; check with a larger step_size "
            f"(at most {MAX_STEPS // 8:,} steps on the interval)"
        )
    if reference_steps > MAX_STEPS:
        raise NodestudyError(
            f"max_reference_steps must be at most {MAX_STEPS:,} (got {reference_steps:,})"
        )


def number(value: Any, name: str, low: float, high: float, *, whole: bool = False) -> None:
    """A finite number in [low, high] (a whole one if ``whole``), else one line."""
    kind = int if whole else int | float
    if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value):
        raise NodestudyError(f"{name} must be a {'whole ' if whole else ''}number (got {value!r})")
    if not low <= value <= high:
        raise NodestudyError(f"{name} must lie between {low:g} and {high:g} (got {value!r})")


def check_settings(settings: dict[str, Any]) -> None:
    """The check's own numbers."""
    number(settings["drop_limit"], "drop_limit", 1e-9, 1 - 1e-9)
    if settings["state_limit"] is not None:
        number(settings["state_limit"], "state_limit", 1e-12, math.inf)
    number(settings["loss_limit"], "loss_limit", 0, math.inf)
    number(settings["loss_atol"], "loss_atol", 0, math.inf)
    if settings["loss_limit"] == 0 and settings["loss_atol"] == 0:
        raise NodestudyError(
            "loss_limit and loss_atol are both 0: no rise of the loss would be allowed; give "
            "loss_limit (a share of the model's own loss) or loss_atol (in the metric's units)"
        )
    number(settings["confidence"], "confidence", 0.5 + 1e-9, 1 - 1e-9)
    number(settings["reference_steps"], "reference_steps", 4, MAX_STEPS, whole=True)
    number(
        settings["max_reference_steps"],
        "max_reference_steps",
        settings["reference_steps"],
        MAX_STEPS,
        whole=True,
    )
    number(settings["chunk_size"], "chunk_size", 1, math.inf, whole=True)
    number(settings["crossing_points"], "crossing_points", 0, 100_000, whole=True)
    number(settings["nfe_points"], "nfe_points", 0, 100_000, whole=True)
