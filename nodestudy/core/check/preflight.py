"""What must hold before a model's answers under two solvers can be compared.

An ODE right-hand side is a deterministic function of (t, z). Dropout or noise
inside the field, or batch normalisation in training mode (each output then depends
on the rest of the batch), break that, and no comparison of solvers means anything
until they are switched off. A field that depends on t is allowed but noted. A
torchdiffeq fixed-grid method given no ``step_size`` steps once per output time, and
a step size that does not divide the interval gives a short last step; both are
noted so the user knows which solver was actually checked.

Each finding has a status: "ok", "note" (information), "warning" (the check runs,
but the user may not have meant this) or "problem" (the verdict cannot be trusted).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import NodestudyError
from ..solvers import FIXED_STEP_METHODS, TimeSpan, VectorField, is_exact_torchdiffeq_grid
from ..states import first_tensor

OK, NOTE, WARNING, PROBLEM = "ok", "note", "warning", "problem"

_DROPOUT = (
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
)


@dataclass(frozen=True)
class Finding:
    name: str
    status: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "message": self.message}


def modules_of(*objects: Any) -> list[nn.Module]:
    """The torch modules behind callables: a module itself, the module a bound method
    belongs to, or the modules a function reaches by name: those its closure captured
    and the globals it names (``lambda t, z: 3 * field(z)`` in a script or notebook,
    where ``field`` is a global), through nested functions and ``functools.partial``.
    What a function reaches otherwise (attributes of other objects) cannot be seen; for
    it only the behavioural tests apply."""
    found: list[nn.Module] = []
    for obj in objects:
        for owner in _owners(obj, set()):
            found += [m for m in owner.modules() if all(m is not f for f in found)]
    return found


def _owners(obj: Any, seen: set[int], depth: int = 0) -> list[nn.Module]:
    """The modules a callable is, belongs to, or reaches by name (see above)."""
    if obj is None or id(obj) in seen or depth > 8:
        return []
    seen.add(id(obj))
    if isinstance(obj, nn.Module):
        return [obj]
    if isinstance(getattr(obj, "__self__", None), nn.Module):
        return [obj.__self__]
    if isinstance(obj, functools.partial):
        reached = [obj.func, *obj.args, *obj.keywords.values()]
        return [m for value in reached for m in _owners(value, seen, depth + 1)]
    reached = []
    for cell in getattr(obj, "__closure__", None) or ():
        try:
            reached.append(cell.cell_contents)
        except ValueError:  # an empty cell
            continue
    code, names = getattr(obj, "__code__", None), getattr(obj, "__globals__", None)
    if code is not None and isinstance(names, dict):
        reached += [names[name] for name in code.co_names if name in names]
    return [
        m
        for value in reached
        if isinstance(value, nn.Module)
        or inspect.isfunction(value)
        or isinstance(value, functools.partial)
        for m in _owners(value, seen, depth + 1)
    ]


@contextlib.contextmanager
def left_unchanged(modules: list[nn.Module], like: Tensor) -> Iterator[None]:
    """Run a block, then restore every buffer of ``modules`` (batch-norm statistics
    move on every forward pass in training mode), their numeric attributes (call
    counters) and the random number generators (dropout draws from them), so checking
    a model does not change it."""
    saved = [
        (buffer, buffer.detach().clone()) for m in modules for buffer in m.buffers(recurse=False)
    ]
    counters = [
        (m, name, value)
        for m in modules
        for name, value in vars(m).items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    ]  # e.g. an ``nfe`` the field counts its calls in
    devices = [like.device.index or 0] if like.is_cuda else []
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            with torch.no_grad():
                for buffer, copy in saved:
                    buffer.copy_(copy)
            for m, name, value in counters:
                setattr(m, name, value)


def inspect_modules(modules: list[nn.Module]) -> list[Finding]:
    """Batch normalisation and dropout left in training mode."""
    names = {id(m): f"{type(m).__name__}" for m in modules}
    batch_norm = [m for m in modules if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    dropout = [m for m in modules if isinstance(m, _DROPOUT)]
    findings = []
    training_norm = [names[id(m)] for m in batch_norm if m.training]
    if training_norm:
        findings.append(
            Finding(
                "batch_norm",
                PROBLEM,
                f"{len(training_norm)} batch-norm layer(s) in training mode "
                f"({', '.join(sorted(set(training_norm)))}): each output depends on the rest "
                "of the batch, so the field is not a function of (t, z); call model.eval() "
                "first",
            )
        )
    elif batch_norm:
        findings.append(Finding("batch_norm", OK, "batch-norm layers are in eval mode"))
    training_dropout = [names[id(m)] for m in dropout if m.training and m.p > 0]
    if training_dropout:
        findings.append(
            Finding(
                "dropout",
                PROBLEM,
                f"{len(training_dropout)} dropout layer(s) in training mode: the field is "
                "random; call model.eval() first",
            )
        )
    return findings


def inspect_behaviour(func: VectorField, z0: Tensor, t_span: TimeSpan) -> list[Finding]:
    """Call the field on a few states: it must keep their shape, give the same output
    twice for the same input, and it may (noted) depend on t."""
    like = first_tensor(z0)
    t0, t1 = (torch.tensor(t, dtype=like.dtype, device=like.device) for t in t_span)
    with torch.no_grad():
        first = func(t0, z0)
        if _shapes(first) != _shapes(z0):
            raise NodestudyError(
                f"func(t, z) must return dz/dt with the shape of z: got {_shapes(first)} for "
                f"a state of shape {_shapes(z0)}; check the field's last layer"
            )
        first, second, later = (_flat(s) for s in (first, func(t0, z0), func(t1, z0)))
    findings = []
    scale = float(first.abs().max()) if first.numel() else 0.0
    tolerance = 1e-5 * max(scale, 1.0)
    difference = float((first - second).abs().max()) if first.numel() else 0.0
    if difference > tolerance:
        findings.append(
            Finding(
                "deterministic",
                PROBLEM,
                f"the field gives different outputs for the same input (largest difference "
                f"{difference:.3g}): dropout, noise or sampling inside it; a random field is "
                "not an ODE right-hand side (make it deterministic, e.g. model.eval())",
            )
        )
        return findings
    findings.append(Finding("deterministic", OK, "the same input gives the same output"))
    drift = float((later - first).abs().max()) if first.numel() else 0.0
    if drift > tolerance:
        findings.append(
            Finding(
                "time_dependent",
                NOTE,
                "the field depends on t (a non-autonomous ODE, which is allowed); "
                "trajectory crossings are not counted, since its orbits may cross",
            )
        )
    return findings


def _shapes(state: Any) -> Any:
    """A state's shape, or its components' (a tuple state), or its type."""
    if isinstance(state, tuple):
        return tuple(_shapes(s) for s in state)
    return tuple(state.shape) if isinstance(state, Tensor) else type(state).__name__


def _flat(state: Any) -> Tensor:
    if isinstance(state, tuple):
        return torch.cat([s.reshape(-1) for s in state])
    return state


def inspect_solver(
    method: str, options: Mapping[str, Any] | None, t_span: TimeSpan, dtype: torch.dtype
) -> list[Finding]:
    """What torchdiffeq does with this fixed-grid method and its options."""
    if method not in FIXED_STEP_METHODS:
        return []
    step_size = (options or {}).get("step_size")
    if step_size is None:
        return [
            Finding(
                "grid",
                WARNING,
                f"method {method!r} without options['step_size']: torchdiffeq then takes one "
                "step per output interval, so the check assumes you solved with t = t_span in "
                "a single step; pass the options you trained with",
            )
        ]
    # backward in time (t = [10, 0], as torchdiffeq's cnf.py), torchdiffeq solves the
    # flipped problem forward: the same grid over the same length
    given = t_span
    if t_span[1] < t_span[0]:
        t_span = (-t_span[0], -t_span[1])
    span = t_span[1] - t_span[0]
    steps = max(1, round(span / step_size))
    if abs(steps * step_size - span) > 1e-6 * abs(span):
        return [
            Finding(
                "grid",
                WARNING,
                f"step_size {step_size:g} does not divide the interval {given}: torchdiffeq "
                "ends with a shorter step; your training solve is reproduced as torchdiffeq "
                f"does it, and the finer tests use exact grids near {steps} steps",
            )
        ]
    if not is_exact_torchdiffeq_grid(steps, t_span, dtype):
        return [
            Finding(
                "grid",
                NOTE,
                f"torchdiffeq turns step_size = {span:g}/{steps} into {steps + 1} steps, the "
                "last a sliver (a rounding artefact); your training solve is reproduced as "
                f"torchdiffeq does it, the finer tests use exact grids (use step_size = "
                f"{span:g}/{steps + 1} or a power of two to avoid it)",
            )
        ]
    return [Finding("grid", OK, f"{steps} exact steps of {span / steps:g}")]


def run_preflight(
    func: VectorField,
    head: Callable | None,
    z0: Tensor,
    method: str,
    options: Mapping[str, Any] | None,
    t_span: TimeSpan,
) -> list[Finding]:
    """Every pre-flight finding for a field, its head and the training solver."""
    modules = modules_of(func, head)
    findings = inspect_modules(modules)
    with left_unchanged(modules, first_tensor(z0)):
        findings += inspect_behaviour(func, z0, t_span)
    return findings + inspect_solver(method, options, t_span, first_tensor(z0).dtype)
