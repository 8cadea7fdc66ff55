"""Image data: digits offline, MNIST and CIFAR10 from small files written here in the
real formats, and the 2-D convolutional vector field."""

import struct

import numpy as np
import pytest
import torch
from study_helpers import fake_cifar10, fake_mnist, write_idx

from nodestudy import NodestudyError, SolverSpec
from nodestudy.study import DataConfig, TrainConfig, load_dataset
from nodestudy.study.data.images import (
    digits,
    load_cifar10,
    load_mnist,
    read_idx,
)
from nodestudy.study.models import ODEClassifier
from nodestudy.study.training.train import train_ensemble


@pytest.mark.parametrize("gz", [False, True])
def test_idx_files_round_trip(tmp_path, gz):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, array, gz=gz)
    np.testing.assert_array_equal(read_idx(path), array)


def test_idx_reader_rejects_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x02ab")
    with pytest.raises(NodestudyError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 5) + b"ab")
    with pytest.raises(NodestudyError, match="promises"):
        read_idx(tmp_path / "short")


def test_mnist_from_idx_files(tmp_path):
    x_train, y_train, x_test, y_test = load_mnist(fake_mnist(tmp_path))
    assert y_test.shape == (20,)
    assert x_train.shape == (40, 1, 28, 28) and x_test.shape == (20, 1, 28, 28)
    assert x_train.dtype == torch.float32 and x_train.min() >= 0 and x_train.max() <= 1
    assert y_train.dtype == torch.long and y_train[:12].tolist() == [*range(10), 0, 1]


def test_cifar10_from_pickle_batches(tmp_path):
    x_train, y_train, x_test, y_test = load_cifar10(fake_cifar10(tmp_path))
    assert y_test.shape == (8,)
    assert x_train.shape == (40, 3, 32, 32) and x_test.shape == (8, 3, 32, 32)
    assert y_train.shape == (40,) and int(y_train.max()) < 10


@pytest.mark.parametrize(
    ("loader", "names"),
    [
        (load_mnist, ["train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]),
        (load_cifar10, ["data_batch_1", "test_batch"]),
    ],
)
def test_missing_files_name_what_is_expected_and_where_it_comes_from(tmp_path, loader, names):
    with pytest.raises(NodestudyError) as error:
        loader(tmp_path)
    message = str(error.value)
    assert str(tmp_path) in message and "NODESTUDY_DATA" in message and "http" in message
    for name in names:
        assert name in message


def test_missing_files_through_a_config_fail_before_training(tmp_path, monkeypatch):
    monkeypatch.setenv("NODESTUDY_DATA", str(tmp_path))
    # the config records which files it reads, so it cannot even be made without them
    with pytest.raises(NodestudyError, match="CIFAR10 files not found"):
        DataConfig.from_name("cifar10", n_train=9)


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_image_benchmarks_train_end_to_end_on_small_files(tmp_path, monkeypatch, name):
    (fake_mnist if name == "mnist" else fake_cifar10)(tmp_path)
    monkeypatch.setenv("NODESTUDY_DATA", str(tmp_path))
    data_config = DataConfig.from_name(name, n_train=16, n_test=8, seed=7)
    data = load_dataset(data_config)
    assert len(data.y_train) == 16 and data.n_classes == 10
    config = TrainConfig(data_config, SolverSpec("euler", 2), iterations=3, batch_size=8, seed=0)
    (member,) = train_ensemble([config], progress=False)
    assert member.metrics["nfe_forward"] == 2 and 0 <= member.metrics["test_accuracy"] <= 1
    channels = 1 if name == "mnist" else 3
    assert member.weights["w2"].shape == (32, 32, 3, 3)
    assert member.weights["head_weight"].shape == (10, channels * data.x_train[0, 0].numel())


def test_digits_split_is_seeded_and_disjoint():
    a = digits(1297, 500, torch.Generator().manual_seed(0))
    b = digits(1297, 500, torch.Generator().manual_seed(0))
    c = digits(1297, 500, torch.Generator().manual_seed(1))
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not torch.equal(a[0], c[0])
    x_train, y_train, x_test, _ = a
    assert x_train.shape == (1297, 1, 8, 8) and x_test.shape == (500, 1, 8, 8)
    assert x_train.min() == 0 and x_train.max() == 1
    assert set(y_train.tolist()) == set(range(10))
    # no image is in both splits (digits has a few exact duplicates, so compare counts)
    flat = torch.cat([x_train, x_test]).flatten(1)
    assert len(torch.unique(flat, dim=0)) >= 1797 - 10
    with pytest.raises(NodestudyError, match="too many"):
        digits(1500, 500, torch.Generator())


def test_digits_config_defaults():
    config = DataConfig.from_name("digits")
    assert (config.n_train, config.n_test) == (1297, 500) and config.short_name == "digits"
    assert load_dataset(config).state_shape == (1, 8, 8)


def test_image_vector_field_is_the_papers_conv2d_stack_for_every_member():
    model = ODEClassifier.initialised([0, 1], (3, 5, 6), hidden_channels=4, n_classes=10)
    z = torch.randn(2, 7, 3 * 5 * 6)
    out = model.vector_field()(None, z)
    for member in range(2):
        w = model.member_state(member)
        x = z[member].reshape(7, 3, 5, 6)
        x = torch.relu(torch.nn.functional.conv2d(x, w["w1"], w["b1"]))
        x = torch.relu(torch.nn.functional.conv2d(x, w["w2"], w["b2"], padding=1))
        x = torch.nn.functional.conv2d(x, w["w3"], w["b3"])
        torch.testing.assert_close(out[member], x.reshape(7, -1), rtol=1e-5, atol=1e-5)


def test_changing_the_data_directory_in_a_running_kernel_never_returns_the_old_data(
    tmp_path, monkeypatch
):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    fake_mnist(first, n_train=40)
    fake_mnist(second, n_train=50)
    # a config without a fingerprint: only the directory tells the two apart
    config = DataConfig(name="mnist", n_train=16, n_test=8)
    monkeypatch.setenv("NODESTUDY_DATA", str(first))
    before = load_dataset(config)
    monkeypatch.setenv("NODESTUDY_DATA", str(second))
    after = load_dataset(config)
    assert not torch.equal(before.x_train, after.x_train)
    # and a config made for the first files refuses the second, memo or not
    monkeypatch.setenv("NODESTUDY_DATA", str(first))
    made_for_first = DataConfig.from_name("mnist", n_train=16, n_test=8)
    load_dataset(made_for_first)
    monkeypatch.setenv("NODESTUDY_DATA", str(second))
    with pytest.raises(NodestudyError, match="not the ones this config was made with"):
        load_dataset(made_for_first)


def test_mnist5k_is_mlxtends_real_mnist_subset_split_by_a_seeded_permutation():
    config = DataConfig.from_name("mnist5k")
    assert (config.n_train, config.n_test, config.files) == (4000, 1000, None)
    data = load_dataset(config)
    assert data.x_train.shape == (4000, 1, 28, 28) and data.n_classes == 10
    assert float(data.x_train.min()) >= 0.0 and float(data.x_train.max()) == 1.0
    assert torch.bincount(torch.cat([data.y_train, data.y_test])).tolist() == [500] * 10
    again = load_dataset(DataConfig.from_name("mnist5k", n_train=100, n_test=50))
    other = load_dataset(DataConfig.from_name("mnist5k", n_train=100, n_test=50, seed=1))
    assert torch.equal(again.x_train, data.x_train[:100])
    assert not torch.equal(again.x_train, other.x_train)
    assert data.majority_rate == pytest.approx(float(torch.bincount(data.y_test).max()) / 1000)
