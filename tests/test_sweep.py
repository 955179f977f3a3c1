"""The sweep grid, the per-run cache files and the sweep's results (batched training: test_batched.py)."""

import numpy as np
import pytest
from torch.testing import assert_close

from gan_l2_lib.sweep import SweepConfig, load_record, run_path, run_sweep
from gan_l2_lib.train import TrainConfig


def _toy_base(**kw) -> TrainConfig:
    base = dict(steps=100, batch_size=32, toy_hidden=32, log_every=10, eval_every=50, n_eval_samples=64)
    base.update(kw)
    return TrainConfig.preset("ring8", **base)


def _quick_sweep(**kw) -> SweepConfig:
    base = _toy_base(steps=40, eval_every=20, log_every=10, n_eval_samples=200)
    return SweepConfig(base, lambda_g=(0.0, 1e-2), lambda_d=(0.0, 1e-1), seeds=(0,), n_stored_samples=50, **kw)


def test_cache_resumes_and_replaces_corrupt_files(tmp_path):
    sweep = _quick_sweep()
    first = run_sweep(sweep, tmp_path, progress=False, max_batch=2)
    assert first.trained == 4
    files = sorted((tmp_path / "ring8").glob("*.npz"))
    assert len(files) == 4 and not list((tmp_path / "ring8").glob("*.tmp"))
    again = run_sweep(sweep, tmp_path, progress=False)
    assert again.trained == 0
    rec = first.record(1e-2, 1e-1, 0)
    assert_close(again.record(1e-2, 1e-1, 0).scalars["d_loss"], rec.scalars["d_loss"])
    # a truncated file (as a crash of a non-atomic writer would leave) is trained again
    victim = run_path(sweep.members()[1], sweep, tmp_path)
    victim.write_bytes(victim.read_bytes()[:100])
    with pytest.raises(ValueError, match="unreadable"):
        load_record(victim)
    third = run_sweep(sweep, tmp_path, progress=False)
    assert third.trained == 1
    assert load_record(victim).key == third.records[1].key


def test_record_contents_and_grids(tmp_path):
    result = run_sweep(_quick_sweep(), tmp_path, progress=False)
    rec = result.record(0.0, 1e-1, 0)
    assert rec.samples.shape == (50, 2) and rec.surface.shape == (48, 48)
    assert 0 <= rec.surface.min() and rec.surface.max() <= 1
    assert list(rec.eval_steps) == [20, 40]
    assert set(rec.curves) == {"modes_covered", "high_quality_fraction", "reverse_kl"}
    assert rec.summary["modes_covered"] == pytest.approx(rec.curves["modes_covered"][-2:].mean())
    grid = result.grid("modes_covered")
    assert grid.shape == (2, 2) and grid[0, 1] == rec.summary["modes_covered"]
    with pytest.raises(ValueError, match="unknown metric"):
        result.grid("fid")
    with pytest.raises(ValueError, match="no run with"):
        result.record(0.5, 0.0, 0)
    with pytest.raises(ValueError, match="not in"):
        run_sweep(_quick_sweep(eval_last=2), tmp_path / "empty", progress=False, train_missing=False)


def test_stale_schema_or_key_is_rejected(tmp_path):
    sweep = _quick_sweep()
    run_sweep(sweep, tmp_path, progress=False)
    path = run_path(sweep.members()[0], sweep, tmp_path)
    with pytest.raises(ValueError, match="expected"):
        load_record(path, expected_key="0" * 20)


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(lambda_g=(-1e-3,)), "lambda_g"),
        (dict(lambda_d=(float("nan"),)), "lambda_d"),
        (dict(lambda_d=(0.0, 0.0)), "repeated"),
        (dict(seeds=(0, -1)), "seeds"),
        (dict(seeds=()), "seeds"),
        (dict(eval_last=0), "eval_last"),
    ],
)
def test_bad_sweep_config(bad, match):
    with pytest.raises(ValueError, match=match):
        SweepConfig(_toy_base(), **bad)
    with pytest.raises(ValueError, match="weight_decay"):
        SweepConfig(_toy_base(weight_decay_d=0.1))


def test_diagonal_image_sweep_records_image_metrics(tmp_path):
    from gan_l2_lib.metrics import ClassifierConfig, load_or_train_classifier

    clf = load_or_train_classifier(ClassifierConfig.preset("digits8", epochs=1), cache_dir=tmp_path / "clf")
    base = TrainConfig.preset("digits8", steps=6, log_every=2, eval_every=3, n_eval_samples=20, latent_dim=8)
    sweep = SweepConfig(base, lambda_g=(0.0, 1e-2), lambda_d=(0.0, 1e-2), seeds=(0,), n_stored_samples=4,
                        diagonal=True)
    assert [(m.lambda_g, m.lambda_d) for m in sweep.members()] == [(0.0, 0.0), (1e-2, 1e-2)]
    result = run_sweep(sweep, tmp_path / "runs", progress=False, classifier=clf)
    rec = result.record(1e-2, 1e-2, 0)
    assert rec.samples.shape == (4, 1, 8, 8) and rec.surface is None
    assert {"mean_confidence", "frechet_distance", "background_brightness"} <= set(rec.summary)
    assert 0 <= rec.summary["background_brightness"] <= 1 and rec.summary["frechet_distance"] >= 0
    grid = result.grid("mean_confidence")
    assert np.isnan(grid[0, 1]) and np.isfinite(grid[1, 1])  # no run off the diagonal
    assert len(result.table()) == 2
    with pytest.raises(ValueError, match="same length"):
        SweepConfig(base, lambda_g=(0.0,), lambda_d=(0.0, 1e-2), diagonal=True)
