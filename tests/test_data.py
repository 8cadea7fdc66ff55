import numpy as np
import pytest
import torch

from nodestudy import NodestudyError
from nodestudy.study import DataConfig, load_dataset
from nodestudy.study.data.datasets import (
    SPHERE_BANDS,
    concentric_spheres,
    potential_minima,
    settle_particles,
    three_minima,
)


@pytest.mark.parametrize("dim", [2, 3, 10])
def test_spheres_lie_in_their_bands_with_the_paper_class_shares(dim):
    x, y = concentric_spheres(2000, dim, torch.Generator().manual_seed(1))
    assert x.shape == (2000, dim) and y.shape == (2000,)
    radius = x.double().norm(dim=1)
    in_band = torch.zeros(2000, dtype=torch.bool)
    for r_min, r_max, label, _ in SPHERE_BANDS:
        band = (radius >= r_min - 1e-6) & (radius <= r_max + 1e-6)
        assert torch.all(y[band] == label)
        in_band |= band
    assert in_band.all()
    inner = (radius < 0.2).sum().item()
    outer = (radius > 0.35).sum().item()
    assert (inner, (y == 1).sum().item(), outer) == (500, 1000, 500)


def test_same_seed_same_data_other_seed_other_data():
    a = load_dataset(DataConfig(seed=3))
    b = load_dataset(DataConfig.from_name("sphere2", seed=3))
    c = load_dataset(DataConfig(seed=4))
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, c.x_train)


def test_dataset_sizes_and_state_shape():
    data = load_dataset(DataConfig(dim=3, n_train=100, n_test=40))
    assert data.x_train.shape == (100, 1, 3) and data.x_test.shape == (40, 1, 3)
    assert data.state_shape == (1, 3) and data.n_classes == 2
    # train and test points are different draws
    assert not torch.equal(data.x_train[:40], data.x_test)


def test_order_is_shuffled():
    _, y = concentric_spheres(400, 2, torch.Generator().manual_seed(0))
    assert 0 < y[:100].sum() < 100


@pytest.mark.parametrize("name", ["moons", "sphere", "cifar"])
def test_unknown_data_names_fail_clearly(name):
    with pytest.raises(NodestudyError, match="unknown data set"):
        DataConfig.from_name(name)


def test_three_minima_same_seed_same_data_other_seed_other_data():
    a, ya = three_minima(300, torch.Generator().manual_seed(5))
    b, yb = three_minima(300, torch.Generator().manual_seed(5))
    c, _ = three_minima(300, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and torch.equal(ya, yb)
    assert not torch.equal(a, c)


def test_three_minima_states_lie_in_the_paper_ranges_and_use_all_three_wells():
    x, y = three_minima(3000, torch.Generator().manual_seed(0))
    assert x.shape == (3000, 2) and y.shape == (3000,)
    assert x[:, 0].min() >= -1 and x[:, 0].max() <= 2
    assert x[:, 1].min() >= -2 and x[:, 1].max() <= 2
    shares = torch.bincount(y, minlength=3).double() / len(y)
    # every well catches a real share of the particles (about 0.34 / 0.37 / 0.29)
    assert torch.all(shares > 0.2) and torch.all(shares < 0.5)


def test_three_minima_labels_are_the_wells_the_particles_settle_in():
    minima = potential_minima()
    np.testing.assert_allclose(minima, [-0.850, 0.269, 1.839], atol=1e-3)
    # a particle at rest just beside a minimum stays in that well
    start = torch.tensor(minima, dtype=torch.float64) + 0.01
    x, v = settle_particles(start, torch.zeros(3, dtype=torch.float64), 100.0, 0.02)
    np.testing.assert_allclose(x.numpy(), minima, atol=1e-6)
    assert v.abs().max() < 1e-6


def test_three_minima_refuses_particles_that_have_not_settled():
    with pytest.raises(NodestudyError, match="not settled"):
        three_minima(200, torch.Generator().manual_seed(0), end_time=2.0)


def test_three_minima_config_and_dataset():
    config = DataConfig.from_name("three-minima", n_train=100, n_test=50)
    assert config == DataConfig(name="three_minima", n_train=100, n_test=50)
    assert config.short_name == "three_minima"
    data = load_dataset(config)
    assert data.x_train.shape == (100, 1, 2) and data.n_classes == 3
    with pytest.raises(NodestudyError, match="dim must be 2"):
        DataConfig(name="three_minima", dim=3)
