"""What a finished study's training cost, against what the arithmetic alone needs.

For every run in a cache directory this counts the floating-point work of its
training: the vector-field evaluations it recorded (forward and backward, per
iteration) times the convolutions' arithmetic per sample with the padding taps left
out (a backward evaluation taken as twice a forward one, an adjoint one as three
times), times the batch and the iterations. It adds the forward work of every score
memoised beside the run under a fixed-step solver (adaptive ones are left out).
Divided by the matmul peak measured here, that is a lower bound on the time which no
implementation on this machine can beat; the runs' own ``train_seconds`` say what
nodestudy's training took. Usage:

    .venv/bin/python benchmarks/study_cost.py [CACHE_DIR] [--profile quick]

``--profile`` counts only the runs that profile's ``make figures`` trains (the cache may
hold pilots and runs of older versions too).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections import defaultdict

import pandas as pd
from train_speed import matmul_peak

import nodestudy.study as ns
from nodestudy.study.experiments.plan import study_configs


def field_flops_per_sample(state_shape: tuple[int, ...], hidden: int) -> float:
    """One forward evaluation of the vector field: 1x1, 3-wide (3x3) and 1x1
    convolutions at every position of the state. Taps that fall on the zero padding
    are not counted, so that the total is a lower bound on the work."""
    channels, spatial = state_shape[0], state_shape[1:]
    positions = math.prod(spatial)
    # along an axis of n positions a 3-wide kernel has 3n - 2 taps inside the state
    inside_taps = math.prod(3 * n - 2 for n in spatial)
    pointwise = 2 * positions * (channels * hidden + hidden * channels)
    return float(pointwise + 2 * inside_taps * hidden * hidden)


def training_flops(run: ns.Run, state_shape: tuple[int, ...]) -> float:
    config, metrics = run.config, run.metrics
    per_eval = config.batch_size * field_flops_per_sample(state_shape, config.model.hidden_channels)
    backward_cost = 3.0 if config.gradient == "adjoint" else 2.0
    # runs stored before the forward count was split into training and checks
    forward = metrics.get("nfe_forward_training", metrics["nfe_forward"])
    evaluations = forward + backward_cost * metrics["nfe_backward"]
    return config.iterations * evaluations * per_eval


def scoring_flops(run: ns.Run, data: ns.Dataset, state_shape: tuple[int, ...]) -> float:
    """Forward work of the run's memoised scores under fixed-step solvers."""
    per_sample = field_flops_per_sample(state_shape, run.config.model.hidden_channels)
    total = 0.0
    for key in run.scores():
        split, method, steps, _tolerance, _iteration = json.loads(key)
        if steps is None:
            continue
        evaluations = ns.SolverSpec(method, steps).nfe
        total += evaluations * len(data.split(split)[1]) * per_sample
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cache", nargs="?", default=".cache/runs")
    parser.add_argument("--profile", help="only the runs of this profile's make figures")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    cache = ns.RunCache(args.cache)
    if args.profile:
        planned = study_configs(args.profile)
        runs = [run for run in map(cache.get, planned) if run is not None]
        print(f"{len(runs)} of the {len(planned)} runs of profile {args.profile} are cached")
    else:
        runs = list(cache.runs())

    datasets: dict[ns.DataConfig, ns.Dataset] = {}
    rows = defaultdict(
        lambda: {"runs": 0, "train_tflop": 0.0, "train_core_seconds": 0.0, "score_tflop": 0.0}
    )
    for run in runs:
        config = run.config.data
        if config not in datasets:
            datasets[config] = ns.load_dataset(config)
        data = datasets[config]
        row = rows[config.short_name, run.config.gradient]
        row["runs"] += 1
        row["train_tflop"] += training_flops(run, data.state_shape) / 1e12
        row["train_core_seconds"] += run.metrics["train_seconds"]
        row["score_tflop"] += scoring_flops(run, data, data.state_shape) / 1e12
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis(["data", "gradient"])
    table.loc[("all", ""), :] = table.sum()
    table["train_gflops_achieved"] = 1e3 * table.train_tflop / table.train_core_seconds

    # the best of several tries: a higher peak only lowers the bound
    peak = max(matmul_peak(cores) for _ in range(5))
    total = table.loc[("all", "")]
    print(table.round(2).to_string())
    print(f"\nmatmul peak here, {cores} cores, best of 5: {peak:.0f} GFLOP/s")
    print(
        f"at that peak: training {1e3 * total.train_tflop / peak / 60:.1f} min, scoring "
        f"{1e3 * total.score_tflop / peak / 60:.1f} min; nodestudy's training took "
        f"{total.train_core_seconds / 60:.1f} core-minutes"
    )


if __name__ == "__main__":
    main()
