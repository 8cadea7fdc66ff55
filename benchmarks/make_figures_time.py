"""Where a whole `make figures` spends its time, and whether both cores stay busy.

Runs a command (default ``make figures``) in a directory (a fresh clone, for a cold
start), timestamps every line it prints, and samples the machine's CPU use from
``/proc/stat`` every few seconds. At the end it prints each stage's wall time and the
cores it kept busy on average: creating ``.venv/``, the training pass
(``train-study``), the notebooks, and the results tables, and each notebook's own wall
time as ``nodestudy.study.cli.run_notebook`` reports it. The command's output goes to a log.

    .venv/bin/python benchmarks/make_figures_time.py CLONE [--log make.log] [-- make figures]

Linux only (``/proc/stat``). Other work on the machine counts as busy too: run it alone.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

#: The line that starts each stage, in order (the first stage starts with the command).
STAGE_MARKERS = (
    ("training pass", re.compile(r"-m nodestudy train-study")),
    ("notebooks", re.compile(r"run_notebook|: running$")),
    ("results tables", re.compile(r"-m nodestudy\.study\.figures\.results_tables")),
)
NOTEBOOK_DONE = re.compile(r"\] (\S+): done in (.+)$")


def busy_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of all cores so far, in jiffies."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return sum(fields) - idle, sum(fields)


def sample(samples: list, stop: threading.Event, every: float) -> None:
    while not stop.is_set():
        samples.append((time.time(), *busy_jiffies()))
        stop.wait(every)


def busy_cores(samples: list, start: float, end: float, cores: int) -> float:
    """Mean number of busy cores between two times, from the nearest samples."""
    inside = [s for s in samples if start <= s[0] <= end]
    if len(inside) < 2:
        return float("nan")
    (_, busy0, total0), (_, busy1, total1) = inside[0], inside[-1]
    return cores * (busy1 - busy0) / max(total1 - total0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clone", type=Path)
    parser.add_argument("--log", type=Path, default=Path("make_figures.log"))
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    args.command = argv[split + 1 :] or ["make", "figures"]
    cores = os.cpu_count() or 1

    samples: list = []
    stop = threading.Event()
    sampler = threading.Thread(target=sample, args=(samples, stop, args.every), daemon=True)
    sampler.start()
    started = time.time()
    stages = [("creating .venv/", started)]
    notebooks = []
    with args.log.open("w") as log:
        output = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
        process = subprocess.Popen(args.command, cwd=args.clone, **output)
        for line in process.stdout:
            log.write(line)
            log.flush()
            text = line.strip()
            for name, marker in STAGE_MARKERS:
                if marker.search(text) and name not in [s[0] for s in stages]:
                    stages.append((name, time.time()))
            if done := NOTEBOOK_DONE.search(text):
                notebooks.append(done.groups())
        returncode = process.wait()
    ended = time.time()
    stop.set()
    sampler.join()

    print(f"{' '.join(args.command)} in {args.clone}: exit {returncode}, {cores} cores")
    bounds = [*stages, ("end", ended)]
    for (name, start), (_, end) in itertools.pairwise(bounds):
        print(
            f"  {name:<16} {(end - start) / 60:6.1f} min, "
            f"{busy_cores(samples, start, end, cores):.2f} cores busy"
        )
    print(f"  {'all':<16} {(ended - started) / 60:6.1f} min")
    for name, wall in notebooks:
        print(f"    {name}: {wall}")


if __name__ == "__main__":
    main()
