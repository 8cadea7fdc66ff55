"""Would a *ragged* ensemble pay? A prototype, measured before building it into the
trainer: the study-shaped sweep (Sphere2, euler K = 1, 2, ... 64, 3 seeds; one batch of
128) as one solve that holds all 21 members, each stepping with its own h = 1/K and
leaving the solve when its K steps are done (members sorted by K, the active ones a
prefix), with one Adam step; against today's seven 3-member ensembles, each with its
own solve and Adam step. One thread, forward, backward and optimiser step; no data
gathering, history or evaluation (the same for both).

    .venv/bin/python benchmarks/ragged_prototype.py [--repeats 100]
"""

from __future__ import annotations

import argparse
import time

import torch

from nodestudy.study import ODEClassifier

KS = (1, 2, 4, 8, 16, 32, 64)
SEEDS = (0, 1, 2)


def separate_ensembles(batch: torch.Tensor):
    models = {k: ODEClassifier.initialised(list(SEEDS), (1, 2), 32, 2) for k in KS}
    optimisers = {k: torch.optim.Adam(models[k].parameters(), 1e-4) for k in KS}

    def iteration() -> None:
        for k in KS:
            model = models[k]
            field = model.vector_field(form="dense")
            z = batch.expand(len(SEEDS), -1, -1)
            for _ in range(k):
                z = z + (1.0 / k) * field(None, z)
            loss = model.classify(z).sum()
            optimisers[k].zero_grad()
            loss.backward()
            optimisers[k].step()

    return iteration


def ragged_ensemble(batch: torch.Tensor):
    steps = sorted((k for k in KS for _ in SEEDS), reverse=True)
    model = ODEClassifier.initialised([s for _ in KS for s in SEEDS], (1, 2), 32, 2)
    optimiser = torch.optim.Adam(model.parameters(), 1e-4)
    counts = torch.tensor(steps, dtype=torch.float32)
    h = (1.0 / counts)[:, None, None]
    active_at = [int((counts > j).sum()) for j in range(max(KS))]

    def iteration() -> None:
        m1, m2, m3, b1, b2, b3 = model.vector_field(form="dense").tensors
        z = batch.expand(len(steps), -1, -1)
        finished = []
        for a in active_at:
            if a < len(z):  # the members whose K steps are done leave the solve
                finished.append(z[a:])
                z = z[:a]
            hidden = torch.relu(torch.baddbmm(b1[:a], z, m1[:a]))
            hidden = torch.relu(torch.baddbmm(b2[:a], hidden, m2[:a]))
            z = z + h[:a] * torch.baddbmm(b3[:a], hidden, m3[:a])
        final = torch.cat([z, *finished[::-1]])
        loss = model.classify(final).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    return iteration


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    batch = torch.randn(128, 2)
    for name, make in (("7 ensembles of 3", separate_ensembles), ("ragged, 21", ragged_ensemble)):
        iteration = make(batch)
        for _ in range(5):
            iteration()
        start = time.perf_counter()
        for _ in range(args.repeats):
            iteration()
        per = (time.perf_counter() - start) / args.repeats
        print(f"{name:>16}: {1e3 * per:6.2f} ms per sweep-iteration", flush=True)


if __name__ == "__main__":
    main()
