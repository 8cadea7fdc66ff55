"""Figure 3: "Lady Windermere's fan", a fixed 2-D ODE whose numerical error a linear
classifier can exploit.

z' = A(z) z with A(z) = [[a, 1], [-g |z|^d, b]]: trajectories turn on ellipses whose
rotation speed grows with |z| (for a = b = 0 the angular speed is about sqrt(g |z|^d)).
Euler's global error is a sum of local errors carried along by this flow, a "fan"
that depends smoothly on the starting point. XOR-labelled starting points are mapped
by the exact flow to end points that a line cannot split, while Euler's end points,
carrying that structured error, can be split: the discretisation, not the ODE, solves
the task. No training is involved; everything here is a pure function of its inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ...core.errors import NodestudyError


@dataclass(frozen=True)
class FanODE:
    """The ODE of Figure 3 on [0, ``end_time``]. The paper gives no values; the
    defaults are ours (see the README for how they were chosen)."""

    a: float = -0.1
    b: float = -0.43
    g: float = 21.8
    d: float = 1.0
    end_time: float = 4.45

    def field(self, z: np.ndarray) -> np.ndarray:
        """A(z) z for points of shape (N, 2)."""
        x, y = z[..., 0], z[..., 1]
        radius = np.hypot(x, y)
        return np.stack([self.a * x + y, -self.g * radius**self.d * x + self.b * y], axis=-1)

    def angular_speed(self, z: np.ndarray) -> np.ndarray:
        """dθ/dt of the flow at each point (negative: the flow turns clockwise)."""
        velocity = self.field(z)
        return (z[..., 0] * velocity[..., 1] - z[..., 1] * velocity[..., 0]) / (
            z[..., 0] ** 2 + z[..., 1] ** 2
        )


@dataclass(frozen=True)
class XorPoints:
    """Four clusters on the corners of a square; opposite corners share a label."""

    centre: tuple[float, float] = (0.44, -1.23)
    half_width: float = 0.43
    spread: float = 0.03
    per_cluster: int = 5
    seed: int = 0

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.seed)
        corners = np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]]) * self.half_width
        points = [
            np.asarray(self.centre)
            + corner
            + rng.uniform(-1, 1, (self.per_cluster, 2)) * self.spread
            for corner in corners
        ]
        labels = np.repeat([0, 0, 1, 1], self.per_cluster)
        return np.concatenate(points), labels


def euler_trajectory(ode: FanODE, z0: np.ndarray, step: float) -> np.ndarray:
    """Euler states on the grid of ``end_time / step`` (rounded) equal steps, shape
    (steps + 1, N, 2). Non-finite states mean Euler blew up at this step size."""
    if not step > 0:
        raise NodestudyError(f"step size must be positive (got {step})")
    steps = max(1, round(ode.end_time / step))
    h = ode.end_time / steps
    states = np.empty((steps + 1, *z0.shape))
    states[0] = z = z0
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(steps):
            z = z + h * ode.field(z)
            states[i + 1] = z
    return states


def reference_trajectory(ode: FanODE, z0: np.ndarray, n_times: int = 2001) -> np.ndarray:
    """The flow itself, to 1e-10 (dopri5 in float64), at ``n_times`` equal times."""
    from torchdiffeq import odeint

    def field(t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(ode.field(z.numpy()))  # the one definition of the ODE

    times = torch.linspace(0.0, ode.end_time, n_times, dtype=torch.float64)
    states = odeint(field, torch.as_tensor(z0, dtype=torch.float64), times, rtol=1e-10, atol=1e-10)
    return states.numpy()


def fit_linear_classifier(points: np.ndarray, labels: np.ndarray):
    """A nearly hard-margin linear classifier (logistic regression, C = 1e6, on
    standardised points), as a fitted scikit-learn pipeline."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=1e6, max_iter=10_000))
    return model.fit(points, labels)


def linear_separability(points: np.ndarray, labels: np.ndarray) -> float:
    """Training accuracy of :func:`fit_linear_classifier`: 1.0 means a line splits
    the classes. Points that are not finite (a blown-up solve) score nan."""
    if not np.isfinite(points).all():
        return float("nan")
    return float(fit_linear_classifier(points, labels).score(points, labels))


def separability_by_step(
    ode: FanODE, z0: np.ndarray, labels: np.ndarray, steps: Sequence[float]
) -> pd.DataFrame:
    """Linear separability of Euler's end points at each step size, and of the flow's."""
    rows = [
        {
            "solver": "euler",
            "step": h,
            "separability": linear_separability(euler_trajectory(ode, z0, h)[-1], labels),
        }
        for h in steps
    ]
    reference = reference_trajectory(ode, z0, n_times=2)[-1]
    rows.append(
        {
            "solver": "reference",
            "step": np.nan,
            "separability": linear_separability(reference, labels),
        }
    )
    return pd.DataFrame(rows)


def separability_curves(
    ode: FanODE, samples: Sequence[XorPoints], steps: Sequence[float]
) -> pd.DataFrame:
    """:func:`separability_by_step` for several samples of starting points, so that a
    figure shows how much the result depends on the particular points."""
    frames = []
    for sample in samples:
        z0, labels = sample.sample()
        frames.append(separability_by_step(ode, z0, labels, steps).assign(sample=sample.seed))
    return pd.concat(frames, ignore_index=True)


def separability_summary(curves: pd.DataFrame) -> pd.DataFrame:
    """Mean, min and max separability over the XOR samples, per solver and step."""
    return (
        curves.groupby(["solver", "step"], dropna=False)["separability"]
        .agg(["mean", "min", "max"])
        .reset_index()
    )


def fan_numbers(
    ode: FanODE, points: XorPoints, separability: dict[str, float], curves: pd.DataFrame
) -> dict:
    """The numbers written beside Figure 3."""
    euler = curves[curves.solver == "euler"]
    return {
        "ode": {"a": ode.a, "b": ode.b, "g": ode.g, "d": ode.d, "end_time": ode.end_time},
        "xor_points": {
            "centre": list(points.centre),
            "half_width": points.half_width,
            "spread": points.spread,
            "per_cluster": points.per_cluster,
        },
        "separability": separability,
        "samples": int(curves["sample"].nunique()),
        "mean_separability_by_step": euler.groupby("step")["separability"].mean().to_dict(),
        "mean_separability_exact_flow": float(
            curves.loc[curves.solver == "reference", "separability"].mean()
        ),
    }
