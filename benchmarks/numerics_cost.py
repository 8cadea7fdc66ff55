"""The cost of the reproducible numerical mode against the fast one, in one run.

The mode is chosen when a process imports nodestudy.study, so each mode gets its own
long-lived process (one torch thread each); the two are driven in turn, one computing at
a time, so that both see the same machine. Each repeat trains, in each mode, Sphere2
(euler K=64, an ensemble of 3 seeds, batch 128), digits (euler K=8, one seed) and the
quick profile's costliest ensembles (sphere10 K=128 and mnist5k K=16), and the cost is
the process's CPU time for the whole run (training and its final scoring).
The ratio is the median over repeats of each mode / fast:

    .venv/bin/python benchmarks/numerics_cost.py --repeats 10 [--modes fast reproducible]

With ``--json figures/numerics_cost.json`` the table is also written there, as this CPU's
entry (other CPUs' entries are kept), for the documents to quote.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

#: job: (data set, euler K, seeds, iterations per repeat, hidden channels as the quick
#: profile has them); the last two are the quick profile's costliest ensembles, where
#: the study's time goes.
JOBS = {
    "sphere2 euler K=64, 3 seeds": ("sphere2", 64, (0, 1, 2), 100, 32),
    "digits euler K=8": ("digits", 8, (0,), 20, 8),
    "sphere10 euler K=128, 4 seeds": ("sphere10", 128, (0, 1, 2, 3), 20, 32),
    "mnist5k euler K=16, 3 seeds": ("mnist5k", 16, (0, 1, 2), 5, 8),
}
PINNED = ("MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")


def serve() -> None:
    """A worker: for each line "<job> <iterations>" on stdin, train the job and print
    its CPU seconds as one JSON line."""
    import time

    import torch

    from nodestudy import SolverSpec
    from nodestudy.study import DataConfig, ModelConfig, TrainConfig
    from nodestudy.study.runtime import numerics
    from nodestudy.study.training.train import train_ensemble

    torch.set_num_threads(1)
    print(json.dumps(numerics.record()), flush=True)
    for line in sys.stdin:
        job, iterations = line.rsplit(" ", 1)
        data, steps, seeds, _, hidden = JOBS[job]
        configs = [
            TrainConfig(
                DataConfig.from_name(data),
                SolverSpec("euler", steps),
                ModelConfig(hidden_channels=hidden),
                seed=seed,
            )
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
    parser.add_argument("--json", help="write the table as this CPU's entry of this file")
    parser.add_argument(
        "--modes", nargs="+", default=["fast", "reproducible"], help="fast first: the baseline"
    )
    args = parser.parse_args()
    workers, recorded = {}, {}
    for mode in dict.fromkeys(["fast", *args.modes]):
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
        for job, (*_, iterations, _) in JOBS.items():
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
    pinned_modes = [mode for mode in workers if mode != "fast"]
    rows = [
        {
            "run": job,
            "data": JOBS[job][0],
            **{f"{mode}_seconds": statistics.median(seconds[mode][job]) for mode in workers},
            **{
                f"{mode}_ratio": statistics.median(
                    p / f for p, f in zip(seconds[mode][job], seconds["fast"][job])
                )
                for mode in pinned_modes
            },
        }
        for job in JOBS
    ]
    if args.json:
        write_entry(args.json, recorded, rows, args.repeats, args.scale)
    header = ["run", *workers, *(f"{mode} / fast" for mode in pinned_modes)]
    print(f"| {' | '.join(header)} |")
    print("| --- " * (2 + 2 * len(pinned_modes)) + "|")
    for row in rows:
        times = [f"{row[f'{mode}_seconds']:.2f} s" for mode in workers]
        ratios = [f"{row[f'{mode}_ratio']:.2f}" for mode in pinned_modes]
        print(f"| {row['run']} | {' | '.join(times)} | {' | '.join(ratios)} |")


def cpu_name() -> str:
    """The CPU's model name (/proc/cpuinfo), else what platform says."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_entry(path: str, recorded: dict, rows: list, repeats: int, scale: float) -> None:
    """This CPU vendor's entry of the JSON file at ``path``, beside the other vendors'."""
    numbers = {}
    if os.path.exists(path):
        with open(path) as file:
            numbers = json.load(file)
    vendor = next(iter(recorded.values())).get("cpu_vendor") or platform.machine()
    numbers.setdefault("by_cpu_vendor", {})[vendor] = {
        "cpu": f"{cpu_name()}, {os.cpu_count()} cores",
        "modes": recorded,
        "repeats": repeats,
        "scale": scale,
        "runs": rows,
    }
    with open(path, "w") as file:
        json.dump(numbers, file, indent=1)
        file.write("\n")


if __name__ == "__main__":
    serve() if sys.argv[1:] == ["--serve"] else main()
