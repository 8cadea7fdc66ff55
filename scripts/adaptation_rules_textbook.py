"""Why the paper's adaptation rule ends too coarse on the textbook rings model, taken apart.

``check_your_model`` trains the textbook model (torchdiffeq in a plain loop, nothing from
nodestudy but the adapter) with the paper's rule and with the variants of
:data:`nodestudy.core.adaptation.rules.NAMED_RULES`. This script trains each variant on
several seeds and checks every final model with ``check_ode`` on held-out points, changing one
thing at a time from the paper's rule:

- how often it checks (``check_every`` 50 -> 10),
- how far apart the two solvers may be (``threshold`` 0.1 -> 0.03),
- where it checks (the training batch -> a fixed probe set: ``probe``),
- how it decides (a difference above the threshold -> a paired interval: ``paired``),
- what it compares (the accuracies -> the predictions, the share of points whose class
  changes: ``flips``; and ``flips`` on the batch, without a probe set),
- and the burden of proof (``strict``).

    .venv/bin/python scripts/adaptation_rules_textbook.py --seeds 0 1 2 \
        --out figures/adaptation_rules_textbook.json

It prints one row per (variant, seed) and a summary per variant, and writes both as JSON
(the documents quote it; ``--from-csv ROWS.csv`` rewrites the JSON from rows an earlier run
saved with ``--csv``). About 25 minutes on one core with other work running.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
import torch

from nodestudy import StepAdaptation, StepSizeAdapter, check_ode
from nodestudy.study.experiments.textbook import rings, train_textbook
from nodestudy.study.profiles.textbook import textbook_study

#: (name, the named rule, overrides, whether the rule checks on the probe set)
VARIANTS = (
    ("paper", "paper", {}, False),
    ("paper, check every 10", "paper", {"check_every": 10}, False),
    ("paper, threshold 0.03", "paper", {"threshold": 0.03}, False),
    ("probe", "probe", {}, True),
    ("paired", "paired", {}, True),
    ("flips on the batch", "flips", {"probe_size": None}, False),
    ("flips", "flips", {}, True),
    ("strict", "strict", {}, True),
)


def one_run(seed: int, name: str, rule_name: str, overrides: dict, probed: bool) -> dict:
    study = textbook_study("quick", seed=seed)
    x, y = rings(study.n_train, seed)
    x_test, y_test = rings(study.n_test, seed + 1)
    probe = rings(study.probe_size, seed + 2) if probed else None
    overrides = {**overrides, **({"probe_size": study.probe_size} if probed else {})}
    rule = StepAdaptation.named(rule_name, **overrides)
    adapter = StepSizeAdapter("euler", rule, probe=probe)
    model = train_textbook(
        x,
        y,
        method="euler",
        adapter=adapter,
        iterations=study.adapt_iterations,
        learning_rate=study.adapt_learning_rate,
        seed=seed,
    )
    check = check_ode(
        model.func, x_test, y_test, head=model.head, method="euler", options=model.options
    )
    decisions = adapter.history["decision"]
    return {
        "variant": name,
        "seed": seed,
        "final_steps": check.training.steps,
        "nfe_per_iteration": round(model.nfe_per_iteration, 1),
        "shrinks": int((decisions == "shrink").sum()),
        "grows": int((decisions == "grow").sum()),
        "accuracy": check.row("training")["accuracy"],
        "reference_accuracy": check.row("reference")["accuracy"],
        "drop": round(check.estimate.value, 3),
        "drop_low": round(check.estimate.low, 3),
        "drop_high": round(check.estimate.high, 3),
        "verdict": check.verdict,
        "train_seconds": round(model.train_seconds, 1),
    }


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    return table.groupby("variant", sort=False).agg(
        final_steps=("final_steps", lambda s: ", ".join(map(str, s))),
        worst_drop=("drop", "max"),
        valid=("verdict", lambda s: int((s == "valid").sum())),
        models=("verdict", "size"),
        nfe_per_iteration=("nfe_per_iteration", "mean"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", help="write the rows and the summary to this JSON file")
    parser.add_argument("--csv", help="write the rows to this CSV file too")
    parser.add_argument("--from-csv", help="train nothing: summarise the rows of this CSV")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started, rows = time.perf_counter(), []
    if args.from_csv:
        rows = pd.read_csv(args.from_csv).to_dict(orient="records")
    for name, rule_name, overrides, probed in () if args.from_csv else VARIANTS:
        for seed in args.seeds:
            rows.append(one_run(seed, name, rule_name, overrides, probed))
            print(pd.DataFrame([rows[-1]]).to_string(index=False, header=len(rows) == 1),
                  flush=True)  # fmt: skip
    table = pd.DataFrame(rows)
    summary = summarise(table)
    if args.csv:
        table.to_csv(args.csv, index=False)
    if args.out:
        numbers = {
            "profile": "quick",
            "seeds": sorted(table.seed.unique().tolist()),
            "models": table.to_dict(orient="records"),
            "summary": summary.reset_index().to_dict(orient="records"),
        }
        Path(args.out).write_text(json.dumps(numbers, indent=1) + "\n")
    print(f"\n{summary.to_string()}\n\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
