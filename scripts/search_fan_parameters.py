"""How Figure 3's parameters were chosen: a random search over the fan ODE and the XOR square.

The paper gives no values for z' = [[a, 1], [-g |z|^d, b]] z. This script draws parameter sets
at random, solves 20 XOR-labelled points (4 clusters of 5) with euler at h = 10^-2.5 and
10^-3.5, and counts how often a line separates the end points at each step size. It prints the
counts and every set where the coarse end points are separable and the fine ones are not.

    .venv/bin/python scripts/search_fan_parameters.py --samples 1500 --seed 1

The README reports its output for those arguments. It takes about 15 minutes on one core.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from nodestudy.study.experiments.fan import FanODE, XorPoints, euler_trajectory, linear_separability

COARSE, FINE = 10**-2.5, 10**-3.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    counts = {"coarse_separable": 0, "fine_separable": 0, "coarse_only": 0, "fine_only": 0}
    for _ in range(args.samples):
        scale = rng.uniform(0.3, 2.0)
        centre = rng.uniform(-2.0, 2.0, 2)
        a, b = rng.uniform(-1.0, 1.0, 2)
        ode = FanODE(
            a=a,
            b=b,
            g=10 ** rng.uniform(-1, 2),
            d=int(rng.integers(0, 4)),
            end_time=10 ** rng.uniform(-0.3, 1.0),
        )
        points = XorPoints(
            centre=tuple(centre),
            half_width=scale / 2,
            spread=0.03 * scale,
            seed=int(rng.integers(2**31)),
        )
        z0, labels = points.sample()
        coarse, fine = (
            linear_separability(euler_trajectory(ode, z0, h)[-1], labels) for h in (COARSE, FINE)
        )
        counts["coarse_separable"] += coarse >= 0.99
        counts["fine_separable"] += fine >= 0.99
        counts["fine_only"] += fine >= 0.99 and not coarse >= 0.99
        if coarse >= 0.99 and fine < 0.8:
            counts["coarse_only"] += 1
            print(json.dumps({"ode": vars(ode), "points": vars(points), "fine": fine}), flush=True)
    print(json.dumps({"samples": args.samples, **{k: int(v) for k, v in counts.items()}}))


if __name__ == "__main__":
    main()
