"""Training speed: a textbook torchdiffeq loop against nodestudy's trainer.

Both train the same Sphere2 configuration (euler, K steps, batch 128, Adam 1e-4) for
the same number of iterations and seeds, in one run on one machine:

(a) textbook: one model at a time, a DataLoader over a TensorDataset, and
    ``odeint(func, x, [0, 1], method="euler", options={"step_size": 1/K})``;
(b) nodestudy, as the notebooks use it: the seeds of a configuration trained as one
    ensemble, and independent configurations spread over worker processes.

It prints milliseconds per model-iteration, the ratio, and the arithmetic rate
achieved against a matmul peak measured here. Usage:

    .venv/bin/python benchmarks/train_speed.py [--steps 64] [--iters 200] [--seeds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchdiffeq import odeint

import nodestudy.study as ns


def flops_per_iteration(steps: int, batch: int, hidden: int = 32, length: int = 2) -> float:
    """Arithmetic of one training iteration, counted on the convolutions (with their
    zero-padding taps) and the head; backward taken as twice the forward."""
    per_sample = 2 * (hidden * length) + 2 * (hidden * hidden * 3 * length) + 2 * (hidden * length)
    forward = steps * batch * per_sample + 2 * batch * length * 2
    return 3.0 * forward


def matmul_peak(threads: int, size: int = 1024, repeats: int = 20) -> float:
    """GFLOP/s of a square float32 matmul with the given number of threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    seconds = (time.perf_counter() - start) / repeats
    torch.set_num_threads(previous)
    return 2 * size**3 / seconds / 1e9


class _Field(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(1, 32, 1),
            nn.ReLU(),
            nn.Conv1d(32, 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv1d(32, 1, 1),
        )

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def textbook(
    data: ns.Dataset, steps: int, iterations: int, seeds: list[int], threads: int
) -> float:
    """Seconds for all seeds, one model at a time, with ``threads`` torch threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    start = time.perf_counter()
    for seed in seeds:
        torch.manual_seed(seed)
        field, head = _Field(), nn.Linear(2, 2)
        optimiser = torch.optim.Adam([*field.parameters(), *head.parameters()], lr=1e-4)
        loader = DataLoader(TensorDataset(data.x_train, data.y_train), batch_size=128, shuffle=True)
        times = torch.tensor([0.0, 1.0])
        done = 0
        while done < iterations:
            for x, y in loader:
                z = odeint(field, x, times, method="euler", options={"step_size": 1 / steps})[-1]
                loss = F.cross_entropy(head(z.flatten(1)), y)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                done += 1
                if done == iterations:
                    break
    seconds = time.perf_counter() - start
    torch.set_num_threads(previous)
    return seconds


def nodestudy_trainer(steps: int, iterations: int, seeds: list[int], n_jobs: int) -> float:
    """Seconds for all seeds, split into ``n_jobs`` configurations (one per worker) as
    a sweep would be; each configuration trains its seeds as one ensemble."""
    configs = []
    for job in range(n_jobs):
        # configurations that differ in more than the seed cannot share an ensemble
        data = ns.DataConfig(seed=job)
        configs += [
            ns.TrainConfig(data, ns.SolverSpec("euler", steps), iterations=iterations, seed=s)
            for s in seeds[job::n_jobs]
        ]
    return seconds_to_train(configs, n_jobs)


def seconds_to_train(configs: list[ns.TrainConfig], n_jobs: int) -> float:
    """Wall time of ``train_runs`` on the configs, into a fresh cache."""
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        ns.train_runs(configs, ns.Session(n_jobs=n_jobs, cache=cache), progress=False)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    seeds = list(range(args.seeds))
    data = ns.load_dataset(ns.DataConfig())
    model_iterations = args.iters * len(seeds)

    results = {
        f"textbook, {cores} threads": textbook(data, args.steps, args.iters, seeds, cores),
        "textbook, 1 thread": textbook(data, args.steps, args.iters, seeds, 1),
        "nodestudy, 1 process": nodestudy_trainer(args.steps, args.iters, seeds, 1),
        f"nodestudy, {cores} processes": nodestudy_trainer(args.steps, args.iters, seeds, cores),
    }
    flops = flops_per_iteration(args.steps, 128)
    peak_one, peak_all = matmul_peak(1), matmul_peak(cores)
    # the ratio is taken against the faster textbook setting
    base = min(v for k, v in results.items() if k.startswith("textbook")) / model_iterations
    rows = []
    for name, seconds in results.items():
        per = seconds / model_iterations
        rows.append(
            {
                "trainer": name,
                "ms_per_model_iteration": 1e3 * per,
                "speedup": base / per,
                "gflops": flops / per / 1e9,
            }
        )
    if args.json:
        print(
            json.dumps(
                {
                    "rows": rows,
                    "matmul_peak_1_core": peak_one,
                    f"matmul_peak_{cores}_cores": peak_all,
                    "gflop_per_iteration": flops / 1e9,
                    "args": vars(args),
                }
            )
        )
        return
    print(f"Sphere2, euler K={args.steps}, batch 128, {args.iters} iterations x {len(seeds)} seeds")
    print(
        f"arithmetic per iteration: {flops / 1e9:.3f} GFLOP; matmul peak "
        f"{peak_one:.0f} GFLOP/s on 1 core, {peak_all:.0f} on {cores}"
    )
    for row in rows:
        print(
            f"{row['trainer']:>24}: {row['ms_per_model_iteration']:7.2f} ms/model-iteration"
            f"  x{row['speedup']:5.1f}  {row['gflops']:6.1f} GFLOP/s"
        )


if __name__ == "__main__":
    main()
