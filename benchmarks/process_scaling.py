"""Throughput of one worker process against several, on this machine.

A sweep trains independent configurations; ``train_runs(configs, Session(n_jobs=N))`` spreads them
over N joblib worker processes of one thread each. How much that gains depends on
the cores (two hyperthreads of one core give less than two cores). This trains the
same set of configurations (Sphere2, euler K, several data seeds so that each is its
own ensemble of seeds) with each worker count, alternately, in one run. Usage:

    .venv/bin/python benchmarks/process_scaling.py [--jobs 1 2] [--repeats 2]
"""

from __future__ import annotations

import argparse

from train_speed import seconds_to_train

import nodestudy.study as ns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--configs", type=int, default=4, help="independent ensembles")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per ensemble")
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--iters", type=int, default=300)
    args = parser.parse_args()
    configs = [
        ns.TrainConfig(
            ns.DataConfig(seed=data_seed),
            ns.SolverSpec("euler", args.steps),
            iterations=args.iters,
            seed=seed,
        )
        for data_seed in range(args.configs)
        for seed in range(args.seeds)
    ]
    print(f"{args.configs} ensembles of {args.seeds} seeds, euler K={args.steps}, {args.iters} it")
    timings: dict[int, list[float]] = {n: [] for n in args.jobs}
    for _ in range(args.repeats):
        for n_jobs in args.jobs:
            timings[n_jobs].append(seconds_to_train(configs, n_jobs))
    best_single = min(timings[args.jobs[0]])
    for n_jobs, seconds in timings.items():
        listed = ", ".join(f"{s:.1f}" for s in seconds)
        print(
            f"{n_jobs} process(es): {listed} s; "
            f"throughput vs {args.jobs[0]}: {best_single / min(seconds):.2f}x"
        )


if __name__ == "__main__":
    main()
