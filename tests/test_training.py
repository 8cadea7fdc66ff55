import json

import pytest
import torch
from study_helpers import SMALL_DATA, config

from nodestudy import NodestudyError, SolverSpec
from nodestudy.core.integrate import solve, solve_adjoint
from nodestudy.study import RunCache, accuracy, load_dataset
from nodestudy.study.data.datasets import EpochBatches
from nodestudy.study.models import ODEClassifier
from nodestudy.study.training.sweep import train_runs
from nodestudy.study.training.train import train_ensemble


def test_short_training_lowers_the_loss():
    (member,) = train_ensemble([config(iterations=300, learning_rate=1e-3)], progress=False)
    loss = member.history["loss"]
    assert loss[-50:].mean() < 0.8 * loss[:50].mean()


def test_ensemble_training_equals_training_each_seed_alone():
    seeds = [0, 1, 2]
    together = train_ensemble([config(steps=3, seed=s) for s in seeds], progress=False)
    for seed, member in zip(seeds, together):
        (alone,) = train_ensemble([config(steps=3, seed=seed)], progress=False)
        for name, weight in member.weights.items():
            torch.testing.assert_close(weight, alone.weights[name], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(
            torch.tensor(member.history["loss"].to_numpy()),
            torch.tensor(alone.history["loss"].to_numpy()),
            rtol=1e-4,
            atol=1e-5,
        )


def test_same_seed_same_model_other_seed_other_model():
    a, b = (train_ensemble([config(seed=5)], progress=False)[0] for _ in range(2))
    (c,) = train_ensemble([config(seed=6)], progress=False)
    assert all(torch.equal(a.weights[n], b.weights[n]) for n in a.weights)
    assert not torch.equal(a.weights["w2"], c.weights["w2"])


def test_history_records_every_iteration_with_its_evaluations():
    (member,) = train_ensemble([config(steps=3, iterations=12, method="midpoint")], progress=False)
    history = member.history
    assert list(history.iteration) == list(range(1, 13))
    assert (history.nfe_forward == 6).all() and (history.steps == 3).all()
    assert history.batch_accuracy.between(0, 1).all()
    assert member.metrics["nfe_forward"] == 6


def test_batches_cover_every_point_once_per_epoch():
    batches = EpochBatches(10, 4, [torch.Generator().manual_seed(0)])
    epoch = torch.cat([batches.next() for _ in range(3)], dim=1)
    assert [b for b in epoch.shape] == [1, 10]
    assert sorted(epoch[0].tolist()) == list(range(10))


def test_evaluating_with_the_training_solver_reproduces_the_recorded_accuracy(cache_dir):
    (run,) = train_runs([config(steps=4, iterations=40)], progress=False)
    data = load_dataset(run.config.data)
    again = accuracy(run.model(), data.x_test, data.y_test, run.config.solver)
    assert again.item() == pytest.approx(run.metrics["test_accuracy"], abs=1e-6)
    # accuracy is correct / total over the whole set, so a multiple of 1/128 here
    assert (run.metrics["test_accuracy"] * 128) == pytest.approx(
        round(run.metrics["test_accuracy"] * 128), abs=1e-3
    )


def test_a_diverging_run_is_stored_as_diverged_not_lost(cache_dir):
    runs = train_runs([config(iterations=60, learning_rate=1e30)], progress=False)
    (run,) = runs
    assert run.diverged
    assert 1 <= run.metrics["diverged_at_iteration"] <= 60
    assert run.metrics["test_accuracy"] is None  # strict JSON: no bare NaN in metrics.json
    assert run.metrics["diverged_reason"] == "non-finite loss"
    json.loads((run.directory / "metrics.json").read_text(), parse_constant=_no_constants)
    assert RunCache().get(run.config) is not None


def _loss_gradient(model, x, y, spec, integrate):
    model.zero_grad()
    solution = integrate(model.vector_field(), model.flatten_inputs(x), spec)
    logits = model.classify(solution.final)
    torch.nn.functional.cross_entropy(logits[0], y).backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()]), solution


def test_adjoint_gradient_converges_to_backpropagation_with_the_step_count():
    """The adjoint gradient differs from backpropagation's by the solver's error: it
    shrinks as K grows (first order for euler), and the backward pass of the adjoint
    solve evaluates the field once per stage and step."""
    data = load_dataset(SMALL_DATA)
    model = ODEClassifier.initialised([0], data.state_shape, 32, data.n_classes)
    x, y = data.x_train[:64], data.y_train[:64]

    def relative_error(spec):
        backprop, _ = _loss_gradient(model, x, y, spec, solve)
        adjoint, solution = _loss_gradient(model, x, y, spec, solve_adjoint)
        assert solution.nfe == solution.nfe_backward() == spec.nfe
        return float((adjoint - backprop).norm() / backprop.norm())

    coarse, fine = relative_error(SolverSpec("euler", 8)), relative_error(SolverSpec("euler", 64))
    assert fine < coarse / 4 and fine < 0.02
    assert relative_error(SolverSpec("rk4", 32)) < 1e-3


def test_adjoint_training_records_its_backward_evaluations():
    (member,) = train_ensemble([config(steps=3, method="rk4", gradient="adjoint")], progress=False)
    assert member.metrics["nfe_forward"] == member.metrics["nfe_backward"] == 12
    assert member.config.to_dict()["gradient"] == "adjoint"
    # backpropagation is the default and stays out of the key of existing runs
    assert "gradient" not in config().to_dict()
    with pytest.raises(NodestudyError, match="unknown gradient"):
        config(gradient="reverse")


def _no_constants(name):
    raise AssertionError(f"metrics.json holds {name}, which strict JSON does not allow")
