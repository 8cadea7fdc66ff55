"""The study-shaped sweep against the textbook loop: Sphere2, euler K = 1, 2, 4, ... 64,
3 seeds, a few hundred iterations, one thread, in one run (the speed issue's measure).

A sweep is many small configurations, so per-iteration overhead at small K weighs as
much as arithmetic at large K; the 10-wide benchmark of ``train_speed.py`` hides that.

    .venv/bin/python benchmarks/sweep_speed.py [--iters 150] [--largest 64] [--seeds 3]
"""

from __future__ import annotations

import argparse

import torch
from train_speed import seconds_to_train, textbook

import nodestudy.study as ns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=150)
    parser.add_argument("--largest", type=int, default=64)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    ks = [2**i for i in range(args.largest.bit_length()) if 2**i <= args.largest]
    seeds = list(range(args.seeds))
    data = ns.load_dataset(ns.DataConfig())
    rows = []
    for k in ks:
        plain = textbook(data, k, args.iters, seeds, threads=1)
        configs = [
            ns.TrainConfig(
                ns.DataConfig(), ns.SolverSpec("euler", k), iterations=args.iters, seed=s
            )
            for s in seeds
        ]
        ours = seconds_to_train(configs, n_jobs=1)
        rows.append((k, plain, ours))
        per = 1e3 / (args.iters * len(seeds))
        print(
            f"K={k:>3}: textbook {plain * per:6.2f} ms, nodestudy {ours * per:6.2f} ms "
            f"per model-iteration (x{plain / ours:4.1f})",
            flush=True,
        )
    plain = sum(r[1] for r in rows)
    ours = sum(r[2] for r in rows)
    print(
        f"sweep K = {ks[0]}...{ks[-1]}, {len(seeds)} seeds, {args.iters} iterations, one thread: "
        f"textbook {plain:.1f} s, nodestudy {ours:.1f} s: x{plain / ours:.1f}"
    )


if __name__ == "__main__":
    main()
