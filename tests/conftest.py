"""Shared test settings and fixtures: a headless matplotlib backend, one torch thread, and
one tiny digit classifier for the classifier and metrics tests.

Tests use tiny tensors, where a second thread costs more than it gains and, on a busy
2-core machine, waits on the other core; one thread keeps timings steady.
"""

import matplotlib
import pytest
import torch

from gan_l2_lib.classifier import ClassifierConfig, TrainedClassifier, load_or_train_classifier
from gan_l2_lib.data import ImageDataset, load_digits8

matplotlib.use("Agg")
torch.set_num_threads(1)

#: ~1 s of training on an idle CPU, ≈ 0.9 held-out accuracy
TINY_CLASSIFIER = ClassifierConfig.preset("digits8", epochs=3, width=8, feature_dim=32, lr=1e-2)


@pytest.fixture(scope="session")
def digits8() -> ImageDataset:
    """The 1,797 8×8 scikit-learn digits."""
    return load_digits8()


@pytest.fixture(scope="session")
def tiny_classifier(tmp_path_factory, digits8) -> tuple[TrainedClassifier, object]:
    """``(classifier, cache folder)``: ``TINY_CLASSIFIER`` trained once per test session."""
    cache = tmp_path_factory.mktemp("clf_cache")
    return load_or_train_classifier(TINY_CLASSIFIER, cache, data=digits8), cache
