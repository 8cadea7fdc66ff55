"""What a finished study's training cost, against what the arithmetic alone needs.

For every run in a cache directory this counts the floating-point work of its
training: the vector-field evaluations it recorded (forward per iteration, backward
per iteration) times the convolutions' arithmetic per sample (a backward evaluation
taken as twice a forward one, an adjoint evaluation as three times), times the batch
and the iterations. Dividing by the matmul peak measured here gives a lower bound on
the training time that no implementation on this machine can beat; the runs' own
``train_seconds`` say what nodestudy took. Usage:

    .venv/bin/python benchmarks/study_cost.py [CACHE_DIR]   # default: .cache/runs
"""

from __future__ import annotations

import argparse
import math
import os
from collections import defaultdict

import pandas as pd
from train_speed import matmul_peak

import nodestudy as ns


def field_flops_per_sample(state_shape: tuple[int, ...], hidden: int) -> float:
    """One forward evaluation of the vector field: 1x1, 3-wide (3x3) and 1x1
    convolutions at every position of the state, zero-padding taps included."""
    channels, positions = state_shape[0], math.prod(state_shape[1:])
    taps = 3 ** (len(state_shape) - 1)
    return 2.0 * positions * (channels * hidden + taps * hidden * hidden + hidden * channels)


def training_flops(run: ns.Run, state_shape: tuple[int, ...]) -> float:
    config, metrics = run.config, run.metrics
    per_eval = config.batch_size * field_flops_per_sample(state_shape, config.model.hidden_channels)
    backward_cost = 3.0 if config.gradient == "adjoint" else 2.0
    # runs stored before the forward count was split into training and checks
    forward = metrics.get("nfe_forward_training", metrics["nfe_forward"])
    evaluations = forward + backward_cost * metrics["nfe_backward"]
    return config.iterations * evaluations * per_eval


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cache", nargs="?", default=".cache/runs")
    args = parser.parse_args()
    cores = os.cpu_count() or 1

    shapes: dict[ns.DataConfig, tuple[int, ...]] = {}
    rows = defaultdict(lambda: {"runs": 0, "tflop": 0.0, "train_core_seconds": 0.0})
    for run in ns.RunCache(args.cache).runs():
        data = run.config.data
        if data not in shapes:
            shapes[data] = ns.load_dataset(data).state_shape
        row = rows[data.short_name, run.config.gradient]
        row["runs"] += 1
        row["tflop"] += training_flops(run, shapes[data]) / 1e12
        row["train_core_seconds"] += run.metrics["train_seconds"]
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis(["data", "gradient"])
    table["achieved_gflops"] = 1e3 * table.tflop / table.train_core_seconds
    table.loc[("all", ""), :] = table.sum()
    table.loc[("all", ""), "achieved_gflops"] = (
        1e3 * table.loc[("all", ""), "tflop"] / table.loc[("all", ""), "train_core_seconds"]
    )

    peak = matmul_peak(cores)
    total = table.loc[("all", "")]
    print(table.round(2).to_string())
    print(f"\nmatmul peak here, {cores} cores: {peak:.0f} GFLOP/s")
    print(
        f"arithmetic alone at that peak: {1e3 * total.tflop / peak / 60:.1f} min; "
        f"nodestudy's training: {total.train_core_seconds / 60:.1f} core-minutes"
    )


if __name__ == "__main__":
    main()
