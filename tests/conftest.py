"""Shared test settings and fixtures: a headless matplotlib backend, one torch thread, tiny
sweeps for the λ lab, one tiny digit classifier for the classifier and metrics tests, and a tiny
stand-in "shipped results" folder for the reproduce tests.

Tests use tiny tensors, where a second thread costs more than it gains and, on a busy
2-core machine, waits on the other core; one thread keeps timings steady.
"""

import shutil

import matplotlib
import pytest
import torch

from gan_l2_lib.classifier import ClassifierConfig, TrainedClassifier, load_or_train_classifier
from gan_l2_lib.data import ImageDataset, load_digits8
from gan_l2_lib.sweep import SweepConfig, run_sweep
from gan_l2_lib.train import TrainConfig

matplotlib.use("Agg")
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def lab_sweeps(tmp_path_factory):
    """Tiny cached sweeps: ring8 on a 2 × 3 grid with 2 seeds, digits8 on a 2-point diagonal.

    Returns ``({"ring8": SweepResult, "digits8": SweepResult}, root folder, classifier)``;
    shared by the λ lab's figure, live-figure and controller tests.
    """
    from gan_l2_lib.classifier import ClassifierConfig, load_or_train_classifier
    from gan_l2_lib.sweep import SweepConfig, run_sweep
    from gan_l2_lib.train import TrainConfig

    root = tmp_path_factory.mktemp("lambda_lab")
    base = TrainConfig.preset("ring8", steps=40, batch_size=32, log_every=5, eval_every=20, n_eval_samples=64)
    ring = run_sweep(SweepConfig(base, lambda_g=(0.0, 1e-2), lambda_d=(0.0, 1e-3, 1e-2), seeds=(0, 1),
                                 n_stored_samples=64), root / "runs", progress=False)
    clf = load_or_train_classifier(ClassifierConfig.preset("digits8", epochs=1), cache_dir=root / "clf")
    img_base = TrainConfig.preset("digits8", steps=6, log_every=2, eval_every=3, n_eval_samples=20, latent_dim=8)
    digits = run_sweep(SweepConfig(img_base, lambda_g=(0.0, 1e-2), lambda_d=(0.0, 1e-2), seeds=(0,),
                                   n_stored_samples=16, diagonal=True),
                       root / "runs", progress=False, classifier=clf)
    return {"ring8": ring, "digits8": digits}, root, clf


@pytest.fixture(scope="session")
def replay_sweeps(lab_sweeps):
    """Tiny sweeps that keep snapshots (replayable): ring8 λ_D ∈ {0, 1e-2} with 4 evaluations
    of 16 points and D's surface, digits8 on a 2-point diagonal with 3 evaluations of 9 images.

    Returns ``{"ring8": SweepResult, "digits8": SweepResult}`` (``lab_sweeps``' runs keep none:
    they stand for records of the old format).
    """
    _, root, clf = lab_sweeps
    base = TrainConfig.preset("ring8", steps=40, batch_size=32, log_every=5, eval_every=10, n_eval_samples=64)
    ring = run_sweep(SweepConfig(base, lambda_g=(0.0,), lambda_d=(0.0, 1e-2), seeds=(0,), n_stored_samples=64,
                                 snapshots=16), root / "replay", progress=False)
    img_base = TrainConfig.preset("digits8", steps=6, log_every=2, eval_every=2, n_eval_samples=20, latent_dim=8)
    digits = run_sweep(SweepConfig(img_base, lambda_g=(0.0, 1e-2), lambda_d=(0.0, 1e-2), seeds=(0,),
                                   n_stored_samples=16, diagonal=True, snapshots=9),
                       root / "replay", progress=False, classifier=clf)
    return {"ring8": ring, "digits8": digits}


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


@pytest.fixture(scope="session")
def _tiny_shipped_pristine(tmp_path_factory):
    """A tiny ring8 sweep (2 × 2 grid, 1 seed, 40 steps) written once, as a stand-in "shipped" folder."""
    root = tmp_path_factory.mktemp("tiny_shipped")
    base = TrainConfig.preset("ring8", steps=40, batch_size=32, toy_hidden=32, log_every=10, eval_every=20,
                              n_eval_samples=100)
    sweep = SweepConfig(base, lambda_g=(0.0, 1e-2), lambda_d=(0.0, 1e-1), seeds=(0,), n_stored_samples=50)
    run_sweep(sweep, root, progress=False)
    return root, sweep


@pytest.fixture
def tiny_shipped(_tiny_shipped_pristine, tmp_path):
    """``(folder, sweep)``: a fresh copy of the tiny "shipped" folder that a test may tamper with."""
    root, sweep = _tiny_shipped_pristine
    copy = tmp_path / "shipped"
    shutil.copytree(root, copy)
    return copy, sweep
