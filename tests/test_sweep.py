"""The sweep grid, the per-run cache files and the sweep's results (batched training: test_batched.py)."""

import json
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from PIL import Image
from torch.testing import assert_close

from gan_l2_lib.batched import train_batched
from gan_l2_lib.data import load_dataset
from gan_l2_lib.evaluate import evaluate_run
from gan_l2_lib.sweep import (
    READABLE_SCHEMAS,
    SCHEMA_VERSION,
    SweepConfig,
    load_record,
    load_sweep,
    run_key,
    run_path,
    run_sweep,
)
from gan_l2_lib.train import TrainConfig, build_models


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


def _sigmoid_d_on_grid(member, d_state, extent, res):
    """σ(D(x, y)) of ``member``'s D with parameters ``d_state`` on a res × res grid, row = y, column = x."""
    _, d_net = build_models(member)
    d_net.load_state_dict(d_state)
    x0, x1, y0, y1 = extent
    xs, ys = torch.linspace(x0, x1, res), torch.linspace(y0, y1, res)
    with torch.no_grad():
        return torch.stack([torch.sigmoid(d_net(torch.stack([xs, torch.full_like(xs, y)], 1))).reshape(-1)
                            for y in ys]).numpy()


def _check_surfaces(result, cache_dir):
    """Each run's stored surface is σ(D(x, y)) of its own D, rebuilt here, row = y and column = x."""
    sweep = result.config
    runs = train_batched(sweep.members(), load_dataset("ring8"), progress=False)  # run_sweep's one batch
    for j, member in enumerate(sweep.members()):
        rec = result.record(member.lambda_g, member.lambda_d, member.seed)
        expected = _sigmoid_d_on_grid(member, runs.member_state("d", j), rec.surface_extent, 48)
        assert np.ptp(expected) > 0.01  # not flat, so a transposed or shifted surface would differ
        # the returned record is the file's copy (float16: |error| <= 2.5e-4 on values in [0, 1])
        assert_close(rec.surface, expected, rtol=0, atol=3e-4)
        np.testing.assert_array_equal(rec.surface, load_record(run_path(member, sweep, cache_dir)).surface)


def test_record_contents_and_grids(tmp_path):
    result = run_sweep(_quick_sweep(), tmp_path, progress=False)
    rec = result.record(0.0, 1e-1, 0)
    assert rec.samples.shape == (50, 2) and rec.surface.shape == (48, 48)
    _check_surfaces(result, tmp_path)
    assert list(rec.eval_steps) == [20, 40]
    assert set(rec.curves) == {"modes_covered", "high_quality_fraction", "reverse_kl", "mode_shift"}
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


def test_records_store_the_sweep_fields_their_key_hashes(tmp_path):
    sweep = _quick_sweep(eval_last=2)
    run_sweep(sweep, tmp_path, progress=False, max_batch=1, members=sweep.members()[:1])
    path = run_path(sweep.members()[0], sweep, tmp_path)
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
    assert meta["schema_version"] == 2 and meta["sweep"] == {"eval_last": 2, "n_stored_samples": 50}
    rec = load_record(path)
    assert (rec.eval_last, rec.n_stored_samples) == (2, 50)
    # a file written before the meta held them still loads, without them
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    del meta["sweep"]
    arrays["meta"] = np.array(json.dumps(meta))
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)
    old = load_record(path, rec.key)
    assert old.eval_last is None and old.n_stored_samples is None
    assert_close(old.samples, rec.samples)


def test_run_sweep_trains_an_explicit_member_list(tmp_path):
    sweep = _quick_sweep()
    picked = [sweep.members()[3], sweep.members()[0]]  # not a grid, any order
    result = run_sweep(sweep, tmp_path, progress=False, members=picked)
    assert result.trained == 2 and [r.config for r in result.records] == picked
    assert len(list((tmp_path / "ring8").glob("*.npz"))) == 2
    assert run_sweep(sweep, tmp_path, progress=False, members=picked[:1]).trained == 0
    # an off-grid point on the same base is allowed: only λ_G, λ_D and seed may differ
    off = sweep.base.replace(lambda_g=0.5, lambda_d=0.25, seed=7)
    assert run_sweep(sweep, tmp_path, progress=False, members=[off]).records[0].config == off
    with pytest.raises(ValueError, match="differs from the sweep's base config in more than"):
        run_sweep(sweep, tmp_path, progress=False, members=[sweep.base.replace(steps=41)])
    with pytest.raises(ValueError, match="members is empty"):
        run_sweep(sweep, tmp_path, progress=False, members=[])


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
    with pytest.raises(ValueError, match="lambda_d is the strength of d_regularizer='l2'"):
        SweepConfig(_toy_base(d_regularizer="r1", r1_gamma=1.0), lambda_d=(0.0, 1e-2))


def test_sweeps_carry_the_base_configs_d_regularizer_and_decay():
    sweep = SweepConfig(_toy_base(d_regularizer="r1", r1_gamma=1.0, weight_decay_g=1e-2), lambda_d=(0.0,))
    assert {(m.d_regularizer, m.r1_gamma, m.weight_decay_g) for m in sweep.members()} == {("r1", 1.0, 1e-2)}
    # the new fields enter the run key only when set
    plain = SweepConfig(_toy_base(), lambda_d=(0.0,))
    assert run_key(sweep.members()[0], sweep) != run_key(plain.members()[0], plain)
    assert "d_regularizer" not in plain.members()[0].to_dict()


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
    # each record holds what evaluate_run says of its own member's run (retrained here, one batch)
    data = load_dataset("digits8")
    runs = train_batched(sweep.members(), data, progress=False)
    for j, member in enumerate(sweep.members()):
        _, expected = evaluate_run(runs.histories[j], data, sweep.eval_last, clf)
        got = result.record(member.lambda_g, member.lambda_d, member.seed)
        for key in ("mean_confidence", "frechet_distance", "background_brightness", "classes_covered"):
            assert got.summary[key] == pytest.approx(expected[key], rel=1e-6), (key, j)
            assert got.summary[key] == pytest.approx(got.curves[key][-sweep.eval_last:].mean(), rel=1e-6)
    # a 6-step generator's tanh output is still near 0: brightness ≈ 0.5 on [0, 1], where real digits are ≈ 0
    assert abs(rec.summary["background_brightness"] - 0.5) < 0.05
    grid = result.grid("mean_confidence")
    assert np.isnan(grid[0, 1]) and np.isfinite(grid[1, 1])  # no run off the diagonal
    assert len(result.table()) == 2
    with pytest.raises(ValueError, match="same length"):
        SweepConfig(base, lambda_g=(0.0,), lambda_d=(0.0, 1e-2), diagonal=True)


# --- per-seed look-ups, map drift and loading (what notebooks 04 and 05 read) --------------


@pytest.fixture(scope="module")
def mnist5k_sweep():
    from gan_l2_lib.sweep import shipped_results_dir

    return run_sweep(SweepConfig.default("mnist5k"), shipped_results_dir(), progress=False, train_missing=False)


def test_seed_values_are_the_records_in_seed_order(mnist5k_sweep):
    res = mnist5k_sweep
    recs = res.records_at(1e-4, 1e-4)
    assert [r.config.seed for r in recs] == [0, 1, 2] and all(r.config.lambda_g == 1e-4 for r in recs)
    vals = res.seed_values("frechet_distance", 1e-4, 1e-4)
    assert vals.shape == (3,) and list(vals) == [r.summary["frechet_distance"] for r in recs]
    # the mean is the map's cell, exactly
    i = res.config.lambda_g.index(1e-4)
    assert res.mean("frechet_distance", 1e-4, 1e-4) == res.grid("frechet_distance")[i, i]
    assert abs(res.mean("frechet_distance", 1e-4, 1e-4) - 36.3) < 0.1  # notebook 04, statement 2


def test_seed_values_of_a_logged_scalar_average_its_last_logs(mnist5k_sweep):
    res = mnist5k_sweep
    recs = res.records_at(0.0, 0.0)
    assert list(res.seed_values("weight_norm_d", 0.0, 0.0)) == [r.scalars["weight_norm_d"][-1] for r in recs]
    tail = res.seed_values("weight_norm_d", 0.0, 0.0, last=20)
    assert_close(tail, np.array([r.scalars["weight_norm_d"][-20:].mean() for r in recs]))
    assert res.mean("weight_norm_d", 0.0, 0.0, last=20) == pytest.approx(tail.mean())
    # summary metrics are already averaged over the last evaluations: last does not apply
    assert list(res.seed_values("reverse_kl", 0.0, 0.0, last=5)) == list(res.seed_values("reverse_kl", 0.0, 0.0))


@pytest.mark.parametrize("args, match", [
    (("fid", 0.0, 0.0), "unknown metric 'fid'.*logged scalars"),
    (("reverse_kl", 0.5, 0.5), "no run with lambda_g=0.5"),
    (("reverse_kl", 0.0, 1e-2), "no run with"),  # a diagonal sweep has no off-diagonal runs
    (("weight_norm_d", 0.0, 0.0, 0), "last must be a positive integer"),
])
def test_seed_values_reject_bad_input(mnist5k_sweep, args, match):
    with pytest.raises(ValueError, match=match):
        mnist5k_sweep.seed_values(*args)
    with pytest.raises(ValueError, match=match):
        mnist5k_sweep.mean(*args)


def test_a_metric_some_runs_predate_reads_as_nan_not_an_error(mnist5k_sweep):
    """Files written before a metric existed lack it: its map cells are NaN, the others unchanged."""
    import dataclasses

    from gan_l2_lib.sweep import SweepResult

    res = mnist5k_sweep

    def without(rec, key):
        summary = {k: v for k, v in rec.summary.items() if k != key}
        return dataclasses.replace(rec, summary=summary, curves={k: v for k, v in rec.curves.items() if k != key})

    # every run predates it: a metric of the data set still gives a grid, all NaN
    old = SweepResult(res.config, [without(r, "mean_confidence") for r in res.records], 0, 0.0)
    assert "mean_confidence" in old.summary_keys() and not any("mean_confidence" in r.summary for r in old.records)
    assert old.grid("mean_confidence").shape == res.grid("mean_confidence").shape
    assert np.isnan(old.grid("mean_confidence")).all()
    assert np.isnan(old.seed_values("mean_confidence", 0.0, 0.0)).all() and np.isnan(old.mean("mean_confidence", 0.0, 0.0))
    assert all("mean_confidence" not in row for row in old.table())  # the table lists what was recorded
    assert_close(old.grid("frechet_distance"), res.grid("frechet_distance"), equal_nan=True)
    # seed 0 predates it at every point: the cells average the other seeds
    mixed = SweepResult(res.config, [without(r, "mean_confidence") if r.config.seed == 0 else r for r in res.records],
                        0, 0.0)
    for lam in res.config.lambda_g:
        vals = res.seed_values("mean_confidence", lam, lam)
        assert_close(mixed.seed_values("mean_confidence", lam, lam)[1:], vals[1:])
        assert np.isnan(mixed.seed_values("mean_confidence", lam, lam)[0])
        assert mixed.mean("mean_confidence", lam, lam) == pytest.approx(vals[1:].mean())
    # a metric of another data kind, or none at all, is still an error
    for bad in ("high_quality_fraction", "confident_modes_covered", "fid"):
        with pytest.raises(ValueError, match=f"unknown metric '{bad}'; available: "):
            old.grid(bad)


def test_records_at_rejects_a_point_off_the_grid(mnist5k_sweep):
    with pytest.raises(ValueError, match="no run with"):
        mnist5k_sweep.records_at(0.3, 0.3)


def test_map_drift_compares_the_last_evaluations_with_the_ones_before(mnist5k_sweep):
    res = mnist5k_sweep
    drift = res.map_drift("frechet_distance", n=3)
    assert drift.shape == (4, 4) and np.isnan(drift[0, 1]) and np.all(np.isfinite(np.diag(drift)))
    recs = res.records_at(1e-2, 1e-2)
    last = np.mean([r.curves["frechet_distance"][-3:].mean() for r in recs])
    before = np.mean([r.curves["frechet_distance"][-6:-3].mean() for r in recs])
    assert drift[3, 3] == pytest.approx(abs(last - before))
    assert np.all(np.isnan(res.map_drift("frechet_distance", n=6)))  # 10 evaluations < 2·6


@pytest.mark.parametrize("args, match", [
    (("weight_norm_d",), "no curves of 'weight_norm_d'"),
    (("frechet_distance", 0), "n must be a positive integer"),
])
def test_map_drift_rejects_bad_input(mnist5k_sweep, args, match):
    with pytest.raises(ValueError, match=match):
        mnist5k_sweep.map_drift(*args)


def test_load_sweep_prefers_shipped_then_cache_then_trains_the_fallback(tmp_path):
    from gan_l2_lib.sweep import load_sweep

    quick_ring = SweepConfig.default("ring8", quick=True)
    res, source = load_sweep(quick_ring, cache_dir=tmp_path)
    assert source == "shipped" and res.config == quick_ring and res.trained == 0
    wanted = _quick_sweep(eval_last=2)  # neither shipped nor cached: the fallback is trained
    fallback = _quick_sweep()
    res, source = load_sweep(wanted, fallback, cache_dir=tmp_path)
    assert source == "trained" and res.config == fallback and res.trained == 4
    res, source = load_sweep(wanted, fallback, cache_dir=tmp_path)
    assert source == "cache" and res.config == fallback and res.trained == 0
    res, source = load_sweep(fallback, cache_dir=tmp_path)
    assert source == "cache" and res.config == fallback


def test_load_sweep_rejects_bad_input_and_trains_only_a_fallback_it_may(tmp_path):
    from gan_l2_lib.sweep import load_sweep

    with pytest.raises(ValueError, match="sweep must be a SweepConfig"):
        load_sweep("ring8")
    with pytest.raises(ValueError, match="fallback must be a SweepConfig or None"):
        load_sweep(_quick_sweep(), fallback="quick")
    with pytest.raises(ValueError, match="not complete in .*no fallback"):
        load_sweep(_quick_sweep(), cache_dir=tmp_path)
    with pytest.raises(ValueError, match="train_missing_fallback=False"):
        load_sweep(_quick_sweep(), _quick_sweep(eval_last=2), cache_dir=tmp_path, train_missing_fallback=False)
    assert not list(tmp_path.rglob("*.npz"))


def test_point_sweep_scales_the_intervals_to_the_steps():
    from gan_l2_lib.sweep import point_sweep

    sweep = SweepConfig.default("ring8", quick=True)  # 300 steps, a log row every 20, an evaluation every 100
    point = point_sweep(sweep, 3e-3, 0.0, seed=1, steps=30)
    assert point.members() == [sweep.base.replace(steps=30, log_every=2, eval_every=10, lambda_g=3e-3,
                                                   lambda_d=0.0, seed=1)]
    assert (point.eval_last, point.n_stored_samples, point.diagonal) == (sweep.eval_last, sweep.n_stored_samples,
                                                                         False)
    assert point_sweep(sweep, 0.0, 1e-2, seed=np.int64(2)).base == sweep.base  # default: the sweep's steps
    short = point_sweep(sweep, 0.0, 0.0, seed=0, steps=1).base
    assert (short.steps, short.log_every, short.eval_every) == (1, 1, 1)  # intervals never below 1 step
    with pytest.raises(ValueError, match="lambda_d must be >= 0"):
        point_sweep(sweep, 1e-3, -1.0, seed=0)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        point_sweep(sweep, 1e-3, 0.0, seed=True)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        point_sweep(sweep, 1e-3, 0.0, seed=0, steps=0)


# --- what a fresh sweep returns, bad batch sizes, damaged files -------------------------------


def test_a_fresh_result_equals_the_same_sweep_loaded_later(tmp_path):
    fresh = run_sweep(_quick_sweep(), tmp_path, progress=False)
    again = run_sweep(_quick_sweep(), tmp_path, progress=False)
    assert fresh.trained == 4 and again.trained == 0
    for a, b in zip(fresh.records, again.records, strict=True):
        # the file stores samples and surfaces in float16: the fresh records are read back too
        np.testing.assert_array_equal(a.samples, b.samples)
        np.testing.assert_array_equal(a.surface, b.surface)
        assert a.summary.keys() == b.summary.keys()


def test_a_diverged_member_is_saved_loaded_and_drawn_and_the_survivors_equal_their_solo_runs(tmp_path):
    from gan_l2_lib import plotting
    from gan_l2_lib.evaluate import format_value
    from gan_l2_lib.train import train_gan

    # λ_D = 1e38 overflows D's float32 penalty to inf at the first step; the λ_D = 0 column trains on
    # (a larger learning rate, so 100 steps already put some samples on a mode)
    base = _toy_base(steps=100, batch_size=64, eval_every=50, n_eval_samples=200, lr_g=2e-3, lr_d=2e-3)
    sweep = SweepConfig(base, lambda_g=(0.0, 1e-2), lambda_d=(0.0, 1e38), seeds=(0,), n_stored_samples=50,
                        snapshots=10)
    res = run_sweep(sweep, tmp_path, progress=False)
    assert res.trained == 4
    data = load_dataset("ring8")
    for member in sweep.members():
        rec = load_record(run_path(member, sweep, tmp_path), run_key(member, sweep))  # the file, read back
        if member.lambda_d > 0:  # diverged at step 1: nothing logged, no samples, no surface
            assert rec.diverged and rec.diverged_step == 1
            assert rec.steps.shape == rec.eval_steps.shape == (0,) and rec.curves == {}
            assert rec.samples.shape == (0, 2) and rec.surface is None and rec.snapshot_samples is None
            assert all(rec.scalars[k].shape == (0,) for k in rec.scalars)
            assert (rec.summary["diverged"], rec.summary["diverged_step"]) == (1.0, 1.0)
            assert np.isnan(rec.summary["d_loss_tail_std"]) and "modes_covered" not in rec.summary
            continue
        # a survivor equals the same config trained alone by train_gan (the NaN of its batch
        # neighbour does not leak into it): logged rows, samples, D's surface, metrics
        assert not rec.diverged and rec.steps[-1] == 100
        solo = train_gan(member, data, progress=False)
        assert solo.history.steps == rec.steps.tolist() and solo.history.sample_steps == rec.eval_steps.tolist()
        for key, values in rec.scalars.items():
            assert_close(values, solo.history.array(key), rtol=1e-5, atol=1e-6, msg=key)
        # samples and surface are stored in float16: within its half step, 2^-11 relative
        assert_close(rec.samples, solo.history.samples[-1][:50].numpy(), rtol=1e-3, atol=1e-3)
        surface = _sigmoid_d_on_grid(member, solo.discriminator.state_dict(), rec.surface_extent, 48)
        assert_close(rec.surface, surface, rtol=0, atol=1e-3)
        _, summary = evaluate_run(solo.history, data, sweep.eval_last)
        assert summary.keys() == rec.summary.keys()
        assert_close(np.array([rec.summary[k] for k in summary]), np.array(list(summary.values())),
                     rtol=1e-4, atol=1e-6, equal_nan=True)
    # the maps: the diverged column is 1 on the divergence map and empty (grey, no number) elsewhere
    np.testing.assert_array_equal(res.grid("diverged"), [[0.0, 1.0], [0.0, 1.0]])
    modes = res.grid("modes_covered")
    assert np.isnan(modes[:, 1]).all() and np.isfinite(modes[:, 0]).all() and modes[:, 0].sum() > 0
    fig = plotting.plot_metric_maps(res, metrics=["modes_covered", "diverged"])
    modes_ax, diverged_ax = [ax for ax in fig.axes if ax.get_xlabel()]
    drawn = modes_ax.images[0].get_array()
    assert drawn.mask[:, 1].all() and not drawn.mask[:, 0].any()
    np.testing.assert_array_equal(drawn.data[:, 0], modes[:, 0])
    assert sorted((round(t.get_position()[1]), t.get_text()) for t in modes_ax.texts) == \
        [(i, format_value("modes_covered", modes[i, 0])) for i in range(2)]
    assert [t.get_text() for t in diverged_ax.texts] == ["0.00", "1.00", "0.00", "1.00"]
    plt.close(fig)


@pytest.mark.parametrize("max_batch", [0, -1, 1.5, True])
def test_bad_max_batch_is_rejected(tmp_path, max_batch):
    with pytest.raises(ValueError, match="max_batch must be"):
        run_sweep(_quick_sweep(), tmp_path, progress=False, max_batch=max_batch)
    assert not list(tmp_path.rglob("*.npz"))


def test_a_run_file_missing_an_entry_is_unreadable_and_trained_again(tmp_path):
    sweep = _quick_sweep()
    run_sweep(sweep, tmp_path, progress=False)
    victim = run_path(sweep.members()[0], sweep, tmp_path)
    with np.load(victim, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "scalar_d_loss"}
    with open(victim, "wb") as f:
        np.savez_compressed(f, **arrays)
    with pytest.raises(ValueError, match="unreadable run file .*scalar_d_loss"):
        load_record(victim)
    again = run_sweep(sweep, tmp_path, progress=False)
    assert again.trained == 1 and "d_loss" in load_record(victim).scalars


def test_a_file_of_an_unknown_schema_is_rejected_and_retrained(tmp_path):
    sweep = _quick_sweep()
    run_sweep(sweep, tmp_path, progress=False)
    victim = run_path(sweep.members()[2], sweep, tmp_path)
    with np.load(victim, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    assert meta["schema_version"] == SCHEMA_VERSION
    meta["schema_version"] = 99  # a file from a future (or foreign) writer, same key, same arrays
    arrays["meta"] = np.array(json.dumps(meta))
    with open(victim, "wb") as f:
        np.savez_compressed(f, **arrays)
    with pytest.raises(ValueError, match=re.escape(f"has schema 99, expected one of {READABLE_SCHEMAS}")):
        load_record(victim)
    with pytest.raises(ValueError, match="1 of 4 runs are not in"):  # not silently reused
        run_sweep(sweep, tmp_path, progress=False, train_missing=False)
    again = run_sweep(sweep, tmp_path, progress=False)
    assert again.trained == 1  # only the stale file; the other three are reused
    with np.load(victim, allow_pickle=False) as z:
        assert json.loads(str(z["meta"]))["schema_version"] == SCHEMA_VERSION  # replaced on disk
    assert load_record(victim).key == again.records[2].key


def _rewrite_meta(path, change) -> None:
    """Rewrite a run file with ``change(meta)`` applied to its meta (the arrays kept)."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = change(json.loads(str(arrays["meta"])))
    arrays["meta"] = np.array(json.dumps(meta))
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


def test_load_record_reads_schema_1_keys_and_names_every_unreadable_schema(tmp_path):
    import dataclasses

    from gan_l2_lib.sweep import save_record

    sweep = _quick_sweep()
    ring = run_sweep(sweep, tmp_path, progress=False, members=sweep.members()[:1]).records[0]
    # a digit run as schema 1 wrote it: classes covered stored under "modes_covered"
    digits = dataclasses.replace(ring, config=TrainConfig.preset("digits8", steps=40), key="d" * 20,
                                 samples=np.zeros((2, 1, 8, 8), np.float32), surface=None, surface_extent=None,
                                 curves={"modes_covered": np.array([3.0, 5.0])},
                                 summary={"modes_covered": 4.0, "diverged": 0.0})
    path = tmp_path / "digits.npz"
    save_record(digits, path)
    assert load_record(path).summary == {"modes_covered": 4.0, "diverged": 0.0}  # schema 2: read as written

    def schema(version):
        def change(meta):
            meta["schema_version"] = version
            return meta
        return change

    _rewrite_meta(path, schema(1))
    old = load_record(path, "d" * 20)
    assert old.summary == {"classes_covered": 4.0, "diverged": 0.0}
    assert list(old.curves) == ["classes_covered"] and old.curves["classes_covered"].tolist() == [3.0, 5.0]
    # on 2-D data schema 1 already meant modes: nothing is renamed
    ring_path = run_path(ring.config, sweep, tmp_path)
    _rewrite_meta(ring_path, schema(1))
    assert load_record(ring_path).summary == ring.summary
    # any other version (or none) is refused, and the message names it
    for version in (0, 3, 99, "2", 2.5, None):
        _rewrite_meta(path, schema(version))
        with pytest.raises(ValueError, match=re.escape(f"{path} has schema {version}, expected one of (1, 2)")):
            load_record(path)
    _rewrite_meta(path, lambda meta: {k: v for k, v in meta.items() if k != "schema_version"})
    with pytest.raises(ValueError, match=re.escape("has schema None, expected one of (1, 2)")):
        load_record(path)
    _rewrite_meta(path, lambda meta: [meta])  # valid JSON, not a meta dict
    with pytest.raises(ValueError, match=re.escape("has schema None, expected one of (1, 2)")):
        load_record(path)


def test_a_cached_image_run_scored_by_another_classifier_is_scored_again(tmp_path, tiny_classifier):
    from gan_l2_lib.classifier import ClassifierConfig, load_or_train_classifier

    clf_a = tiny_classifier[0]
    clf_b = load_or_train_classifier(ClassifierConfig.preset("digits8", epochs=1), cache_dir=tmp_path / "clf")
    assert clf_a.config.config_hash() != clf_b.config.config_hash()
    base = TrainConfig.preset("digits8", steps=6, log_every=2, eval_every=3, n_eval_samples=20, latent_dim=8)
    sweep = SweepConfig(base, lambda_g=(0.0,), lambda_d=(0.0,), seeds=(0,), n_stored_samples=4)
    first = run_sweep(sweep, tmp_path / "runs", progress=False, classifier=clf_a)
    assert first.records[0].classifier_hash == clf_a.config.config_hash()
    assert run_sweep(sweep, tmp_path / "runs", progress=False, classifier=clf_a).trained == 0
    again = run_sweep(sweep, tmp_path / "runs", progress=False, classifier=clf_b)
    assert again.trained == 1 and again.records[0].classifier_hash == clf_b.config.config_hash()
    # the scoring classifier is in the key: each scoring has its own file, neither overwritten
    path_a, path_b = (run_path(base, sweep, tmp_path / "runs", c.config.config_hash()) for c in (clf_a, clf_b))
    assert path_a != path_b and path_a.stem.rsplit("_", 1)[0] == path_b.stem.rsplit("_", 1)[0]
    assert load_record(path_b).classifier_hash == clf_b.config.config_hash()
    assert load_record(path_a).classifier_hash == clf_a.config.config_hash()
    assert run_sweep(sweep, tmp_path / "runs", progress=False, classifier=clf_a).trained == 0
    # a file renamed to the other classifier's key is not reused either: it is named, with why
    path_b.rename(path_a)
    with pytest.raises(ValueError, match=f"{path_a.name} is unreadable or stale: .* holds run {again.records[0].key}"):
        run_sweep(sweep, tmp_path / "runs", progress=False, classifier=clf_a, train_missing=False)


# --- snapshots: samples and D's surface at every evaluation -------------------------------------


def test_snapshots_are_stored_at_every_evaluation_and_round_trip(tmp_path):
    from gan_l2_lib.sweep import SNAPSHOT_RES

    sweep = _quick_sweep(snapshots=30)
    res = run_sweep(sweep, tmp_path, progress=False)
    for rec in res.records:
        n_eval = len(rec.eval_steps)
        assert n_eval == 2 and rec.snapshots == 30
        assert rec.snapshot_samples.shape == (n_eval, 30, 2)
        assert rec.snapshot_surfaces.shape == (n_eval, SNAPSHOT_RES, SNAPSHOT_RES)
        # the last snapshot is the start of the samples the record keeps (float16 on disk)
        assert_close(rec.snapshot_samples[-1], rec.samples[:30], rtol=0, atol=0)
        again = load_record(run_path(rec.config, sweep, tmp_path), rec.key)
        assert_close(again.snapshot_surfaces, rec.snapshot_surfaces)
    # each stored surface is σ(D) of D as it was at that evaluation: the same batch trained only
    # up to that step (the first steps of a longer run are the same steps), read on the grid here
    data = load_dataset("ring8")
    for e, step in enumerate(res.records[0].eval_steps):
        members = [m.replace(steps=int(step)) for m in sweep.members()]
        runs = train_batched(members, data, progress=False)
        for j, member in enumerate(sweep.members()):
            rec = res.record(member.lambda_g, member.lambda_d, member.seed)
            expected = _sigmoid_d_on_grid(member, runs.member_state("d", j), rec.surface_extent, SNAPSHOT_RES)
            assert np.ptp(expected) > 0.01  # not flat: a transposed, shifted or stale surface would differ
            # stored in 8 bits: within half a level, 0.5 / 255
            assert_close(rec.snapshot_surfaces[e], expected, rtol=0, atol=0.5 / 255 + 1e-6)
    first, last = res.records[0].snapshot_surfaces
    assert np.abs(first - last).max() > 4 / 255  # D moved between the evaluations


def test_snapshots_change_the_run_key_only_when_kept():
    plain, kept = _quick_sweep(), _quick_sweep(snapshots=30)
    cfg = plain.members()[0]
    assert run_path(cfg, plain, "c") == run_path(cfg, _quick_sweep(snapshots=0), "c")
    assert run_path(cfg, plain, "c") != run_path(cfg, kept, "c")
    # files of sweeps without snapshots keep their names: a shipped mnist5k file is still found
    from gan_l2_lib.sweep import shipped_results_dir
    shipped = SweepConfig.default("mnist5k")
    assert shipped.snapshots == 0
    assert run_path(shipped.members()[0], shipped, shipped_results_dir()).exists()


def test_records_without_snapshots_load_with_none(tmp_path):
    res = run_sweep(_quick_sweep(), tmp_path, progress=False)
    rec = res.records[0]
    assert rec.snapshots == 0 and rec.snapshot_samples is None and rec.snapshot_surfaces is None


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_snapshots_must_be_a_count(bad):
    with pytest.raises(ValueError, match=r"snapshots must be an integer >= 0"):
        _quick_sweep(snapshots=bad)


def test_evidence_sweeps_have_ten_seeds_and_average_the_last_quarter():
    from gan_l2_lib.sweep import ARTICLE_LAMBDA, NULL_LAMBDA, evidence_sweeps

    sweeps = evidence_sweeps()
    for name in ("ring8", "grid25"):
        grid, null = SweepConfig.default(name), sweeps[f"{name}_null"]
        assert len(grid.members()) == 250 and grid.seeds == tuple(range(10)) and null.seeds == grid.seeds
        n_evals = grid.base.steps // grid.base.eval_every
        assert grid.base.eval_every <= 500 and grid.eval_last * 4 == n_evals
        assert null.base == grid.base and null.lambda_g == null.lambda_d == (NULL_LAMBDA,)
    article = sweeps["ring8_article"]
    assert article.base.halve_d_loss and not SweepConfig.default("ring8").base.halve_d_loss
    assert [(m.lambda_g, m.lambda_d) for m in article.members()][::10] == [(0.0, 0.0), (ARTICLE_LAMBDA,) * 2]
    long = sweeps["ring8_b256"]
    assert long.base.batch_size == 256 and long.eval_last * 4 * long.base.eval_every == long.base.steps


# --- paired effects against a baseline cell (notebook 06's verdicts) --------------------------


@pytest.fixture(scope="module")
def ring8_sweep():
    from gan_l2_lib.sweep import shipped_results_dir, shipped_sweeps

    return run_sweep(shipped_sweeps()["ring8"], shipped_results_dir(), progress=False, train_missing=False)


def _relabelled(result, cell, seeds, lam=1e-8):
    """A one-cell sweep at λ_G = λ_D = ``lam`` whose runs are ``result``'s at ``cell`` (seed s → seeds[k])."""
    import dataclasses

    from gan_l2_lib.sweep import SweepResult

    cfg = SweepConfig(result.config.base, lambda_g=(lam,), lambda_d=(lam,), seeds=tuple(seeds))
    recs = [dataclasses.replace(r, config=r.config.replace(lambda_g=lam, lambda_d=lam, seed=s))
            for r, s in zip(result.records_at(*cell), seeds, strict=False)]
    return SweepResult(cfg, recs, trained=0, wall_time_s=0.0)


def test_a_cells_effect_is_its_per_seed_difference_to_the_baseline(ring8_sweep):
    from gan_l2_lib.evaluate import METRICS
    from gan_l2_lib.metrics import effect_verdict
    from gan_l2_lib.sweep import cell_effect

    res = ring8_sweep
    eff = cell_effect(res, "modes_covered", (1e-4, 1e-4))
    want = res.seed_values("modes_covered", 1e-4, 1e-4) - res.seed_values("modes_covered", 0.0, 0.0)
    assert_close(np.array(eff.deltas), want)
    assert_close(eff.mean, float(want.mean()))
    assert eff.seeds == tuple(range(10)) and eff.n == 10 and eff.dropped_seeds == () and eff.low <= eff.mean <= eff.high
    assert eff.verdict == effect_verdict(eff.low, eff.high, METRICS["modes_covered"].higher_is_better)
    assert cell_effect(res, "modes_covered", (1e-4, 1e-4), rng=0) == eff  # deterministic
    # D's loss std is lower-is-better: λ_D = 0.1 stills it in every seed, so it reads "better"
    calm = cell_effect(res, "d_loss_tail_std", (0.0, 0.1))
    assert max(calm.deltas) < 0 and calm.verdict == "better"
    # a logged scalar has no better direction: higher / lower
    assert cell_effect(res, "weight_norm_d", (0.0, 0.1), last=20).verdict in ("higher", "lower", "neutral")


def test_a_seed_nan_in_either_cell_is_dropped_and_counted(ring8_sweep):
    from gan_l2_lib.sweep import cell_effect

    res = ring8_sweep
    nan_seeds = [s for s, v in res.values_by_seed("reverse_kl", 1e-2, 1e-2).items() if not np.isfinite(v)]
    assert nan_seeds == [2]  # the shipped run: seed 2 puts no sample near a mode there
    eff = cell_effect(res, "reverse_kl", (1e-2, 1e-2))
    assert eff.seeds == (0, 1, 3, 4, 5, 6, 7, 8, 9) and eff.dropped_seeds == (2,) and eff.n_dropped == 1


def test_effect_grid_holds_every_cells_effect_shaped_like_the_map(ring8_sweep):
    from gan_l2_lib.sweep import cell_effect, effect_grid

    res = ring8_sweep
    grid = effect_grid(res, "reverse_kl")
    assert grid.shape == grid.mean.shape == grid.verdict.shape == grid.n.shape == (5, 5)
    assert grid.baseline == (0.0, 0.0) and grid.baseline_index == (0, 0)
    assert (grid.mean[0, 0], grid.low[0, 0], grid.high[0, 0], grid.verdict[0, 0]) == (0.0, 0.0, 0.0, "neutral")
    for (g, d), eff in grid.effects.items():
        i, j = res.config.lambda_g.index(g), res.config.lambda_d.index(d)
        assert cell_effect(res, "reverse_kl", (g, d)) == eff  # one fresh generator per cell
        assert (grid.mean[i, j], grid.low[i, j], grid.high[i, j], grid.verdict[i, j], grid.n[i, j]) == \
            (eff.mean, eff.low, eff.high, eff.verdict, eff.n)
    # cells with fewer than 2 seeds finite in both: no effect, NaN and ""
    few = grid.n < 2
    assert few.any() and np.isnan(grid.mean[few]).all() and set(grid.verdict[few]) == {""}
    assert len(grid.effects) == int((~few).sum())


def test_with_two_or_three_seeds_the_percentile_interval_is_the_range_of_the_deltas(ring8_sweep):
    from gan_l2_lib.sweep import effect_grid

    first3 = _first_seeds(ring8_sweep, 3)
    grid = effect_grid(first3, "high_quality_fraction", method="percentile")
    assert len(grid.effects) == 25 and all(eff.n == 3 for eff in grid.effects.values())
    for eff in grid.effects.values():  # every resample of one repeated value has probability ≥ 1/27 > 2.5 %
        assert_close((eff.low, eff.high), (min(eff.deltas), max(eff.deltas)))
        assert eff.method in ("percentile", "constant")


def _first_seeds(result, n):
    """The sweep ``result`` cut to its first ``n`` seeds."""
    import dataclasses

    from gan_l2_lib.sweep import SweepResult

    seeds = result.config.seeds[:n]
    return SweepResult(dataclasses.replace(result.config, seeds=seeds),
                       [r for r in result.records if r.config.seed in seeds], trained=0, wall_time_s=0.0)


def test_effect_grid_of_a_diagonal_sweep_leaves_the_off_diagonal_empty(mnist5k_sweep):
    from gan_l2_lib.sweep import effect_grid

    grid = effect_grid(mnist5k_sweep, "frechet_distance")
    off = ~np.eye(4, dtype=bool)
    assert np.isnan(grid.mean[off]).all() and set(grid.verdict[off]) == {""} and (grid.n[off] == 0).all()
    assert np.isfinite(np.diag(grid.mean)).all() and len(grid.effects) == 4


def test_a_null_sweep_pairs_with_the_main_grids_baseline(ring8_sweep):
    from gan_l2_lib.sweep import cell_effect, effect_grid

    res = ring8_sweep
    # a "null" sweep whose runs are the baseline's own: no effect at all
    same = _relabelled(res, (0.0, 0.0), range(10))
    eff = cell_effect(same, "modes_covered", (1e-8, 1e-8), baseline_result=res)
    assert eff.deltas == (0.0,) * 10 and eff.verdict == "neutral" and eff.low == eff.high == 0.0
    # runs of another cell relabelled as the null sweep: the same effect as inside the grid
    moved = _relabelled(res, (1e-4, 0.0), range(10))
    assert cell_effect(moved, "high_quality_fraction", (1e-8, 1e-8), baseline_result=res) == \
        cell_effect(res, "high_quality_fraction", (1e-4, 0.0))
    grid = effect_grid(moved, "high_quality_fraction", baseline_result=res)
    assert grid.shape == (1, 1) and grid.baseline_index is None and grid.n[0, 0] == 10
    # seeds the two sweeps do not share are dropped and listed
    partial = _relabelled(res, (1e-4, 0.0), (1, 2, 15))
    eff = cell_effect(partial, "high_quality_fraction", (1e-8, 1e-8), baseline_result=res)
    assert eff.seeds == (1, 2) and eff.dropped_seeds == (0, 3, 4, 5, 6, 7, 8, 9, 15)


@pytest.mark.parametrize("call, match", [
    (lambda res, mn: _cell(res, "fid", (1e-4, 1e-4)), "unknown metric 'fid'"),
    (lambda res, mn: _cell(res, "modes_covered", (1e-4, 1e-4), baseline=(0.5, 0.0)),
     r"the baseline cell \(lambda_g, lambda_d\) = \(0.5, 0\) is not in the grid"),
    (lambda res, mn: _cell(res, "modes_covered", (3e-4, 1e-4)), r"the cell .* = \(0.0003, 0.0001\) is not in"),
    (lambda res, mn: _cell(res, "modes_covered", (1e-4, 1e-4), baseline_result=_relabelled(res, (0.0, 0.0), (0, 1))),
     r"the baseline cell .* = \(0, 0\) is not in the grid lambda_g \(1e-08,\)"),
    (lambda res, mn: _cell(_relabelled(res, (0.0, 0.0), (17, 18)), "modes_covered", (1e-8, 1e-8), baseline_result=res),
     "no common seeds"),
    (lambda res, mn: _cell(res, "reverse_kl", (1e-1, 1e-2)), "fewer than 2 pairs: 1 seed"),
    (lambda res, mn: _cell(mn, "frechet_distance", (0.0, 1e-2)), "not in the diagonal of"),
    (lambda res, mn: _cell(mn, "reverse_kl", (0.0, 0.0), baseline_result=res), "cannot pair runs on mnist5k"),
    (lambda res, mn: _grid(res, "fid"), "unknown metric 'fid'"),
    (lambda res, mn: _grid(res, "modes_covered", baseline=(1e-8, 0.0)), "the baseline cell"),
    (lambda res, mn: _grid(_relabelled(res, (0.0, 0.0), (17,)), "modes_covered", baseline_result=res),
     "no common seeds"),
    (lambda res, mn: _grid(res, "modes_covered", baseline_result="sweep"), "baseline_result must be a SweepResult"),
])
def test_paired_effects_reject_what_they_cannot_pair(ring8_sweep, mnist5k_sweep, call, match):
    with pytest.raises(ValueError, match=match):
        call(ring8_sweep, mnist5k_sweep)


def _cell(*args, **kw):
    from gan_l2_lib.sweep import cell_effect

    return cell_effect(*args, **kw)


def _grid(*args, **kw):
    from gan_l2_lib.sweep import effect_grid

    return effect_grid(*args, **kw)


def test_plateau_effect_pairs_each_seeds_last_window_with_the_window_before():
    from gan_l2_lib.sweep import plateau_effect, shipped_results_dir

    res = run_sweep(SweepConfig.default("ring8"), shipped_results_dir(), progress=False, train_missing=False)
    eff = plateau_effect(res, "high_quality_fraction", window=3, method="percentile")
    want = [r.curves["high_quality_fraction"][-3:].mean() - r.curves["high_quality_fraction"][-6:-3].mean()
            for r in res.records_at(0.0, 0.0)]
    assert eff.seeds == tuple(range(10))
    assert_close(np.array(eff.deltas), np.array(want))
    assert eff.low <= eff.mean <= eff.high
    # the window defaults to the sweep's eval_last (10 of ring8's 40 evaluations)
    assert res.config.eval_last == 10
    ten = [r.curves["high_quality_fraction"][-10:].mean() - r.curves["high_quality_fraction"][-20:-10].mean()
           for r in res.records_at(0.0, 0.0)]
    assert_close(np.array(plateau_effect(res, "high_quality_fraction", method="percentile").deltas), np.array(ten))
    with pytest.raises(ValueError, match="'d_loss' has no curves"):
        plateau_effect(res, "d_loss")
    with pytest.raises(ValueError, match="window must be a positive integer"):
        plateau_effect(res, "modes_covered", window=0)
    with pytest.raises(ValueError, match="fewer than 2"):
        plateau_effect(res, "modes_covered", window=21)  # 40 evaluations hold one window of 21, not two


def test_quality_aware_stacked_sweep_is_the_default_base_with_10k_samples_and_l2_on_d_only():
    from gan_l2_lib.sweep import ARTICLE_LAMBDA, evidence_sweeps, run_key, shipped_sweeps

    sweep = evidence_sweeps()["stacked_mnist_quality"]
    default = SweepConfig.default("stacked_mnist")
    assert sweep.base == default.base.replace(n_eval_samples=10_000) and sweep.base.n_eval_samples >= 10_000
    assert not sweep.diagonal and sweep.seeds == tuple(range(5))
    assert [(m.lambda_g, m.lambda_d, m.seed) for m in sweep.members()] == \
        [(0.0, d, s) for d in (0.0, ARTICLE_LAMBDA, 1e-3) for s in range(5)]
    n_evals = sweep.base.steps // sweep.base.eval_every
    assert n_evals == 10 and sweep.eval_last == n_evals // 4 == 2
    assert (sweep.n_stored_samples, sweep.snapshots) == (64, 16)
    # its runs are new files: none shares a key with a run of another shipped sweep
    shipped = {run_key(m, s) for name, s in shipped_sweeps().items() if name != "stacked_mnist_quality"
               for m in s.members()}
    assert not shipped & {run_key(m, sweep) for m in sweep.members()}


def test_a_sweep_on_a_split_records_ds_gap_curves(tmp_path):
    # a data set with held-out images: the batch reads D on training and held-out images at every
    # evaluation (``evaluate.overfitting_probes``) and the records keep the held-out metrics
    from gan_l2_lib.data import load_images
    from gan_l2_lib.sweep import save_record, train_chunk

    base = TrainConfig.preset("mnist5k_train1k", steps=20, log_every=5, eval_every=10, n_eval_samples=40)
    sweep = SweepConfig(base, lambda_g=(0.0,), lambda_d=(0.0, 1e-2), seeds=(0,), n_stored_samples=4)
    records = train_chunk(sweep.members(), sweep, load_images("mnist5k_train1k"))
    for rec in records:
        assert len(rec.curves["d_gap_prob"]) == len(rec.eval_steps) == 2
        assert np.isfinite(rec.summary["d_held_out_accuracy"]) and np.isfinite(rec.summary["copying_z"])
        path = tmp_path / "r.npz"
        save_record(rec, path)
        assert_close(load_record(path, run_key(rec.config, sweep)).curves["d_gap_logit"], rec.curves["d_gap_logit"],
                     rtol=1e-6, atol=1e-6)
    assert records[0].curves["d_gap_logit"].tolist() != records[1].curves["d_gap_logit"].tolist()


def test_regularizer_sweeps_are_the_ring8_harness_with_only_ds_regularizer_changed():
    from gan_l2_lib.sweep import ADAMW_DECAYS, R1_GAMMAS, named_sweeps, regularizer_sweeps, run_key

    sweeps = regularizer_sweeps()
    grid = SweepConfig.default("ring8")
    assert sorted(sweeps) == sorted([f"ring8_r1_{g:g}" for g in R1_GAMMAS] + ["ring8_spectral_norm"]
                                    + [f"ring8_adamw_{r:g}" for r in ADAMW_DECAYS])
    baseline = grid.members()[: len(grid.seeds)]  # the (0, 0) cell: seed s pairs with seed s
    for name, sweep in sweeps.items():
        assert (sweep.seeds, sweep.eval_last, sweep.snapshots) == (grid.seeds, grid.eval_last, grid.snapshots)
        members = sweep.members()
        assert [(m.lambda_g, m.lambda_d) for m in members] == [(0.0, 0.0)] * 10
        changed = {k for k, v in members[0].to_dict().items() if baseline[0].to_dict().get(k) != v}
        assert changed <= {"d_regularizer", "r1_gamma", "weight_decay_d"} and changed, (name, changed)
        assert [m.seed for m in members] == [m.seed for m in baseline]
        assert not {run_key(m, sweep) for m in members} & {run_key(m, grid) for m in grid.members()}
    assert sweeps["ring8_r1_1"].base.r1_gamma == 1.0 and sweeps["ring8_adamw_0.1"].base.weight_decay_d == 0.1
    assert set(sweeps) <= set(named_sweeps())


def test_dead_d_fraction_counts_the_seeds_whose_surface_is_flat(ring8_sweep):
    from gan_l2_lib.sweep import dead_d_fraction

    dead = dead_d_fraction(ring8_sweep)
    assert dead.shape == (5, 5)
    g, d = ring8_sweep.config.lambda_g.index(0.0), ring8_sweep.config.lambda_d.index(1e-2)
    flat = [float(np.ptp(r.surface)) < 1e-3 for r in ring8_sweep.records_at(0.0, 1e-2)]
    assert dead[g, d] == np.mean(flat) == 0.4  # seeds 0, 3, 7 and 9 of the shipped runs
    assert dead[g, ring8_sweep.config.lambda_d.index(1e-1)] == 1.0 and dead[0, 0] == 0.0
    assert dead_d_fraction(ring8_sweep, tol=2.0)[0, 0] == 1.0  # every range is below 2
    with pytest.raises(ValueError, match="tol must be >= 0"):
        dead_d_fraction(ring8_sweep, tol=-1.0)


def test_collapsed_fraction_counts_the_seeds_on_at_most_one_mode(ring8_sweep):
    from gan_l2_lib.sweep import collapsed_fraction

    collapsed = collapsed_fraction(ring8_sweep)
    assert collapsed.shape == (5, 5)
    covered = ring8_sweep.seed_values("modes_covered", 0.0, 0.0)
    assert collapsed[0, 0] == np.mean(covered <= 1) == 0.8  # 8 of the 10 unpenalized seeds (notebook 06)
    top = ring8_sweep.config.lambda_g.index(1e-1)
    assert (collapsed[top] == 1.0).all()  # both-strong row: every seed on at most one mode
    assert collapsed_fraction(ring8_sweep, most=8)[0, 0] == 1.0 and collapsed_fraction(ring8_sweep, most=0)[0, 0] < 0.8
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="most must be >= 0"):
            collapsed_fraction(ring8_sweep, most=bad)


def test_overfitting_sweeps_train_the_article_networks_on_the_1k_split_with_l2_on_d():
    from gan_l2_lib.sweep import ARTICLE_LAMBDA, named_sweeps, overfitting_sweeps

    sweeps = overfitting_sweeps()
    digits = SweepConfig.default("mnist5k")
    for sweep in sweeps.values():
        assert sweep.base == digits.base.replace(dataset="mnist5k_train1k") and sweep.seeds == (0, 1, 2)
        assert sweep.eval_last == sweep.base.steps // sweep.base.eval_every // 4 == 2 and sweep.snapshots == 16
    assert [(m.lambda_g, m.lambda_d) for m in sweeps["mnist1k_l2_d"].members()][::3] == \
        [(0.0, d) for d in (0.0, ARTICLE_LAMBDA, 1e-3, 1e-2)]
    assert {(m.lambda_g, m.lambda_d) for m in sweeps["mnist1k_article"].members()} == {(ARTICLE_LAMBDA,) * 2}
    assert set(sweeps) <= set(named_sweeps())


def test_a_run_made_by_another_training_version_is_reported_stale_by_name(tmp_path, monkeypatch):
    """Bumping RUN_KEY_VERSION changes every key: the old files are named as stale, never reused."""
    import gan_l2_lib.sweep as sweep_module

    sweep = _quick_sweep()
    run_sweep(sweep, tmp_path, progress=False)
    old = run_path(sweep.members()[0], sweep, tmp_path).name
    monkeypatch.setattr(sweep_module, "RUN_KEY_VERSION", sweep_module.RUN_KEY_VERSION + 1)
    assert run_path(sweep.members()[0], sweep, tmp_path).name != old
    with pytest.raises(ValueError, match=r"4 of 4 runs are not in .*stale file\(s\) for the same run with another "
                                         rf"key: {re.escape(old)} \(made by another training version"):
        run_sweep(sweep, tmp_path, progress=False, train_missing=False)
    with pytest.raises(ValueError, match="neither the sweep nor its fallback"):
        load_sweep(sweep, fallback=sweep, cache_dir=tmp_path, train_missing_fallback=False)


def test_the_scoring_classifier_enters_image_run_keys_only_when_it_is_not_todays():
    from gan_l2_lib.classifier import ClassifierConfig
    from gan_l2_lib.files import stable_hash
    from gan_l2_lib.sweep import KEYLESS_CLASSIFIER, RUN_KEY_VERSION

    for name in ("mnist5k", "stacked_mnist", "digits8"):
        sweep = SweepConfig.default(name, quick=True)
        cfg = sweep.members()[0]
        today = ClassifierConfig.preset(name).config_hash()
        assert KEYLESS_CLASSIFIER[ClassifierConfig.preset(name).dataset] == today  # the shipped files' names stay
        plain = stable_hash({"schema": RUN_KEY_VERSION, "config": cfg.to_dict(), "eval_last": sweep.eval_last,
                             "n_stored_samples": sweep.n_stored_samples}
                            | ({"snapshots": sweep.snapshots} if sweep.snapshots else {}), 20)
        assert run_key(cfg, sweep) == run_key(cfg, sweep, today) == plain
        other = ClassifierConfig.preset(name, epochs=1).config_hash()
        assert run_key(cfg, sweep, other) != plain
        assert run_path(cfg, sweep, "x", other).name.endswith(f"_{run_key(cfg, sweep, other)}.npz")


def test_a_file_keyed_without_its_classifier_is_checked_against_the_stored_one(tmp_path, tiny_classifier,
                                                                               monkeypatch):
    """Files keyed before the classifier entered the key (``KEYLESS_CLASSIFIER``) carry its hash:
    scored by another classifier, such a file is reported stale, not reused."""
    import gan_l2_lib.sweep as sweep_module
    from gan_l2_lib.classifier import ClassifierConfig, load_or_train_classifier

    clf_a = tiny_classifier[0]
    clf_b = load_or_train_classifier(ClassifierConfig.preset("digits8", epochs=1), cache_dir=tmp_path / "clf")
    base = TrainConfig.preset("digits8", steps=6, log_every=2, eval_every=3, n_eval_samples=20, latent_dim=8)
    sweep = SweepConfig(base, lambda_g=(0.0,), lambda_d=(0.0,), seeds=(0,), n_stored_samples=4)
    monkeypatch.setitem(sweep_module.KEYLESS_CLASSIFIER, "digits8", clf_a.config.config_hash())
    run_sweep(sweep, tmp_path, progress=False, classifier=clf_a)
    name = run_path(base, sweep, tmp_path, clf_a.config.config_hash()).name
    monkeypatch.setitem(sweep_module.KEYLESS_CLASSIFIER, "digits8", clf_b.config.config_hash())
    assert run_path(base, sweep, tmp_path, clf_b.config.config_hash()).name == name  # same key, other scorer
    with pytest.raises(ValueError, match=f"{name} is stale: scored by classifier {clf_a.config.config_hash()}, "
                                         f"expected {clf_b.config.config_hash()}"):
        run_sweep(sweep, tmp_path, progress=False, classifier=clf_b, train_missing=False)


def test_record_from_history_keeps_every_evaluation_as_a_snapshot(lab_sweeps, tmp_path):
    from gan_l2_lib.data import load_digits8
    from gan_l2_lib.plotting import save_replay_gif
    from gan_l2_lib.sweep import record_from_history, save_record
    from gan_l2_lib.train import train_gan

    clf = lab_sweeps[2]
    data = load_digits8()
    cfg = TrainConfig.preset("digits8", steps=6, log_every=2, eval_every=2, n_eval_samples=20, latent_dim=8)
    hist = train_gan(cfg, data, "cpu", progress=False).history
    rec = record_from_history(cfg, hist, data, clf, snapshots=5, n_stored_samples=12, eval_last=2)
    assert rec.snapshot_samples.shape == (3, 5, 1, 8, 8) and rec.samples.shape == (12, 1, 8, 8)
    assert_close(rec.snapshot_samples, torch.stack([x[:5] for x in hist.samples]).numpy())
    assert list(rec.eval_steps) == [2, 4, 6] and len(rec.curves["classes_covered"]) == 3
    assert rec.surface is None and rec.snapshot_surfaces is None
    # it is the run a one-member sweep with these fields would store, under the same key
    one = SweepConfig(cfg, lambda_g=(0.0,), lambda_d=(0.0,), seeds=(cfg.seed,), eval_last=2, n_stored_samples=12,
                      snapshots=5)
    assert rec.key == run_key(cfg, one, clf.config.config_hash())
    save_record(rec, tmp_path / "run.npz")
    back = load_record(tmp_path / "run.npz", expected_key=rec.key)
    assert_close(back.snapshot_samples, rec.snapshot_samples, atol=1 / 127.5, rtol=0)  # stored in 8 bits
    with Image.open(save_replay_gif(back, tmp_path / "run.gif")) as gif:  # the export works on it (Pillow)
        assert gif.format == "GIF" and gif.n_frames == 3


def test_record_from_history_rejects_bad_arguments(lab_sweeps):
    from gan_l2_lib.data import load_digits8
    from gan_l2_lib.sweep import record_from_history
    from gan_l2_lib.train import History, train_gan

    data = load_digits8()
    cfg = TrainConfig.preset("digits8", steps=4, log_every=2, eval_every=2, n_eval_samples=8, latent_dim=8)
    hist = train_gan(cfg, data, "cpu", progress=False).history
    with pytest.raises(ValueError, match="history has no evaluation with samples"):
        record_from_history(cfg, History(config=cfg.to_dict()), data)
    with pytest.raises(ValueError, match="snapshots must be a positive integer"):
        record_from_history(cfg, hist, data, snapshots=0)
    with pytest.raises(ValueError, match="eval_last must be at most the run's 2 evaluations, got 3"):
        record_from_history(cfg, hist, data, eval_last=3)
