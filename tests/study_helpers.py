"""What several test modules share: the CLI as a user runs it, a small training
config, and image files in the real formats (tests import this, never each other)."""

import gzip
import pickle
import struct
import subprocess
import sys

import numpy as np

from nodestudy import SolverSpec
from nodestudy.study import DataConfig, TrainConfig
from nodestudy.study.runtime.data_files import CIFAR10_FOLDER, MNIST_FILES


def nodestudy(*args):
    return subprocess.run(
        [sys.executable, "-m", "nodestudy", *args], capture_output=True, text=True, timeout=300
    )


SMALL_DATA = DataConfig(n_train=256, n_test=128)


def config(steps=2, iterations=30, seed=0, method="euler", **kwargs):
    return TrainConfig(
        data=SMALL_DATA,
        solver=SolverSpec(method, steps),
        iterations=iterations,
        batch_size=64,
        seed=seed,
        **kwargs,
    )


def write_idx(path, array, gz=False):
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if gz else open
    with opener(path, "wb") as file:
        file.write(header + array.tobytes())


def fake_mnist(directory, n_train=40, n_test=20, gz=True):
    rng = np.random.default_rng(0)
    sizes = {"train": n_train, "test": n_test}
    for key, stem in MNIST_FILES.items():
        split, kind = key.split("_")
        n = sizes[split]
        array = rng.integers(0, 256, (n, 28, 28)) if kind == "images" else np.arange(n) % 10
        write_idx(directory / (stem + (".gz" if gz else "")), array, gz=gz)
    return directory


def fake_cifar10(directory, per_batch=8):
    folder = directory / CIFAR10_FOLDER
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        batch = {
            b"batch_label": name.encode(),
            b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            b"labels": [int(v) for v in rng.integers(0, 10, per_batch)],
        }
        with (folder / name).open("wb") as file:
            pickle.dump(batch, file)
    return directory
