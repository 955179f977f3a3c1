"""Tests for gan_l2_lib.classifier: the recipe, training and caching, and applying the CNN."""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

from gan_l2_lib.classifier import (
    CLASSIFIER_DATASETS,
    ClassifierConfig,
    classifier_features,
    classifier_path,
    classify,
    load_or_train_classifier,
    stacked_probs,
)
from gan_l2_lib.data import DATASET_FACTS, make_stacked


def test_classifier_trains_caches_and_reuses(tiny_classifier, digits8):
    clf, cache = tiny_classifier
    tiny = clf.config
    assert not clf.from_cache
    assert clf.path == classifier_path(tiny, cache) and clf.path.exists()
    assert tiny.config_hash() in clf.path.name
    assert clf.val_accuracy > 0.5  # chance is 0.1; three epochs already learn the digits
    mtime = clf.path.stat().st_mtime_ns

    again = load_or_train_classifier(tiny, cache, data=digits8)
    assert again.from_cache
    assert clf.path.stat().st_mtime_ns == mtime  # loaded, not rewritten
    assert again.val_accuracy == clf.val_accuracy
    assert_close(classify(digits8.images[:50], again), classify(digits8.images[:50], clf))
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp")]  # the atomic write left no temp file


def test_changed_classifier_config_makes_a_new_file(tiny_classifier, digits8):
    clf, cache = tiny_classifier
    other_cfg = clf.config.replace(epochs=1, val_fraction=0.9)  # cheap: trains on 10 % for one epoch
    assert other_cfg.config_hash() != clf.config.config_hash()
    other = load_or_train_classifier(other_cfg, cache, data=digits8)
    assert not other.from_cache and other.path != clf.path
    assert sorted(p.name for p in cache.glob("*.pt")) == sorted([clf.path.name, other.path.name])


def test_classifier_config_bad_input():
    with pytest.raises(ValueError, match="dataset must be one of"):
        ClassifierConfig(dataset="cifar10")
    with pytest.raises(ValueError, match="val_fraction"):
        ClassifierConfig(val_fraction=1.0)
    with pytest.raises(ValueError, match="epochs"):
        ClassifierConfig(epochs=0)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        ClassifierConfig(seed=-1)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        ClassifierConfig(lr=float("nan"))


def test_preset_is_looked_up_by_data_set():
    assert CLASSIFIER_DATASETS == ("mnist5k", "digits8")
    for name, facts in DATASET_FACTS.items():
        if facts.classifier is None:
            with pytest.raises(ValueError, match="2-D mixture"):
                ClassifierConfig.preset(name)
        else:
            assert ClassifierConfig.preset(name).dataset == facts.classifier
    assert ClassifierConfig.preset("stacked_mnist") == ClassifierConfig.preset("mnist5k") == ClassifierConfig()
    assert ClassifierConfig.preset("digits8").epochs == 10
    assert ClassifierConfig.preset("mnist", epochs=2).epochs == 2
    with pytest.raises(ValueError, match="unknown data set 'cifar10'"):
        ClassifierConfig.preset("cifar10")


def test_config_hash_values_are_pinned():
    # cached classifiers are found by these names: a changed hash silently retrains them
    assert ClassifierConfig.preset("mnist5k").config_hash() == "387367f1d5c35865"
    assert ClassifierConfig.preset("digits8", epochs=3, width=8, feature_dim=32, lr=1e-2).config_hash() \
        == "a8c67cf1051daf7f"


def test_classify_features_and_stacked_probs_shapes(tiny_classifier, digits8):
    clf, _ = tiny_classifier
    probs = classify(digits8.images[:70], clf, batch=32)  # three batches, one of them short
    assert probs.shape == (70, 10) and probs.dtype == torch.float32
    assert_close(probs.sum(1), torch.ones(70))
    assert classifier_features(digits8.images[:70], clf, batch=32).shape == (70, clf.config.feature_dim)
    stacked = make_stacked(digits8, n=20, seed=0)
    per_channel = stacked_probs(stacked.images, clf)
    assert per_channel.shape == (20, 3, 10)
    assert_close(per_channel[:, 1], classify(stacked.images[:, 1:2], clf))  # channel c is digit c


@pytest.mark.parametrize(
    ("images", "match"),
    [
        (torch.zeros(4, 1, 28, 28), "expects 8x8"),
        (torch.zeros(4, 3, 8, 8), "1 channel"),
        (torch.full((4, 1, 8, 8), float("nan")), "NaN"),
        ([[0.0]], "torch.Tensor"),
    ],
)
def test_classify_and_features_bad_images(tiny_classifier, images, match):
    clf, _ = tiny_classifier
    with pytest.raises(ValueError, match=match):
        classify(images, clf)
    with pytest.raises(ValueError, match=match):
        classifier_features(images, clf)
