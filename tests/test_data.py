import pytest
import torch

from nodestudy import DataConfig, NodestudyError, load_dataset
from nodestudy.data import SPHERE_BANDS, concentric_spheres


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
