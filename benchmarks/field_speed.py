"""Vector-field forms: dense banded matrices against grouped ``conv1d``.

The spheres' vector field is a stack of 1-D convolutions over a length-L state
(L = the sphere's dimension). ``ODEClassifier.vector_field`` computes it either as
dense matrices (which also multiply the zero taps, so the cost grows as L squared)
or as grouped convolutions. This script times one training solve (euler, forward and
backward) of each form for several lengths, in one run, to place ``DENSE_LIMIT``.
Usage:

    .venv/bin/python benchmarks/field_speed.py [--lengths 2 3 4 6 8 10 16] [--members 2]
"""

from __future__ import annotations

import argparse
import time

import torch

from nodestudy.study.models import DENSE_LIMIT, ODEClassifier


def milliseconds_per_step(
    model: ODEClassifier, form: str, batch: int, steps: int, repeats: int
) -> float:
    """Wall time of one euler step, forward and backward, averaged over a solve."""
    z0 = torch.randn(model.n_members, batch, model.state_size)

    def one_solve() -> None:
        field = model.vector_field(form)
        z = z0
        for _ in range(steps):
            z = z + field(None, z) / steps
        z.sum().backward()

    one_solve()  # warm-up: allocator and kernel selection
    started = time.perf_counter()
    for _ in range(repeats):
        one_solve()
    return (time.perf_counter() - started) / (repeats * steps) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[2, 3, 4, 6, 8, 10, 16])
    parser.add_argument("--members", type=int, default=2, help="seeds stacked in the ensemble")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)

    print(f"torch {torch.__version__}, 1 thread, {args.members} members, hidden {args.hidden}")
    print(f"DENSE_LIMIT = {DENSE_LIMIT}: dense while hidden * length <= {DENSE_LIMIT}\n")
    header = ("length", "dense ms/step", "conv ms/step", "conv/dense", "auto")
    print(" ".join(f"{name:>{len(name) + 1}}" for name in header))
    for length in args.lengths:
        model = ODEClassifier.initialised(
            list(range(args.members)), (1, length), args.hidden, n_classes=2
        )
        dense, conv = (
            milliseconds_per_step(model, form, args.batch, args.steps, args.repeats)
            for form in ("dense", "conv")
        )
        auto = "dense" if args.hidden * length <= DENSE_LIMIT else "conv"
        print(f"{length:>7} {dense:>14.3f} {conv:>13.3f} {conv / dense:>11.2f} {auto:>5}")


if __name__ == "__main__":
    main()
