"""How far one figure's accuracies move from one machine's numerical path to another's.

The committed figures were computed in one numerical mode on one CPU (their runs record
which). Another machine that cannot take the same path (a CPU of another vendor, where
MKL offers no AVX2 branch) computes other bits, and training turns them into other
models. This script compares the committed accuracy table of a figure with the same
table regenerated elsewhere (``make figures NOTEBOOKS=... `` into another clone), row by
row (the same run config and test solver), and the critical steps both JSON files state:

    .venv/bin/python scripts/compare_machines.py OTHER_CLONE/figures fig4_sphere2 \
        --label "AMD EPYC, compatible mode" --out figures/numerics_machines.json

The result is written as one entry of ``--out`` (other entries are kept), for the
documents to quote.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path

KEY = ("data", "train_method", "train_steps", "train_tol", "seed", "gradient", "adapted")
TEST = ("test_method", "test_steps", "test_tol")


def accuracies(path: Path) -> dict[tuple, float]:
    with path.open() as file:
        return {
            tuple(row[c] for c in (*KEY, *TEST)): float(row["accuracy"])
            for row in csv.DictReader(file)
        }


def compare(committed_dir: Path, other_dir: Path, figure: str) -> dict:
    """The rows both tables hold, how many differ, by how much, and the critical steps."""
    committed = accuracies(committed_dir / f"{figure}_accuracy.csv")
    other = accuracies(other_dir / f"{figure}_accuracy.csv")
    shared = sorted(committed.keys() & other.keys())
    if not shared:
        raise SystemExit(f"{figure}: the two accuracy tables share no row")
    differences = [abs(committed[k] - other[k]) for k in shared]
    differing = [d for d in differences if d > 0]
    largest = max(shared, key=lambda k: abs(committed[k] - other[k]))
    own = [k for k in shared if (k[1], k[2]) == (k[7], k[8])]  # tested with its own solver
    numbers = {
        name: json.loads((d / f"{figure}.json").read_text())
        for name, d in (("committed", committed_dir), ("other", other_dir))
    }
    return {
        "figure": figure,
        "rows": len(shared),
        "rows_differing": len(differing),
        "median_difference": statistics.median(differences),
        "median_difference_of_differing": statistics.median(differing) if differing else 0.0,
        "largest_difference": abs(committed[largest] - other[largest]),
        "largest_at": dict(zip((*KEY, *TEST), largest)),
        "own_solver_rows": len(own),
        "own_solver_largest_difference": max(
            (abs(committed[k] - other[k]) for k in own), default=0.0
        ),
        "committed_numerics": numbers["committed"].get("numerics"),
        "other_numerics": numbers["other"].get("numerics"),
        "critical": {
            name: {
                f"{c['data']} {c['train_method']}": c.get("critical_steps")
                for c in figure_numbers.get("critical", [])
            }
            for name, figure_numbers in numbers.items()
        },
        "per_seed_critical_steps": {
            name: {
                f"{c['data']} {c['train_method']}": c.get("per_seed_critical_steps")
                for c in figure_numbers.get("critical", [])
            }
            for name, figure_numbers in numbers.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="the other machine's figures directory")
    parser.add_argument("figure", help="the figure's stem, e.g. fig4_sphere2")
    parser.add_argument("--label", required=True, help="the other machine and mode, in words")
    parser.add_argument("--committed", type=Path, default=Path("figures"))
    parser.add_argument("--out", type=Path, default=Path("figures/numerics_machines.json"))
    args = parser.parse_args()
    entry = {"label": args.label, **compare(args.committed, args.other, args.figure)}
    numbers = json.loads(args.out.read_text()) if args.out.exists() else {}
    numbers.setdefault("comparisons", {})[f"{args.figure}, {args.label}"] = entry
    args.out.write_text(json.dumps(numbers, indent=1) + "\n")
    print(json.dumps(entry, indent=1))


if __name__ == "__main__":
    main()
