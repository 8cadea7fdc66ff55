"""Where the user's data files are (``$NODESTUDY_DATA``) and their identity. Nothing is
downloaded: MNIST and CIFAR10 are read from files the user provides. A run's config
holds the files' fingerprint (``DataConfig.from_name``), so this sits below the config
and the data sets that read the files."""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

from ...core.errors import NodestudyError

#: Environment variable naming the directory that holds MNIST / CIFAR10 files.
DATA_ENV = "NODESTUDY_DATA"

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_BATCH = "test_batch"


def data_directory(directory: str | Path | None = None) -> Path:
    """The directory given, else ``$NODESTUDY_DATA``, else ``~/.cache/nodestudy/data``."""
    if directory is not None:
        return Path(directory).expanduser()
    if env := os.environ.get(DATA_ENV):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nodestudy" / "data"


def use_data_directory(directory: str | Path | None) -> None:
    """Point ``$NODESTUDY_DATA`` at ``directory`` (None leaves it as it is). An
    environment variable rather than a config field: where the files live does not
    change a run, and worker processes started afterwards inherit it."""
    if directory is not None:
        os.environ[DATA_ENV] = str(Path(directory).expanduser().resolve())


def _find_mnist_file(directory: Path, stem: str) -> Path | None:
    for folder in (directory, directory / "MNIST" / "raw", directory / "mnist"):
        for name in (stem, f"{stem}.gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def mnist_paths(directory: str | Path | None = None) -> list[Path]:
    """The four MNIST files, or a one-line error naming what is missing and where."""
    root = data_directory(directory)
    paths = {key: _find_mnist_file(root, stem) for key, stem in MNIST_FILES.items()}
    missing = [MNIST_FILES[key] for key, path in paths.items() if path is None]
    if missing:
        raise NodestudyError(
            f"MNIST files not found in {root}: missing {', '.join(missing)} (each may be "
            ".gz). Download the four IDX files of MNIST (e.g. from "
            "https://yann.lecun.com/exdb/mnist/ or a mirror) on a machine with a network, "
            f"put them there, or point ${DATA_ENV} at their directory."
        )
    return [paths[key] for key in MNIST_FILES]


def cifar10_paths(directory: str | Path | None = None) -> list[Path]:
    """The six CIFAR10 batches, or a one-line error naming what is missing and where."""
    root = data_directory(directory)
    folder = root / CIFAR10_FOLDER if (root / CIFAR10_FOLDER).is_dir() else root
    names = (*CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH)
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise NodestudyError(
            f"CIFAR10 files not found in {folder}: missing {', '.join(missing)}. Download "
            "'CIFAR-10 python version' (cifar-10-python.tar.gz from "
            "https://www.cs.toronto.edu/~kriz/cifar.html) on a machine with a network, "
            f"unpack it there (it makes {CIFAR10_FOLDER}/), or point ${DATA_ENV} at it."
        )
    return [folder / name for name in names]


def fingerprint(name: str, directory: str | Path | None = None) -> str:
    """Identity of the files a file-backed data set is read from: a hash of their
    names, sizes and contents (each file hashed once per process while unchanged).
    It is part of a run's config, so runs trained on other files never share a key."""
    paths = mnist_paths(directory) if name == "mnist" else cifar10_paths(directory)
    digest = hashlib.sha256()
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}:".encode())
        digest.update(_file_hash(path, stat.st_size, stat.st_mtime_ns).encode())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=64)
def _file_hash(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
