"""Small study runs, as SHA-256 digests of their bits: run by test_numerics.py in a fresh
process per numerical mode and emulated CPU (the settings must precede torch's first
operation). Prints one JSON object: name -> digest, and "numerics" -> the recorded mode.

Usage: python numerics_runs.py CACHE_DIR [alone]
"""

import hashlib
import json
import sys

import torch

import nodestudy.study  # noqa: F401  (first: it sets the numerical mode)
from nodestudy import SolverSpec
from nodestudy.study import (
    DataConfig,
    RunCache,
    Session,
    TrainConfig,
    accuracy,
    load_dataset,
    train_runs,
)
from nodestudy.study.analysis.verdicts import check_run
from nodestudy.study.config import StepAdaptation


def digest(value) -> str:
    text = json.dumps(value, sort_keys=True, default=lambda t: t.detach().numpy().tolist())
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def without_time(value):
    """``value`` without its timings, at any depth (they differ between any two runs)."""
    if isinstance(value, dict):
        return {
            k: without_time(v) for k, v in value.items() if "second" not in k and "time" not in k
        }
    if isinstance(value, list):
        return [without_time(v) for v in value]
    return value


data = DataConfig(n_train=256, n_test=128)
base = TrainConfig(data=data, solver=SolverSpec("euler", 4), iterations=20, batch_size=64)
session = Session(cache=RunCache(sys.argv[1]))
digests = {}


def train(name, configs):
    for config, run in zip(configs, train_runs(configs, session, progress=False)):
        key = f"{name} seed {config.seed}"
        digests[f"{key} weights"] = digest(run.weights())
        digests[f"{key} history"] = digest(without_time(run.history().to_dict("list")))
        digests[f"{key} metrics"] = digest(without_time(run.metrics))
        digests["numerics"] = run.metrics["numerics"]
    return run


if sys.argv[2:] == ["alone"]:
    # seed 1 alone and at several positions of ensembles of several widths
    for seeds in [(1,), (0, 1), (3, 2, 1, 0), (1, 0, 2, 3, 4, 5, 6, 7)]:
        runs = train_runs([base.replace(seed=s) for s in seeds], session, progress=False)
        run = runs[seeds.index(1)]
        history = without_time(run.history().to_dict("list"))
        digests[f"seed 1 of {seeds}"] = digest([run.weights(), history])
        session = Session(cache=RunCache(f"{sys.argv[1]}-{len(seeds)}"))
else:
    euler = train("euler", [base.replace(seed=s) for s in (0, 1)])
    train("rk4", [base.replace(solver=SolverSpec("rk4", 2))])
    train("dopri5", [base.replace(solver=SolverSpec("dopri5", tol=1e-3), iterations=8)])
    adapted = StepAdaptation.named("paper", test_method="midpoint", check_every=5)
    train("adapted", [base.replace(solver=SolverSpec("euler", 2), adaptation=adapted)])
    train("adjoint", [base.replace(iterations=10, gradient="adjoint")])
    x, y = load_dataset(data).split("test")
    model = euler.model()
    for solver in (SolverSpec("midpoint", 3), SolverSpec("dopri5", tol=1e-5)):
        digests[f"euler scored with {solver.label()}"] = digest(accuracy(model, x, y, solver))
    digests["check of euler"] = digest(without_time(check_run(euler).to_dict()))
    # a loss over 10 classes, as a user's model checked by check_ode may have: ATen's
    # log_softmax along the last dimension rounds by instruction set
    logits = torch.randn(64, 10, generator=torch.Generator().manual_seed(0))
    digests["log_softmax of 10 classes"] = digest(torch.log_softmax(logits, -1))
print(json.dumps(digests))
