"""The cost of the reproducible numerical mode against the fast one, in one run.

The mode is chosen when a process imports nodestudy.study, so each mode gets its own
long-lived process (one torch thread each); the two are driven in turn, one computing at
a time, so that both see the same machine. Each repeat trains, in each mode, Sphere2
(euler K=64, an ensemble of 3 seeds, batch 128), digits (euler K=8, one seed) and the
quick profile's costliest ensembles (sphere10 K=128 and mnist5k K=16), and the cost is
the process's CPU time for the whole run (training and its final scoring).
The ratio is the median over repeats of reproducible / fast:

    .venv/bin/python benchmarks/numerics_cost.py --repeats 10
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

#: job: (data set, euler K, seeds, iterations per repeat); the last two are the quick
#: profile's costliest ensembles, where the study's time goes.
JOBS = {
    "sphere2 euler K=64, 3 seeds": ("sphere2", 64, (0, 1, 2), 100),
    "digits euler K=8": ("digits", 8, (0,), 20),
    "sphere10 euler K=128, 4 seeds": ("sphere10", 128, (0, 1, 2, 3), 20),
    "mnist5k euler K=16, 3 seeds": ("mnist5k", 16, (0, 1, 2), 5),
}
PINNED = ("MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")


def serve() -> None:
    """A worker: for each line "<job> <iterations>" on stdin, train the job and print
    its CPU seconds as one JSON line."""
    import time

    import torch

    from nodestudy import SolverSpec
    from nodestudy.study import DataConfig, TrainConfig
    from nodestudy.study.runtime import numerics
    from nodestudy.study.training.train import train_ensemble

    torch.set_num_threads(1)
    print(json.dumps(numerics.record()), flush=True)
    for line in sys.stdin:
        job, iterations = line.rsplit(" ", 1)
        data, steps, seeds, _ = JOBS[job]
        configs = [
            TrainConfig(DataConfig.from_name(data), SolverSpec("euler", steps), seed=seed)
            for seed in seeds
        ]
        configs = [config.replace(iterations=int(iterations)) for config in configs]
        started = time.process_time()
        train_ensemble(configs, progress=False)
        print(json.dumps(time.process_time() - started), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply every job's iterations by this"
    )
    args = parser.parse_args()
    workers, recorded = {}, {}
    for mode in ("fast", "reproducible"):
        env = {k: v for k, v in os.environ.items() if k not in PINNED}
        env.update({"NODESTUDY_NUMERICS": mode, "OMP_NUM_THREADS": "1"})
        workers[mode] = subprocess.Popen(
            [sys.executable, __file__, "--serve"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        recorded[mode] = json.loads(workers[mode].stdout.readline())
    seconds = {mode: {job: [] for job in JOBS} for mode in workers}
    for repeat in range(args.repeats):
        for job, (*_, iterations) in JOBS.items():
            iterations = max(1, round(iterations * args.scale))
            order = list(workers) if repeat % 2 == 0 else list(workers)[::-1]
            for mode in order:
                workers[mode].stdin.write(f"{job} {iterations}\n")
                workers[mode].stdin.flush()
                seconds[mode][job].append(json.loads(workers[mode].stdout.readline()))
    for worker in workers.values():
        worker.stdin.close()
        worker.wait()
    print(f"modes: {json.dumps(recorded)}")
    print(
        f"{args.repeats} repeats; CPU seconds per run (median); ratio: median of per-repeat ratios"
    )
    print("| run | fast | reproducible | reproducible / fast |")
    print("| --- | --- | --- | --- |")
    for job in JOBS:
        fast, pinned = seconds["fast"][job], seconds["reproducible"][job]
        ratio = statistics.median(p / f for p, f in zip(pinned, fast))
        print(
            f"| {job} | {statistics.median(fast):.2f} s | {statistics.median(pinned):.2f} s "
            f"| {ratio:.2f} |"
        )


if __name__ == "__main__":
    serve() if sys.argv[1:] == ["--serve"] else main()
