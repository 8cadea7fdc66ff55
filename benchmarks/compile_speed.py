"""Is ``torch.compile`` a lever for the study's training on CPU? One run, one thread:
Sphere2's dense field (3 members, batch 128, 32 hidden channels), an euler solve of K
steps with the loss's backward pass (no optimiser step), three ways:

- eager, as nodestudy trains today;
- the whole solve compiled (one graph per K: the loop is unrolled, so every K of a sweep
  compiles anew);
- only the step compiled (one graph shared by every K).

It prints the compile time and milliseconds per iteration of each.

    .venv/bin/python benchmarks/compile_speed.py [--steps 8 64] [--repeats 50]
"""

from __future__ import annotations

import argparse
import time

import torch

from nodestudy.study import ODEClassifier


def euler_step(z, h, m1, m2, m3, b1, b2, b3):
    hidden = torch.relu(torch.baddbmm(b1, z, m1))
    hidden = torch.relu(torch.baddbmm(b2, hidden, m2))
    return z + h * torch.baddbmm(b3, hidden, m3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = ODEClassifier.initialised([0, 1, 2], (1, 2), 32, 2)
    x = torch.randn(3, 128, 2)

    def iteration(steps: int, step=euler_step) -> None:
        tensors = model.vector_field(form="dense").tensors
        z = x
        for _ in range(steps):
            z = step(z, 1.0 / steps, *tensors)
        model.classify(z).sum().backward()

    ways = {
        "eager": iteration,
        "whole solve compiled": torch.compile(iteration),
    }
    compiled_step = torch.compile(euler_step, dynamic=False)
    ways["step compiled"] = lambda k: iteration(k, compiled_step)
    for name, run in ways.items():
        for steps in args.steps:
            start = time.perf_counter()
            run(steps)
            first = time.perf_counter() - start
            for _ in range(3):
                run(steps)
            start = time.perf_counter()
            for _ in range(args.repeats):
                run(steps)
            per = (time.perf_counter() - start) / args.repeats
            print(
                f"{name:>22}, K={steps:>3}: first call {first:5.1f} s, "
                f"{1e3 * per:6.2f} ms per iteration",
                flush=True,
            )


if __name__ == "__main__":
    main()
