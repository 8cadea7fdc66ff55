"""Training time of adjoint against backpropagation through the solver, in one run.

Sphere2, euler at K steps, batch 128, two seeds as one ensemble, a fixed number of
iterations, both gradient methods in the same process one after the other (one thread,
so that the two see the same machine):

    .venv/bin/python benchmarks/adjoint_speed.py --steps 8 32 128 --iterations 200
"""

from __future__ import annotations

import argparse

import torch

from nodestudy import SolverSpec
from nodestudy.study import DataConfig, TrainConfig
from nodestudy.study.training.train import train_ensemble


def seconds_per_iteration(steps: int, gradient: str, iterations: int) -> float:
    """Seconds per iteration of the training loop for one ensemble of two seeds (the
    trainer times its loop alone, without the final evaluation)."""
    configs = [
        TrainConfig(
            DataConfig(),
            SolverSpec("euler", steps),
            iterations=iterations,
            seed=s,
            gradient=gradient,
        )
        for s in (0, 1)
    ]
    members = train_ensemble(configs, progress=False)
    return members[0].metrics["train_seconds"] * len(members) / iterations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("K  backprop ms/it  adjoint ms/it  ratio")
    for steps in args.steps:
        backprop = seconds_per_iteration(steps, "backprop", args.iterations)
        adjoint = seconds_per_iteration(steps, "adjoint", args.iterations)
        print(f"{steps:<3} {1e3 * backprop:13.2f} {1e3 * adjoint:13.2f} {adjoint / backprop:6.2f}")


if __name__ == "__main__":
    main()
