"""The digit classifier that scores generated digits: a small CNN, trained once and cached.

``load_or_train_classifier`` trains a ``DigitCNN`` on ``mnist5k`` (28×28) or ``digits8``
(8×8) with a seeded recipe (``ClassifierConfig``), or loads it from the cache file named by a
hash of that recipe. ``classify`` gives class probabilities, ``stacked_probs`` the same per
channel of stacked-MNIST images, ``classifier_features`` the penultimate-layer features in
which ``metrics.classifier_frechet_distance`` is measured. The statistics computed from
these (classes covered, KL to uniform, …) live in ``metrics``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checks import nonnegative_int, positive_float, positive_int
from .data import DATASET_FACTS, ImageDataset, dataset_facts, default_cache_dir, load_images
from .files import atomic_torch_save, stable_hash

#: The data sets a classifier is trained on, in the order ``DATASET_FACTS`` first names them;
#: every image data set is scored by one of them (``DatasetFacts.classifier``).
CLASSIFIER_DATASETS = tuple(dict.fromkeys(f.classifier for f in DATASET_FACTS.values() if f.classifier))


@dataclass(frozen=True)
class ClassifierConfig:
    """How the digit classifier is trained. Every field goes into the cache file's hash.

    Attributes:
        dataset: ``"mnist5k"`` (28×28) or ``"digits8"`` (8×8).
        val_fraction: share held out for the accuracy (seeded split; 0.2 → 4,000/1,000 on mnist5k).
        epochs: passes over the training split.
        batch_size: minibatch size.
        lr: Adam learning rate.
        width: channels of the first conv layer (the second has twice as many).
        feature_dim: size of the penultimate layer (the Fréchet-distance feature space).
        seed: seeds the split, the init and the shuffling.
    """

    dataset: str = "mnist5k"
    val_fraction: float = 0.2
    epochs: int = 6
    batch_size: int = 64
    lr: float = 1e-3
    width: int = 16
    feature_dim: int = 128
    seed: int = 0

    def __post_init__(self) -> None:
        if self.dataset not in CLASSIFIER_DATASETS:
            raise ValueError(f"dataset must be one of {CLASSIFIER_DATASETS}, got {self.dataset!r}")
        if not (isinstance(self.val_fraction, (int, float)) and 0 < self.val_fraction < 1):
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction!r}")
        for name in ("epochs", "batch_size", "width", "feature_dim"):
            object.__setattr__(self, name, positive_int(getattr(self, name), name))
        positive_float(self.lr, "lr")
        object.__setattr__(self, "seed", nonnegative_int(self.seed, "seed"))

    @classmethod
    def preset(cls, dataset: str = "mnist5k", **overrides) -> ClassifierConfig:
        """The default recipe of the classifier that scores ``dataset``'s samples.

        ``dataset`` is any image data set name; its classifier is looked up in
        ``data.dataset_facts(dataset).classifier`` (``mnist`` and ``stacked_mnist`` are scored
        by the mnist5k classifier). 6 epochs on mnist5k, 10 on the smaller digits8. Measured
        held-out accuracy (seed 0, CPU): mnist5k 0.972, digits8 0.969. Random shifts as
        augmentation gave no gain at this budget (mnist5k, 2 pixels: 0.966; digits8, 1 pixel
        and 20 epochs: 0.958), so the recipe has none.

        Args:
            dataset: a data set name from ``data.DATASET_NAMES`` other than a 2-D mixture.
            **overrides: fields to change from the recipe.

        Returns:
            The ``ClassifierConfig``.

        Raises:
            ValueError: for an unknown name or a 2-D mixture (it needs no classifier).
        """
        name = dataset_facts(dataset).classifier
        if name is None:
            raise ValueError(f"{dataset!r} is a 2-D mixture: its modes are measured without a classifier")
        base: dict = {"dataset": name}
        if name == "digits8":
            base.update(epochs=10)
        base.update(overrides)
        return cls(**base)

    def replace(self, **changes) -> ClassifierConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def config_hash(self) -> str:
        """Short stable hash of the config (the cache key)."""
        return stable_hash(self.to_dict(), 16)


class DigitCNN(nn.Module):
    """Small CNN: conv-ReLU-pool ×2 → linear (feature_dim, ReLU) → 10 logits.

    Args:
        img_size: (H, W), both divisible by 4 (28×28 or 8×8).
        width: channels of the first conv layer.
        feature_dim: size of the penultimate layer returned by ``features``.
    """

    def __init__(self, img_size: tuple[int, int] = (28, 28), width: int = 16, feature_dim: int = 128) -> None:
        super().__init__()
        h, w = img_size
        if h % 4 or w % 4:
            raise ValueError(f"img_size must be divisible by 4, got {img_size}")
        self.img_size = (int(h), int(w))
        self.conv = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(2 * width * (h // 4) * (w // 4), feature_dim), nn.ReLU())
        self.head = nn.Linear(feature_dim, 10)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate-layer features (N, feature_dim) of images (N, 1, H, W) in [-1, 1]."""
        return self.fc(self.conv(x))

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, 10) of images (N, 1, H, W) in [-1, 1]."""
        return self.head(self.features(x))


@dataclass
class TrainedClassifier:
    """A digit classifier with its config, held-out accuracy and cache file.

    Attributes:
        model: the ``DigitCNN`` in eval mode, on the CPU.
        config: its ``ClassifierConfig``.
        val_accuracy: accuracy on the held-out split (0–1).
        path: the cache file.
        from_cache: True when it was loaded from ``path`` instead of trained now.
        train_time_s: seconds its training took (when it was trained, possibly earlier).
    """

    model: DigitCNN
    config: ClassifierConfig
    val_accuracy: float
    path: Path
    from_cache: bool
    train_time_s: float

    @property
    def img_size(self) -> tuple[int, int]:
        return self.model.img_size


def classifier_path(cfg: ClassifierConfig, cache_dir: str | Path) -> Path:
    """The cache file of ``cfg``: ``<cache_dir>/digit_classifier_<dataset>_<hash>.pt``."""
    return Path(cache_dir) / f"digit_classifier_{cfg.dataset}_{cfg.config_hash()}.pt"


@torch.no_grad()
def _accuracy(model: nn.Module, images: Tensor, labels: Tensor, batch: int = 1000) -> float:
    model.eval()
    correct = 0
    for i in range(0, images.shape[0], batch):
        correct += int((model(images[i:i + batch]).argmax(1) == labels[i:i + batch]).sum())
    return correct / images.shape[0]


def train_classifier(cfg: ClassifierConfig, data: ImageDataset | None = None) -> tuple[DigitCNN, float]:
    """Train a ``DigitCNN`` on ``cfg.dataset`` (seeded, CPU) and measure held-out accuracy.

    Args:
        cfg: the recipe.
        data: the data set (loaded from ``cfg.dataset`` when None).

    Returns:
        ``(model, val_accuracy)`` with the model in eval mode.
    """
    if data is None:
        data = load_images(cfg.dataset)
    if data.name != cfg.dataset or data.images.shape[1] != 1:
        raise ValueError(f"data must be the single-channel {cfg.dataset!r} set, got {data.name!r}")
    images, labels = data.images.cpu().float(), data.labels.cpu()
    gen = torch.Generator().manual_seed(cfg.seed)
    perm = torch.randperm(images.shape[0], generator=gen)
    n_val = round(cfg.val_fraction * images.shape[0])
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    with torch.random.fork_rng(devices=[]):  # init depends on cfg.seed only, caller's RNG untouched
        torch.manual_seed(cfg.seed)
        model = DigitCNN(tuple(images.shape[2:]), cfg.width, cfg.feature_dim)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    x_train, y_train = images[train_idx], labels[train_idx]
    for _ in range(cfg.epochs):
        model.train()
        order = torch.randperm(x_train.shape[0], generator=gen)
        for i in range(0, order.shape[0], cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    acc = _accuracy(model, images[val_idx], labels[val_idx])
    model.eval()
    return model, acc


def load_or_train_classifier(cfg: ClassifierConfig | None = None, cache_dir: str | Path | None = None,
                             data: ImageDataset | None = None) -> TrainedClassifier:
    """Load the digit classifier for ``cfg`` from the cache, or train it once and cache it.

    The file name carries a hash of the whole config, so a changed recipe trains a new
    file and never silently reuses an old one. Loading uses ``torch.load(weights_only=True)``.

    Args:
        cfg: the recipe; ``ClassifierConfig.preset("mnist5k")`` when None.
        cache_dir: folder for the cached file; ``data.default_cache_dir()`` when None.
        data: the data set, used only if training is needed (loaded when None).

    Returns:
        A ``TrainedClassifier`` (``from_cache`` tells whether it was loaded).
    """
    cfg = ClassifierConfig.preset("mnist5k") if cfg is None else cfg
    cache_dir = default_cache_dir() if cache_dir is None else Path(cache_dir)
    path = classifier_path(cfg, cache_dir)
    if path.exists():
        state = torch.load(path, map_location="cpu", weights_only=True)
        if json.loads(state["config_json"]) == cfg.to_dict():
            model = DigitCNN(tuple(state["img_size"]), cfg.width, cfg.feature_dim)
            model.load_state_dict(state["state_dict"])
            model.eval()
            return TrainedClassifier(model, cfg, float(state["val_accuracy"]), path, True,
                                     float(state["train_time_s"]))
        # a hash collision or a hand-edited file: fall through and retrain over it
    start = time.perf_counter()
    model, acc = train_classifier(cfg, data)
    elapsed = time.perf_counter() - start
    state = {
        "config_json": json.dumps(cfg.to_dict(), sort_keys=True),
        "img_size": list(model.img_size),
        "state_dict": model.state_dict(),
        "val_accuracy": acc,
        "train_time_s": elapsed,
    }
    atomic_torch_save(state, path)  # a parallel reader never sees half a file
    return TrainedClassifier(model, cfg, acc, path, False, elapsed)


def _check_images(images: Tensor, classifier: TrainedClassifier, channels: int | None) -> Tensor:
    if not isinstance(images, Tensor):
        raise ValueError(f"images must be a torch.Tensor of shape (N, C, H, W), got {type(images).__name__}")
    if images.dim() != 4 or images.shape[0] == 0:
        raise ValueError(f"images must have shape (N, C, H, W) with N >= 1, got {tuple(images.shape)}")
    if channels is not None and images.shape[1] != channels:
        raise ValueError(f"images must have {channels} channel(s), got shape {tuple(images.shape)}")
    if tuple(images.shape[2:]) != classifier.img_size:
        raise ValueError(f"the classifier expects {classifier.img_size[0]}x{classifier.img_size[1]} "
                         f"images, got shape {tuple(images.shape)}")
    images = images.detach().to("cpu", torch.float32)
    if not torch.isfinite(images).all():
        raise ValueError("images contain NaN or inf (a diverged generator?); check history.diverged first")
    return images


@torch.no_grad()
def classify(images: Tensor, classifier: TrainedClassifier, batch: int = 1000) -> Tensor:
    """Class probabilities of single-channel images in [-1, 1].

    Args:
        images: shape (N, 1, H, W), H×W the classifier's size.
        classifier: a ``TrainedClassifier``.
        batch: images per forward pass.

    Returns:
        Probabilities of shape (N, 10), float32.
    """
    images = _check_images(images, classifier, channels=1)
    model = classifier.model.eval()
    return torch.cat([F.softmax(model(images[i:i + batch]), dim=1) for i in range(0, images.shape[0], batch)])


@torch.no_grad()
def classifier_features(images: Tensor, classifier: TrainedClassifier, batch: int = 1000) -> Tensor:
    """Penultimate-layer features of single-channel images (the Fréchet-distance space).

    Args:
        images: shape (N, 1, H, W) in [-1, 1].
        classifier: a ``TrainedClassifier``.
        batch: images per forward pass.

    Returns:
        Features of shape (N, feature_dim), float32.
    """
    images = _check_images(images, classifier, channels=1)
    model = classifier.model.eval()
    return torch.cat([model.features(images[i:i + batch]) for i in range(0, images.shape[0], batch)])


def stacked_probs(images: Tensor, classifier: TrainedClassifier) -> Tensor:
    """Class probabilities of each channel of stacked-MNIST images.

    Args:
        images: shape (N, 3, H, W) in [-1, 1], one digit per channel.
        classifier: a single-channel ``TrainedClassifier`` of size H×W.

    Returns:
        Probabilities of shape (N, 3, 10): ``[n, c]`` is channel c of image n.
    """
    images = _check_images(images, classifier, channels=3)
    n = images.shape[0]
    flat = images.reshape(n * 3, 1, *images.shape[2:])  # sample-major: rows 3n, 3n+1, 3n+2
    return classify(flat, classifier).reshape(n, 3, 10)
