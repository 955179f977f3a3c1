import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from gan_l2_lib.data import ImageDataset, load_images
from gan_l2_lib.sweep import (
    SweepConfig,
    load_record,
    main,
    run_path,
    run_sweep,
    train_batched,
)
from gan_l2_lib.train import TrainConfig, train_gan

ROOT = Path(__file__).resolve().parents[1]


def _toy_base(**kw) -> TrainConfig:
    base = dict(steps=100, batch_size=32, toy_hidden=32, log_every=10, eval_every=50, n_eval_samples=64)
    base.update(kw)
    return TrainConfig.preset("ring8", **base)


def _assert_member_equals_single(runs, k, single, rtol, atol):
    for net, module in (("g", single.generator), ("d", single.discriminator)):
        batched = runs.member_state(net, k)
        for name, value in module.state_dict().items():
            assert_close(batched[name], value, rtol=rtol, atol=atol, msg=f"member {k} {net}.{name}")
    h, s = runs.histories[k], single.history
    assert h.steps == s.steps and h.sample_steps == s.sample_steps
    assert_close(torch.tensor(h.scalars["d_loss"]), torch.tensor(s.scalars["d_loss"]), rtol=rtol, atol=atol)
    assert_close(h.samples[-1], s.samples[-1], rtol=rtol, atol=atol)


def test_member_equals_run_trained_alone_ring8():
    members = [_toy_base().replace(lambda_g=g, lambda_d=d, seed=s)
               for g, d, s in [(0.0, 0.0, 0), (1e-2, 0.0, 1), (0.0, 1e-1, 0), (1e-2, 1e-1, 1)]]
    runs = train_batched(members, progress=False)
    for k in (1, 2, 3):
        _assert_member_equals_single(runs, k, train_gan(members[k], progress=False), rtol=1e-5, atol=1e-6)


def test_member_equals_run_trained_alone_with_batchnorm():
    # The article's generator has BatchNorm: per-member running statistics must work. In float32
    # the biases in front of BatchNorm have gradients that are zero up to rounding, and Adam turns
    # rounding noise of either sign into full ±lr steps (≈2e-3 apart after 20 steps, measured), so
    # the exact equality is checked in float64, where rounding sits far below Adam's eps.
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        d8 = load_images("digits8")
        data = ImageDataset(d8.name, d8.images.double(), d8.labels, 10)
        base = TrainConfig.preset("digits8", steps=20, batch_size=16, latent_dim=16, log_every=5, eval_every=10,
                                  n_eval_samples=8)
        members = [base.replace(lambda_g=g, lambda_d=1e-2, seed=s) for g, s in [(0.0, 0), (1e-2, 1)]]
        runs = train_batched(members, data, progress=False)
        for k in (0, 1):
            single = train_gan(members[k], data=data, progress=False)
            _assert_member_equals_single(runs, k, single, rtol=1e-10, atol=1e-12)
        assert not torch.equal(runs.member_state("g", 0)["model.2.running_mean"],
                               runs.member_state("g", 1)["model.2.running_mean"])
    finally:
        torch.set_default_dtype(old)


def test_diverged_member_is_recorded_and_others_finish():
    # λ_D = 1e38 overflows the float32 penalty to inf at the first step
    members = [_toy_base(steps=30).replace(lambda_d=d) for d in (0.0, 1e38, 1e-2)]
    runs = train_batched(members, progress=False)
    assert [h.diverged for h in runs.histories] == [False, True, False]
    assert runs.histories[1].diverged_step == 1 and runs.histories[1].steps == []
    assert runs.histories[0].steps[-1] == 30 and runs.histories[2].sample_steps == [30]


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


def test_batched_runs_must_share_everything_but_lambda_and_seed():
    with pytest.raises(ValueError, match="differ only"):
        train_batched([_toy_base(), _toy_base(batch_size=16)], progress=False)


def test_cli_runs_and_prints_table(tmp_path, capsys):
    rc = main(["sweep", "--dataset", "ring8", "--quick", "--steps", "20", "--lambda-g", "0", "--lambda-d", "0", "0.01",
               "--seeds", "1", "--cache-dir", str(tmp_path), "--no-progress", "--cpu"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "trained 2 runs" in out and "modes_covered" in out
    assert main(["sweep", "--quick", "--lambda-d", "-1", "--cache-dir", str(tmp_path), "--no-progress"]) == 2
    assert "lambda_d must be >= 0" in capsys.readouterr().out


def test_kill_9_mid_sweep_then_resume(tmp_path):
    """A sweep killed with SIGKILL keeps its finished runs; the restart trains only the rest."""
    code = (
        "import sys; from gan_l2_lib.sweep import main; "
        f"sys.exit(main(['sweep', '--dataset', 'ring8', '--quick', '--steps', '150', '--seeds', '2', "
        f"'--max-batch', '1', '--cache-dir', r'{tmp_path}', '--no-progress', '--cpu']))"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    folder = tmp_path / "ring8"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(folder.glob("*.npz"))) < 2:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = sorted(folder.glob("*.npz"))
    assert 2 <= len(kept) < 8, "the sweep should be killed part-way (8 runs in all)"
    for f in kept:
        load_record(f)  # every file left behind is complete
    sweep = SweepConfig.default("ring8", quick=True)
    sweep = SweepConfig(sweep.base.replace(steps=150), sweep.lambda_g, sweep.lambda_d, (0, 1),
                        sweep.eval_last, sweep.n_stored_samples)
    resumed = run_sweep(sweep, tmp_path, progress=False, max_batch=1)
    assert resumed.trained == 8 - len(kept)
    assert len(list(folder.glob("*.npz"))) == 8
    assert np.isfinite(resumed.grid("modes_covered")).all()


def test_diagonal_image_sweep_records_image_metrics(tmp_path):
    from gan_l2_lib.classifier import ClassifierConfig, load_or_train_classifier

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
