import math
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from gan_l2_lib.data import (
    DATASET_NAMES,
    HELD_OUT_PER_CLASS,
    SPLIT_TRAIN_PER_CLASS,
    dataset_facts,
    held_out_images,
    load_dataset,
    load_images,
    load_mnist,
    make_mixture,
    make_stacked,
    split_indices,
)


def test_ring8_has_eight_distinct_modes_on_unit_circle():
    ring = make_mixture("ring8")
    assert ring.centers.shape == (8, 2) and ring.std == 0.01
    assert_close(ring.centers.norm(dim=1), torch.ones(8))
    dists = torch.cdist(ring.centers, ring.centers) + torch.eye(8) * 10
    # neighbours are 2·sin(π/8) apart; linspace(0, 2π, 8) would give a duplicate (distance 0)
    assert_close(dists.min(), torch.tensor(2 * math.sin(math.pi / 8)))


def test_grid25_centres():
    grid = make_mixture("grid25")
    assert grid.centers.shape == (25, 2) and grid.std == 0.05
    assert sorted(set(grid.centers[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert len({tuple(c) for c in grid.centers.tolist()}) == 25


def test_mixture_sampling_is_seeded_and_near_centres():
    ring = make_mixture("ring8")
    a = ring.sample(4000, torch.Generator().manual_seed(3))
    b = ring.sample(4000, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    nearest = torch.cdist(a, ring.centers).min(dim=1).values
    assert nearest.max() < 6 * ring.std
    counts = torch.cdist(a, ring.centers).argmin(dim=1).bincount(minlength=8)
    assert counts.min() > 400  # every mode gets about 500 of 4000
    assert_close(a.std(dim=0), torch.full((2,), 1 / math.sqrt(2)), rtol=0.05, atol=0.0)


def test_mnist5k_offline():
    ds = load_images("mnist5k")
    assert ds.images.shape == (5000, 1, 28, 28)
    assert ds.images.min() == -1.0 and ds.images.max() == 1.0
    assert torch.equal(ds.labels.bincount(), torch.full((10,), 500))
    batch = ds.sample(16, torch.Generator().manual_seed(0))
    assert batch.shape == (16, 1, 28, 28)


def test_digits8_offline():
    ds = load_images("digits8")
    assert ds.images.shape == (1797, 1, 8, 8) and ds.img_shape == (1, 8, 8)
    assert ds.images.min() == -1.0 and ds.images.max() == 1.0


def test_stacked_mnist_labels_match_channels():
    base = load_images("digits8")
    st = make_stacked(base, n=200, seed=1)
    assert st.images.shape == (200, 3, 8, 8) and st.n_classes == 1000
    # recover each channel's digit by exact image match against the base set
    flat = base.images.reshape(len(base), -1)
    for i in range(5):
        digits = []
        for ch in range(3):
            match = (flat == st.images[i, ch].reshape(1, -1)).all(dim=1).nonzero()[0, 0]
            digits.append(int(base.labels[match]))
        assert int(st.labels[i]) == 100 * digits[0] + 10 * digits[1] + digits[2]
    assert torch.equal(make_stacked(base, n=50, seed=1).images, st.images[:50])


def _write_idx(path: Path, array: np.ndarray) -> None:
    code = {1: 0x0801, 3: 0x0803}[array.ndim]
    with open(path, "wb") as f:
        f.write(struct.pack(">I", code))
        for d in array.shape:
            f.write(struct.pack(">I", d))
        f.write(array.astype(np.uint8).tobytes())


def test_full_mnist_path_reads_idx_files_the_test_writes(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(6, 28, 28))
    imgs[0, 0, 0], imgs[0, 0, 1] = 0, 255
    labels = np.array([3, 1, 4, 1, 5, 9])
    for split in ("train", "t10k"):
        _write_idx(raw / f"{split}-images-idx3-ubyte", imgs)
        _write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
    ds = load_mnist(root=tmp_path, download=False)
    assert ds.images.shape == (6, 1, 28, 28)
    assert ds.labels.tolist() == labels.tolist()
    assert_close(ds.images[0, 0, 0, :2], torch.tensor([-1.0, 1.0]))
    assert_close(ds.images[2, 0], torch.tensor(imgs[2], dtype=torch.float32) / 127.5 - 1)
    st = load_images("stacked_mnist", base="mnist5k", n=10)
    assert st.images.shape == (10, 3, 28, 28)


def test_full_mnist_missing_offline_names_alternatives(tmp_path):
    with pytest.raises(RuntimeError, match="mnist5k.*digits8"):
        load_mnist(root=tmp_path, download=False)


def test_unknown_names_list_valid_ones():
    with pytest.raises(ValueError, match="ring8, grid25"):
        make_mixture("ring7")
    with pytest.raises(ValueError, match="mnist5k"):
        load_images("cifar10")
    with pytest.raises(ValueError, match=", ".join(DATASET_NAMES)):
        load_dataset("celeba")
    with pytest.raises(ValueError, match="base must be"):
        load_images("stacked_mnist", base="digits8")


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_bad_sample_sizes(n):
    with pytest.raises(ValueError, match="positive integer"):
        make_mixture("ring8").sample(n)


def test_dataset_facts_and_perfect_coverage():
    from gan_l2_lib.data import dataset_facts

    assert dataset_facts("grid25").n_modes == 25 and dataset_facts("stacked_mnist").mode_word == "triple"
    assert dataset_facts("mnist").classifier == "mnist5k"  # 28×28 digits share mnist5k's classifier
    # a perfect generator's 500 samples over 1,000 equally likely triples hit 1000·(1 − 0.999^500)
    assert dataset_facts("stacked_mnist").perfect_coverage(500) == pytest.approx(1000 * (1 - 0.999**500))
    assert dataset_facts("ring8").perfect_coverage(1) == pytest.approx(1.0)
    # Monte Carlo: the formula is the mean number of distinct values in N uniform draws
    gen = torch.Generator().manual_seed(0)
    hits = [torch.randint(1000, (500,), generator=gen).unique().numel() for _ in range(400)]
    assert abs(np.mean(hits) - dataset_facts("stacked_mnist").perfect_coverage(500)) < 1.5
    with pytest.raises(ValueError, match="unknown data set 'cifar10'; valid names are: ring8"):
        dataset_facts("cifar10")
    with pytest.raises(ValueError, match="n must be a positive integer"):
        dataset_facts("ring8").perfect_coverage(0)


# --- held-out splits of mnist5k ---

@pytest.fixture(scope="module")
def mnist5k():
    return load_images("mnist5k")


def test_splits_are_disjoint_stratified_nested_and_the_same_every_call(mnist5k):
    train4k, held = split_indices("mnist5k_train4k", mnist5k.labels)
    train1k, held_again = split_indices("mnist5k_train1k", mnist5k.labels)
    assert len(train4k) == 10 * SPLIT_TRAIN_PER_CLASS["mnist5k_train4k"] == 4000
    assert len(train1k) == 10 * SPLIT_TRAIN_PER_CLASS["mnist5k_train1k"] == 1000
    assert len(held) == 10 * HELD_OUT_PER_CLASS == 1000
    assert not set(held.tolist()) & set(train4k.tolist())
    assert set(train1k.tolist()) <= set(train4k.tolist())  # the small set is a subset of the large one
    assert_close(held, held_again)  # both splits hold out the same images
    for idx, per_class in ((train4k, 400), (train1k, 100), (held, HELD_OUT_PER_CLASS)):
        assert_close(mnist5k.labels[idx].bincount(minlength=10), torch.full((10,), per_class))
    # deterministic, and independent of the caller's random state
    torch.manual_seed(123)
    assert_close(split_indices("mnist5k_train4k", mnist5k.labels)[0], train4k)


def test_split_data_sets_load_by_name_with_their_held_out_images(mnist5k):
    train = load_dataset("mnist5k_train1k")
    held = held_out_images("mnist5k_train1k")
    train_idx, held_idx = split_indices("mnist5k_train1k", mnist5k.labels)
    assert train.name == "mnist5k_train1k" and len(train) == 1000 and train.img_shape == (1, 28, 28)
    assert held.name == "mnist5k_train1k_held_out" and len(held) == 1000
    assert_close(train.images, mnist5k.images[train_idx])
    assert_close(held.labels, mnist5k.labels[held_idx])
    # no held-out image appears among the training images, pixel for pixel
    flat_train, flat_held = train.images.flatten(1), held.images.flatten(1)
    assert torch.cdist(flat_held, flat_train).min() > 0
    facts = dataset_facts("mnist5k_train4k")
    assert (facts.kind, facts.n_modes, facts.classifier) == ("digits", 10, "mnist5k")


def test_split_bad_names():
    with pytest.raises(ValueError, match="no held-out images; data sets with them: mnist5k_train4k"):
        held_out_images("mnist5k")
    with pytest.raises(ValueError, match="not a split of mnist5k"):
        split_indices("digits8")
    with pytest.raises(ValueError, match="class 0 has 3 images"):
        split_indices("mnist5k_train1k", torch.zeros(3, dtype=torch.int64))


def test_mnist5k_is_read_once_but_each_load_gets_its_own_tensors(mnist5k):
    first = load_images("mnist5k")
    first.images.add_(1.0)  # a caller changing its copy does not reach the next load
    assert_close(load_images("mnist5k").images, mnist5k.images)
