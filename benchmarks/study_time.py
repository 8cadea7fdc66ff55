"""Where the study's training time goes: per notebook and data set, the runs of a profile
and the process-seconds their training took, as recorded in the run cache.

Every stored run records ``train_seconds``: its ensemble's training wall time divided by
the ensemble's width, so the runs of a group add up to what the group cost one process.
Runs shared by notebooks are counted
once, under the first notebook that asks for them (``make figures`` order). Runs not in
the cache are counted as missing.

    NODESTUDY_CACHE=.cache/runs .venv/bin/python benchmarks/study_time.py --profile quick
"""

from __future__ import annotations

import argparse

import pandas as pd

from nodestudy.study import RunCache
from nodestudy.study.experiments.plan import study_configs

NOTEBOOKS = (
    "adjoint",
    "collapse_datasets",
    "image_adaptation",
    "image_collapse",
    "sphere_adaptation",
    "sphere_collapse",
    "sphere_fine_vs_coarse",
)


def training_table(profile: str) -> pd.DataFrame:
    cache, seen, rows = RunCache(), set(), []
    for notebook in NOTEBOOKS:
        for config in study_configs(profile, [notebook]):
            if config in seen:
                continue
            seen.add(config)
            run = cache.get(config)
            rows.append(
                {
                    "notebook": notebook,
                    "data": config.data.short_name,
                    "kind": "adapted" if config.adaptation else config.solver.method,
                    "cached": run is not None,
                    # a run's share of its ensemble's wall time (width x share = the group's)
                    "process_seconds": run.metrics["train_seconds"] if run else float("nan"),
                }
            )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    args = parser.parse_args()
    table = training_table(args.profile)
    summary = table.groupby(["notebook", "data", "kind"]).agg(
        runs=("cached", "size"),
        missing=("cached", lambda c: int((~c).sum())),
        process_minutes=("process_seconds", lambda s: s.sum() / 60),
    )
    pd.set_option("display.width", 120)
    print(summary.round(1).to_string())
    total = table.process_seconds.sum() / 60
    print(
        f"\n{len(table)} runs, {int((~table.cached).sum())} missing; training took "
        f"{total:.0f} process-minutes ({total / 2:.0f} minutes on 2 busy cores)"
    )


if __name__ == "__main__":
    main()
