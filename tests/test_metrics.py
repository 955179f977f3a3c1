"""Tests for gan_l2_lib.metrics: mode statistics, curves, class and stacked statistics, Fréchet
distance, background noise and stability (the classifier itself: test_classifier.py)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from gan_l2_lib.classifier import classify, stacked_probs
from gan_l2_lib.data import make_mixture, make_stacked
from gan_l2_lib.metrics import (
    CONFIDENT,
    ModeCurve,
    background_mask,
    background_noise,
    class_curve,
    class_stats,
    class_stats_from_probs,
    classifier_frechet_distance,
    count_spikes,
    frechet_distance,
    frechet_distance_from_stats,
    kl_to_uniform,
    mode_curve,
    mode_stats,
    stability_stats,
    stacked_stats,
    stacked_stats_from_probs,
    summarize_last,
    trend_spread,
)
from gan_l2_lib.train import SCALAR_KEYS, History, TrainConfig, probe_row, train_gan

RING = make_mixture("ring8")
LOG8 = math.log(8)


def _from_modes(modes: list[int], per_mode: int, seed: int = 0) -> torch.Tensor:
    """Points drawn from N(centre, σ²I) of the listed ring8 modes only."""
    gen = torch.Generator().manual_seed(seed)
    centers = RING.centers[torch.tensor(modes)].repeat_interleave(per_mode, dim=0)
    return centers + RING.std * torch.randn(centers.shape, generator=gen)


# ---------------------------------------------------------------- mode_stats


@pytest.mark.parametrize("modes", [[0], [2, 5], [0, 1, 2], [1, 3, 5, 6, 7], list(range(8))])
def test_samples_from_exactly_k_modes_cover_k(modes):
    n = 1000 * len(modes)
    stats = mode_stats(_from_modes(modes, 1000), RING.centers, RING.std)
    assert stats.modes_covered == len(modes)
    assert [i for i, c in enumerate(stats.counts) if c > 0] == sorted(modes)
    # a true 2-D Gaussian sample lies within 3σ with probability p = 1 - exp(-4.5) ≈ 0.989;
    # the share over n samples has standard error sqrt(p(1-p)/n): allow 4 of them
    p = 1 - math.exp(-4.5)
    assert_close(stats.high_quality_fraction, p, atol=4 * math.sqrt(p * (1 - p) / n), rtol=0)


def test_min_count_ignores_modes_hit_by_a_few_samples():
    samples = torch.cat([_from_modes([0], 100), RING.centers[[3, 3, 5]]])
    assert mode_stats(samples, RING.centers, RING.std).modes_covered == 3
    assert mode_stats(samples, RING.centers, RING.std, min_count=3).modes_covered == 1
    assert mode_stats(samples, RING.centers, RING.std, min_count=2).modes_covered == 2
    with pytest.raises(ValueError, match="min_count"):
        mode_stats(samples, RING.centers, RING.std, min_count=0)


def test_samples_four_sigma_away_are_not_high_quality():
    angles = torch.linspace(0, 2 * math.pi, 100)
    offsets = 4 * RING.std * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    samples = RING.centers[3] + offsets  # every point exactly 4σ from centre 3
    stats = mode_stats(samples, RING.centers, RING.std)
    assert stats.high_quality_fraction == 0.0
    assert stats.modes_covered == 0
    assert math.isnan(stats.reverse_kl)  # documented: no high-quality sample → NaN
    # the same points at 2.9σ are high quality and all land on mode 3
    near = mode_stats(RING.centers[3] + offsets * (2.9 / 4), RING.centers, RING.std)
    assert near.high_quality_fraction == 1.0
    assert near.counts[3] == 100 and near.modes_covered == 1


def test_threshold_is_in_units_of_sigma():
    samples = RING.centers[:1] + torch.tensor([[4.5 * RING.std, 0.0]])
    assert mode_stats(samples, RING.centers, RING.std).high_quality_fraction == 0.0
    assert mode_stats(samples, RING.centers, RING.std, threshold=5.0).high_quality_fraction == 1.0


def test_uniform_coverage_gives_reverse_kl_near_zero():
    n = 16_000
    stats = mode_stats(RING.sample(n, torch.Generator().manual_seed(1)), RING.centers, RING.std)
    assert stats.modes_covered == 8
    # plug-in KL of a uniform multinomial is ≈ (M - 1)/(2N) ≈ 2e-4 here; 10× that as tolerance
    assert_close(stats.reverse_kl, 0.0, atol=10 * 7 / (2 * n), rtol=0)
    balanced = mode_stats(RING.centers.repeat(5, 1), RING.centers, RING.std)
    assert_close(balanced.reverse_kl, 0.0, atol=1e-12, rtol=0)


def test_single_mode_gives_reverse_kl_log8():
    stats = mode_stats(_from_modes([6], 500), RING.centers, RING.std)
    assert_close(stats.reverse_kl, LOG8, atol=1e-12, rtol=0)


def test_reverse_kl_closed_form_and_low_quality_samples_ignored():
    # 3 on mode 0, 1 on mode 1, plus 10 far-away samples that must not enter p_gen
    samples = torch.cat([RING.centers[[0, 0, 0, 1]], torch.full((10, 2), 5.0)])
    stats = mode_stats(samples, RING.centers, RING.std)
    expected = 0.75 * math.log(8 * 0.75) + 0.25 * math.log(8 * 0.25)
    assert_close(stats.reverse_kl, expected, atol=1e-12, rtol=0)
    assert_close(stats.high_quality_fraction, 4 / 14)
    assert stats.n_samples == 14 and stats.n_modes == 8


def test_non_finite_samples_count_as_not_high_quality():
    samples = torch.cat([RING.centers[:2], torch.tensor([[float("nan"), 0.0], [float("inf"), 1.0]])])
    stats = mode_stats(samples, RING.centers, RING.std)
    assert stats.modes_covered == 2
    assert_close(stats.high_quality_fraction, 0.5)


def test_mode_stats_accepts_numpy():
    stats = mode_stats(RING.centers.numpy(), RING.centers.numpy(), RING.std)
    assert stats.modes_covered == 8


@pytest.mark.parametrize(
    ("samples", "centers", "std", "match"),
    [
        (torch.zeros(5, 3), RING.centers, 0.01, r"samples must have shape \(N, 2\)"),
        (torch.zeros(10), RING.centers, 0.01, r"samples must have shape \(N, 2\)"),
        (torch.zeros(0, 2), RING.centers, 0.01, "samples is empty"),
        (torch.zeros(5, 2), torch.zeros(8), 0.01, r"centers must have shape \(N, 2\)"),
        (torch.zeros(5, 2), torch.zeros(0, 2), 0.01, "centers is empty"),
        (torch.zeros(5, 2), RING.centers, 0.0, "std must be a finite number > 0"),
        (torch.zeros(5, 2), RING.centers, -0.1, "std must be a finite number > 0"),
        (torch.zeros(5, 2), RING.centers, float("nan"), "std must be a finite number > 0"),
        (torch.zeros(5, 2), RING.centers, "0.01", "std must be a finite number > 0"),
    ],
)
def test_mode_stats_bad_input(samples, centers, std, match):
    with pytest.raises(ValueError, match=match):
        mode_stats(samples, centers, std)


def test_mode_stats_bad_threshold():
    with pytest.raises(ValueError, match="threshold"):
        mode_stats(RING.centers, RING.centers, RING.std, threshold=0)


def test_kl_to_uniform_edge_cases():
    assert math.isnan(kl_to_uniform([0, 0, 0]))
    assert_close(kl_to_uniform([5, 0, 0, 0]), math.log(4))
    with pytest.raises(ValueError, match=">= 0"):
        kl_to_uniform([1, -1])
    with pytest.raises(ValueError, match=r"shape \(M,\)"):
        kl_to_uniform(torch.ones(2, 2))


# ---------------------------------------------------------------- curves over a run


def _history_with_samples(mode_sets: list[list[int]]) -> History:
    hist = History(config={})
    for i, modes in enumerate(mode_sets):
        hist.sample_steps.append(1000 * (i + 1))
        hist.samples.append(_from_modes(modes, 50, seed=i))
    return hist


def test_mode_curve_and_summarize_last():
    # the hopping pattern seen in a probe: 0 → 1 → 1 → 5 covered modes
    hist = _history_with_samples([[0], [2], [2], [0, 1, 2, 3, 4]])
    hist.samples[0] = torch.full((50, 2), 3.0)  # first snapshot: no high-quality sample at all
    curve = mode_curve(hist, RING)
    np.testing.assert_array_equal(curve.steps, [1000, 2000, 3000, 4000])
    np.testing.assert_array_equal(curve.modes_covered, [0, 1, 1, 5])
    assert math.isnan(curve.reverse_kl[0])
    assert_close(curve.reverse_kl[1], LOG8, atol=1e-12, rtol=0)

    last3 = summarize_last(curve, k=3)
    assert last3.n_evals == 3 and last3.steps == (2000, 3000, 4000)
    assert_close(last3.covered_mean, 7 / 3)
    assert (last3.covered_min, last3.covered_max) == (1, 5)
    # NaN KL values are left out of the mean; all three here are finite
    assert_close(last3.reverse_kl_mean, float(np.mean(curve.reverse_kl[1:])))
    # k longer than the curve uses all points, NaN KL skipped
    all4 = summarize_last(curve, k=10)
    assert all4.n_evals == 4
    assert_close(all4.reverse_kl_mean, float(np.mean(curve.reverse_kl[1:])))
    assert curve.to_dict()["modes_covered"] == [0, 1, 1, 5]


def test_summarize_last_bad_input():
    curve = mode_curve(_history_with_samples([[0]]), RING)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        summarize_last(curve, k=0)
    empty = ModeCurve(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0), 8, np.zeros((0, 8), np.int64))
    with pytest.raises(ValueError, match="curve is empty"):
        summarize_last(empty)


def test_mode_curve_bad_input():
    with pytest.raises(ValueError, match="no evaluation samples"):
        mode_curve(History(config={}), RING)
    with pytest.raises(ValueError, match="data.Mixture"):
        mode_curve(_history_with_samples([[0]]), RING.centers)


def test_metrics_on_a_real_short_run():
    cfg = TrainConfig.quick("ring8", steps=40, eval_every=20, log_every=5, n_eval_samples=200, toy_hidden=16)
    hist = train_gan(cfg, progress=False).history
    curve = mode_curve(hist, RING)
    assert curve.steps.tolist() == [20, 40]
    # the same numbers counted by hand: nearest centre, within threshold·σ, distinct centres hit.
    # After 40 steps no sample is within 3σ yet, so a wide cut (60σ = 0.6) is checked as well:
    # there some samples pass and some fail, and at least one mode is hit.
    centers = RING.centers.double().numpy()
    wide = mode_curve(hist, RING, threshold=60)
    assert wide.modes_covered.max() >= 1 and 0 < wide.high_quality_fraction.min() < 1
    for threshold, c in ((3, curve), (60, wide)):
        for t, x in enumerate(hist.samples):
            dist = np.linalg.norm(x.double().numpy()[:, None, :] - centers[None], axis=2)  # (N, 8)
            near = dist.argmin(1)[dist.min(1) <= threshold * RING.std]
            assert c.modes_covered[t] == len(set(near.tolist()))
            assert c.counts[t].tolist() == np.bincount(near, minlength=8).tolist()
            assert_close(c.high_quality_fraction[t], len(near) / len(x))
    stab = stability_stats(hist)
    assert stab.n_logged == len(hist.steps) == 9 and not stab.diverged
    assert np.isfinite([stab.d_loss_tail_std, stab.g_loss_tail_std, stab.gap_tail_mean]).all()


# ---------------------------------------------------------------- stability


def _history_with_scalars(n: int, **series: np.ndarray) -> History:
    hist = History(config={})
    hist.steps = list(range(1, n + 1))
    for key in SCALAR_KEYS:
        hist.scalars[key] = list(np.asarray(series.get(key, np.ones(n)), dtype=float))
    return hist


def test_stability_stats_known_series():
    n = 100
    d_loss = np.where(np.arange(n) % 2 == 0, 1.0, 1.4)  # oscillates ±0.2 around 1.2 → std 0.2
    g_loss = np.full(n, 0.7)
    grad_d = np.ones(n)
    grad_d[[30, 60, 61]] = [6.0, 10.0, 4.0]  # two > 5× the running median, one below
    d_real, d_fake = np.full(n, 0.8), np.full(n, 0.3)
    d_real[10] = 0.99
    d_fake[10] = 0.01
    hist = _history_with_scalars(n, d_loss=d_loss, g_loss=g_loss, grad_norm_d=grad_d,
                                 d_real=d_real, d_fake=d_fake)
    stab = stability_stats(hist, window=20, spike_factor=5.0)
    assert_close(stab.d_loss_tail_std, 0.2)
    assert_close(stab.d_loss_tail_mean, 1.2)
    assert_close(stab.g_loss_tail_std, 0.0)
    assert (stab.grad_spikes_d, stab.grad_spikes_g) == (2, 0)
    assert_close(stab.gap_tail_mean, 0.5)
    assert_close(stab.gap_max, 0.98)
    assert stab.window == 20 and stab.n_logged == n
    assert not stab.diverged and stab.diverged_step is None


def test_count_spikes_uses_running_median():
    # a slow rise is not a spike; a jump relative to the recent values is
    values = np.concatenate([np.geomspace(1, 100, 50), [100.0, 600.0]])
    assert count_spikes(values, factor=5.0, window=5) == 1
    with pytest.raises(ValueError, match="1-D"):
        count_spikes(np.ones((3, 3)))
    with pytest.raises(ValueError, match="factor"):
        count_spikes(np.ones(10), factor=0)


def test_trend_spread_separates_a_line_from_the_wiggle():
    steps = np.arange(100, 1100, 50, dtype=float)  # 20 logged rows, 950 steps apart end to end
    wiggle = np.where(np.arange(20) % 2 == 0, 0.1, -0.1)  # ±0.1 alternating: std 0.1
    wiggle = wiggle - np.polyval(np.polyfit(steps, wiggle, 1), steps)  # no linear part left
    line = 2.0 - 4e-4 * steps
    ts = trend_spread(line + wiggle, steps)
    assert_close(ts.slope, -4e-4)
    assert_close(ts.drift, -4e-4 * 950)
    assert_close(ts.detrended_std, float(wiggle.std()))
    assert_close(ts.raw_std, float((line + wiggle).std()))
    # the wiggle has no linear part, so the plain variance is the line's plus the wiggle's
    assert_close(ts.raw_std ** 2, float(line.var()) + ts.detrended_std ** 2)
    assert ts.raw_std > 1.4 * ts.detrended_std  # the trend inflates the plain std
    flat = trend_spread(wiggle, steps)  # no trend: both stds agree
    assert_close(flat.raw_std, flat.detrended_std)
    assert_close(flat.slope, 0.0, atol=1e-12, rtol=0)


def test_trend_spread_rejects_bad_input():
    with pytest.raises(ValueError, match="same length"):
        trend_spread(np.ones(5), np.arange(4))
    with pytest.raises(ValueError, match="at least 3"):
        trend_spread([1.0, 2.0], [0, 1])
    with pytest.raises(ValueError, match="finite"):
        trend_spread([1.0, np.nan, 2.0], [0, 1, 2])
    with pytest.raises(ValueError, match="strictly increasing"):
        trend_spread([1.0, 2.0, 3.0], [0, 2, 1])


def test_stability_of_diverged_and_empty_histories():
    diverged = History(config={}, diverged=True, diverged_step=1)
    stab = stability_stats(diverged)
    assert stab.diverged and stab.diverged_step == 1 and stab.n_logged == 0
    assert math.isnan(stab.d_loss_tail_std)
    with pytest.raises(ValueError, match="no logged rows"):
        stability_stats(History(config={}))
    with pytest.raises(ValueError, match="window"):
        stability_stats(_history_with_scalars(5), window=0)
    with pytest.raises(ValueError, match="spike_factor"):
        stability_stats(_history_with_scalars(5), spike_factor=-1.0)


# ---------------------------------------------------------------- class and stacked stats


def test_class_stats_from_probs_exact():
    probs = torch.eye(10)[[0, 0, 1, 2]] * 0.9 + 0.01  # rows sum to 1, max 0.91
    stats = class_stats_from_probs(probs)
    assert stats.classes_covered == 3
    assert stats.counts[:3] == (2, 1, 1) and sum(stats.counts) == 4
    expected = 0.5 * math.log(10 * 0.5) + 2 * 0.25 * math.log(10 * 0.25)
    assert_close(stats.kl_to_uniform, expected)
    assert_close(stats.mean_confidence, 0.91)
    with pytest.raises(ValueError, match=r"shape \(N, K\)"):
        class_stats_from_probs(torch.zeros(0, 10))


def test_stacked_stats_from_probs_counts_ordered_triples():
    digits = torch.tensor([[1, 2, 3], [1, 2, 3], [3, 2, 1], [9, 0, 0]])
    probs = torch.nn.functional.one_hot(digits, 10).float()
    stats = stacked_stats_from_probs(probs)
    assert stats.modes_covered == 3  # (1,2,3) and (3,2,1) are different modes
    expected = 0.5 * math.log(1000 * 0.5) + 2 * 0.25 * math.log(1000 * 0.25)
    assert_close(stats.kl_to_uniform, expected)
    assert_close(stats.mean_confidence, 1.0)
    with pytest.raises(ValueError, match=r"\(N, 3, 10\)"):
        stacked_stats_from_probs(torch.zeros(4, 10))


def _channel_probs(digits: list[list[int]], top: list[list[float]], dtype=torch.float64) -> torch.Tensor:
    """(N, 3, 10) probabilities: channel c of sample n puts ``top[n][c]`` on ``digits[n][c]``, the rest evenly."""
    d, t = torch.tensor(digits), torch.tensor(top, dtype=torch.float64)
    rest = ((1 - t) / 9).unsqueeze(-1).expand(*d.shape, 10)
    probs = rest.scatter(2, d.unsqueeze(-1), t.unsqueeze(-1))
    return probs.to(dtype)


def test_stacked_stats_count_only_samples_read_confidently_in_all_three_channels():
    digits = [[1, 2, 3], [1, 2, 3], [4, 5, 6], [7, 8, 9]]
    top = [[0.95, 0.99, 0.91],  # confident: triple 123
           [0.99, 0.97, 0.95],  # confident: triple 123 again
           [0.99, 0.99, 0.50],  # one unsure channel: 456 is covered, but not confidently
           [0.20, 0.30, 0.40]]  # a blur: 789 is covered, but not confidently
    stats = stacked_stats_from_probs(_channel_probs(digits, top))
    assert stats.modes_covered == 3 and stats.n_samples == 4 and stats.threshold == CONFIDENT == 0.9
    assert stats.confident_fraction == 0.5
    assert stats.confident_modes_covered == 1
    assert_close(stats.confident_kl_to_uniform, math.log(1000))  # all confident mass on one triple
    assert_close(stats.mean_confidence, float(np.mean(top)))
    # a looser cut lets the third sample in (and a stricter one keeps only the second)
    loose = stacked_stats_from_probs(_channel_probs(digits, top), threshold=0.5)
    assert (loose.confident_fraction, loose.confident_modes_covered) == (0.75, 2)
    expected = 2 / 3 * math.log(1000 * 2 / 3) + 1 / 3 * math.log(1000 / 3)
    assert_close(loose.confident_kl_to_uniform, expected)
    strict = stacked_stats_from_probs(_channel_probs(digits, top), threshold=0.95)
    assert (strict.confident_fraction, strict.confident_modes_covered) == (0.25, 1)
    # the fields of the plain count do not depend on the cut
    for other in (loose, strict):
        assert (other.modes_covered, other.kl_to_uniform, other.mean_confidence) == \
            (stats.modes_covered, stats.kl_to_uniform, stats.mean_confidence)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_a_channel_exactly_at_the_threshold_counts_as_confident(dtype):
    digits = [[0, 0, 0], [5, 5, 5]]
    at = stacked_stats_from_probs(_channel_probs(digits, [[0.9, 0.9, 0.9], [0.9, 0.9, 0.8999]], dtype))
    assert (at.confident_fraction, at.confident_modes_covered) == (0.5, 1)


def test_no_confident_sample_covers_nothing_and_has_no_kl():
    stats = stacked_stats_from_probs(_channel_probs([[1, 2, 3], [3, 2, 1]], [[0.5, 0.95, 0.95], [0.95, 0.95, 0.89]]))
    assert stats.modes_covered == 2
    assert stats.confident_fraction == 0.0 and stats.confident_modes_covered == 0
    assert math.isnan(stats.confident_kl_to_uniform)


@pytest.mark.parametrize(("threshold", "match"), [
    (0.0, "threshold must be a finite number > 0, got 0.0"),
    (-0.5, "threshold must be a finite number > 0"),
    (float("nan"), "threshold must be a finite number > 0, got nan"),
    (1.01, r"threshold must be <= 1 \(a top-class probability\), got 1.01"),
    (True, "threshold must be a finite number > 0"),
])
def test_stacked_stats_reject_a_bad_threshold(threshold, match):
    probs = _channel_probs([[1, 2, 3]], [[0.95, 0.95, 0.95]])
    with pytest.raises(ValueError, match=match):
        stacked_stats_from_probs(probs, threshold=threshold)
    assert stacked_stats_from_probs(probs, threshold=1.0).confident_fraction == 0.0  # 1 itself is allowed


def test_class_and_stacked_stats_with_the_classifier(tiny_classifier, digits8):
    clf, _ = tiny_classifier
    only_0_to_4 = digits8.images[digits8.labels < 5][:300]
    stats = class_stats(only_0_to_4, clf)
    probs = classify(only_0_to_4, clf)
    assert stats.n_samples == 300 and stats.counts == tuple(torch.bincount(probs.argmax(1), minlength=10).tolist())
    assert sum(stats.counts[:5]) >= 0.85 * 300  # a ≈ 0.9-accurate classifier: most land on 0–4
    # the top-class probability, not the mean over classes (which is always 1/10)
    assert_close(stats.mean_confidence, float(probs.max(1).values.mean()))
    # the digits it reads correctly cover exactly the five classes 0–4, counted by label
    labels = digits8.labels[digits8.labels < 5][:300]
    right = probs.argmax(1) == labels
    exact = class_stats(only_0_to_4[right], clf)
    assert exact.classes_covered == 5
    assert exact.counts == tuple(torch.bincount(labels[right], minlength=10).tolist())
    # per-channel predictions must line up with the true digits of each channel
    stacked = make_stacked(digits8, n=300, seed=0)
    true_digits = torch.stack([stacked.labels // 100, stacked.labels // 10 % 10, stacked.labels % 10], 1)
    agree = (stacked_probs(stacked.images, clf).argmax(2) == true_digits).float().mean()
    assert agree > 0.5  # a channel mix-up would give ≈ 0.1
    s = stacked_stats(stacked.images, clf)
    # distinct triples of the channel-by-channel predictions (each channel classified alone)
    pred = torch.stack([classify(stacked.images[:, c:c + 1], clf).argmax(1) for c in range(3)], 1)
    assert s.modes_covered == len({tuple(t) for t in pred.tolist()}) and s.n_samples == 300
    # confident triples: the same count over the samples whose three channels all reach the cut
    top = torch.stack([classify(stacked.images[:, c:c + 1], clf).max(1).values for c in range(3)], 1)
    sure = (top >= CONFIDENT).all(1)
    assert 0 < sure.sum() < 300  # the check below is not vacuous
    assert s.confident_fraction == pytest.approx(float(sure.double().mean()))
    assert s.confident_modes_covered == len({tuple(t) for t in pred[sure].tolist()})
    # every correctly read sample's true triple is among them
    assert s.modes_covered >= len(torch.unique(stacked.labels[(pred == true_digits).all(1)]))


def test_class_curve_over_a_history(tiny_classifier, digits8):
    clf, _ = tiny_classifier
    hist = History(config={}, sample_steps=[100, 200],
                   samples=[digits8.images[:64], digits8.images[64:128]])
    curve = class_curve(hist, clf)
    assert curve.steps.tolist() == [100, 200] and len(curve) == 2
    assert summarize_last(curve, k=2).n_evals == 2


@pytest.mark.parametrize(
    ("images", "match"),
    [
        (torch.zeros(4, 1, 28, 28), "expects 8x8"),
        (torch.zeros(4, 8, 8), r"shape \(N, C, H, W\)"),
        (torch.zeros(0, 1, 8, 8), r"shape \(N, C, H, W\)"),
        (torch.zeros(4, 3, 8, 8), "1 channel"),
        (torch.full((4, 1, 8, 8), float("nan")), "NaN"),
        (np.zeros((4, 1, 8, 8)), "torch.Tensor"),
    ],
)
def test_classifier_metrics_bad_images(tiny_classifier, images, match):
    clf, _ = tiny_classifier
    with pytest.raises(ValueError, match=match):
        class_stats(images, clf)


def test_stacked_stats_needs_three_channels(tiny_classifier):
    clf, _ = tiny_classifier
    with pytest.raises(ValueError, match="3 channel"):
        stacked_stats(torch.zeros(4, 1, 8, 8), clf)


# ---------------------------------------------------------------- Fréchet distance


def test_frechet_identical_feature_sets_is_zero():
    feats = torch.randn(500, 6, generator=torch.Generator().manual_seed(0)) @ torch.randn(6, 6)
    assert_close(frechet_distance(feats, feats), 0.0, atol=1e-8, rtol=0)


def test_frechet_closed_form_for_diagonal_gaussians():
    mu1, mu2 = torch.tensor([0.0, 1.0, -2.0]), torch.tensor([1.0, 1.0, 0.0])
    s1, s2 = torch.tensor([1.0, 2.0, 0.5]), torch.tensor([3.0, 2.0, 1.5])  # standard deviations
    expected = float((mu1 - mu2).pow(2).sum() + (s1 - s2).pow(2).sum())  # = 5 + 4 + 0 + 1 = 10
    got = frechet_distance_from_stats(mu1, torch.diag(s1**2), mu2, torch.diag(s2**2))
    assert_close(got, expected, atol=1e-10, rtol=1e-10)
    # rotating both Gaussians by the same orthogonal Q changes nothing; an element-wise
    # matrix square root would get this wrong
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    mu1, mu2, s1, s2 = (t.double() for t in (mu1, mu2, s1, s2))
    rotated = frechet_distance_from_stats(q @ mu1, q @ torch.diag(s1**2) @ q.T, q @ mu2, q @ torch.diag(s2**2) @ q.T)
    assert_close(rotated, expected, atol=1e-9, rtol=1e-9)


def test_frechet_is_symmetric_for_non_commuting_covariances():
    gen = torch.Generator().manual_seed(2)
    a, b = torch.randn(4, 4, generator=gen), torch.randn(4, 4, generator=gen)
    cov1, cov2 = a @ a.T + 0.1 * torch.eye(4), b @ b.T + 0.1 * torch.eye(4)
    mu1, mu2 = torch.randn(4, generator=gen), torch.randn(4, generator=gen)
    assert_close(frechet_distance_from_stats(mu1, cov1, mu2, cov2),
                 frechet_distance_from_stats(mu2, cov2, mu1, cov1), atol=1e-8, rtol=1e-8)


def test_frechet_from_samples_matches_closed_form():
    gen = torch.Generator().manual_seed(3)
    n = 40_000
    x = torch.randn(n, 2, generator=gen, dtype=torch.float64) * torch.tensor([1.0, 0.5])
    y = torch.randn(n, 2, generator=gen, dtype=torch.float64) * torch.tensor([2.0, 0.5]) + torch.tensor([1.0, 0.0])
    # closed form: |Δμ|² + Σ(σ1 - σ2)² = 1 + 1 = 2; sampling error of the estimates ≈ 1e-2
    assert_close(frechet_distance(x, y), 2.0, atol=0.05, rtol=0)


def test_frechet_bad_input():
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(torch.zeros(1, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match=r"\(N1, D\)"):
        frechet_distance(torch.zeros(5, 3), torch.zeros(5, 4))
    with pytest.raises(ValueError, match=r"\(D, D\)"):
        frechet_distance_from_stats(torch.zeros(2), torch.eye(3), torch.zeros(2), torch.eye(2))


def test_classifier_frechet_distance(tiny_classifier, digits8):
    clf, _ = tiny_classifier
    real = digits8.images
    same = classifier_frechet_distance(real[:500], real[:500], clf)
    other_half = classifier_frechet_distance(real[:500], real[500:1000], clf)
    noise = torch.rand(500, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    vs_noise = classifier_frechet_distance(real[:500], noise, clf)
    assert_close(same, 0.0, atol=1e-4, rtol=0)  # float32 features, traces of order 10–100
    assert other_half < vs_noise


# ---------------------------------------------------------------- background noise


def _digit_like(n: int, value: float = 1.0) -> torch.Tensor:
    """Dark images (-1) with a lit 4×4 block in the middle of a 1×8×8 frame."""
    x = torch.full((n, 1, 8, 8), -1.0)
    x[:, :, 2:6, 2:6] = value
    return x


def test_background_mask_and_noise():
    real = _digit_like(200)
    mask = background_mask(real)
    assert mask.shape == (1, 8, 8) and int(mask.sum()) == 64 - 16
    assert not mask[0, 2:6, 2:6].any()

    clean = background_noise(_digit_like(10), mask)
    assert_close(clean.mean_brightness, 0.0)
    assert_close(clean.speckle_fraction, 0.0)
    speckled = _digit_like(10)
    speckled[:, :, 0, :] = 0.0  # one row of the background at brightness 0.5 in [0, 1] units
    noisy = background_noise(speckled, mask)
    assert_close(noisy.mean_brightness, 0.5 * 8 / 48)
    assert_close(noisy.speckle_fraction, 8 / 48)
    assert noisy.n_mask_pixels == 48


def test_background_mask_allows_a_few_bright_real_images():
    real = _digit_like(200)
    real[:1, :, 0, 0] = 1.0  # lit in 0.5 % of real images: still background at the default 1 %
    assert background_mask(real)[0, 0, 0]
    real[:10, :, 0, 0] = 1.0  # lit in 5 %: not background
    assert not background_mask(real)[0, 0, 0]


def test_background_bad_input():
    mask = background_mask(_digit_like(5))
    with pytest.raises(ValueError, match="bool tensor of shape"):
        background_noise(_digit_like(5), mask[:, :4])
    with pytest.raises(ValueError, match="selects no pixel"):
        background_noise(_digit_like(5), torch.zeros(1, 8, 8, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"shape \(N, C, H, W\)"):
        background_mask(torch.zeros(8, 8))
    with pytest.raises(ValueError, match="dark_level"):
        background_mask(_digit_like(5), dark_level=1.5)


def test_histogram_shift_is_the_total_variation_between_successive_evaluations():
    from gan_l2_lib.metrics import histogram_shift

    counts = [[10, 0, 0], [10, 0, 0], [0, 10, 0], [5, 5, 0], [0, 0, 0], [2, 2, 4]]
    shift = histogram_shift(counts)
    # t=0: nothing before; same → 0; all moved → 1; half moved back → 0.5; empty → NaN both sides
    np.testing.assert_allclose(shift, [np.nan, 0.0, 1.0, 0.5, np.nan, np.nan])
    # proportions, not counts: twice the samples in the same shares is no shift
    np.testing.assert_allclose(histogram_shift([[1, 3], [2, 6]]), [np.nan, 0.0])


@pytest.mark.parametrize("bad, match", [([1, 2, 3], "shape"), (np.zeros((0, 3)), "shape"),
                                        ([[1, -1]], ">= 0"), ([[1, np.nan]], "finite")])
def test_histogram_shift_rejects_bad_counts(bad, match):
    from gan_l2_lib.metrics import histogram_shift

    with pytest.raises(ValueError, match=match):
        histogram_shift(bad)


def test_mode_curve_keeps_the_per_mode_counts():
    hist = History(config={})
    gen = torch.Generator().manual_seed(0)
    for step, n in ((100, 40), (200, 80)):
        hist.sample_steps.append(step)
        hist.samples.append(RING.sample(n, gen))
    curve = mode_curve(hist, RING)
    assert curve.counts.shape == (2, 8) and curve.counts.dtype == np.int64
    assert curve.counts.sum(1).tolist() == [40, 80]  # real samples: all high quality
    assert (curve.counts >= 1).sum(1).tolist() == curve.modes_covered.tolist()


# --- paired effects over seeds: bootstrap intervals ------------------------------------------


def test_equal_deltas_give_their_value_and_a_zero_width_interval_without_warnings():
    from gan_l2_lib.metrics import bootstrap_mean_interval, paired_effect

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # BCa would divide 0 by 0 here
        ci = bootstrap_mean_interval([0.7, 0.7, 0.7])
        eff = paired_effect({0: 1.2, 1: 2.2, 2: 3.2}, {0: 0.5, 1: 1.5, 2: 2.5}, higher_is_better=True)
    assert ci.low == ci.mean == ci.high and (ci.n, ci.method) == (3, "constant")
    assert_close(ci.mean, 0.7)
    assert len(set(eff.deltas)) > 1  # 1.2 − 0.5 and 2.2 − 1.5 differ in the last bit: still constant
    assert eff.low == eff.mean == eff.high and eff.method == "constant"
    assert_close(eff.mean, 0.7)
    assert eff.verdict == "better" and eff.method == "constant" and eff.n == 3
    zero = paired_effect({0: 1.0, 1: 2.0}, {0: 1.0, 1: 2.0}, True)  # a condition against itself
    assert (zero.mean, zero.low, zero.high, zero.verdict) == (0.0, 0.0, 0.0, "neutral")


def test_two_deltas_span_their_own_interval():
    from gan_l2_lib.metrics import bootstrap_mean_interval

    # resample means of (1, 3) are 1, 2, 3 with weights ¼, ½, ¼: the 2.5 % and 97.5 % points are 1 and 3
    ci = bootstrap_mean_interval([1.0, 3.0], rng=5)
    assert (ci.mean, ci.low, ci.high) == (2.0, 1.0, 3.0)


def test_the_percentile_interval_of_three_deltas_is_their_range():
    from gan_l2_lib.metrics import bootstrap_mean_interval, paired_effect

    # all three resamples equal to the smallest value have probability 1/27 > 2.5 %: with 3 seeds
    # the "95 %" percentile interval is [min, max], and it excludes 0 only if every seed agrees
    x = [-0.3, -0.12, 0.01]
    ci = bootstrap_mean_interval(x, method="percentile", rng=2)
    assert_close((ci.low, ci.high), (-0.3, 0.01)) and ci.method == "percentile"
    eff = paired_effect({0: 0.0, 1: 0.0, 2: 0.0}, {0: 0.3, 1: 0.12, 2: 0.05}, False, method="percentile")
    assert_close((eff.low, eff.high), (-0.3, -0.05)) and eff.verdict == "better"


def test_a_symmetric_sample_gets_an_interval_around_its_mean_reproducibly():
    from gan_l2_lib.metrics import bootstrap_mean_interval

    x = 3.0 + np.array([-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0])
    a, b = bootstrap_mean_interval(x, rng=11), bootstrap_mean_interval(x, rng=11)
    assert a == b  # same seed, same interval
    assert a.low < 3.0 < a.high and a.mean == 3.0 and a.method == "BCa"
    # symmetric about the mean to within one step of the resample means' grid (1/18)
    assert_close(3.0 - a.low, a.high - 3.0, rtol=0.0, atol=1 / 18)
    g1, g2 = np.random.default_rng(4), np.random.default_rng(4)
    assert bootstrap_mean_interval(x, rng=g1) == bootstrap_mean_interval(x, rng=g2)


def test_the_interval_of_a_large_normal_sample_has_the_textbook_width():
    from gan_l2_lib.metrics import bootstrap_mean_interval

    x = np.random.default_rng(0).normal(0.4, 1.0, 400)
    ci = bootstrap_mean_interval(x, rng=0)
    # ± 1.96 standard errors of the mean, to within bootstrap noise
    assert_close(ci.high - ci.low, 2 * 1.96 * x.std(ddof=1) / math.sqrt(x.size), rtol=0.1, atol=0.0)
    assert_close((ci.low + ci.high) / 2, x.mean(), rtol=0.0, atol=0.02)
    narrow = bootstrap_mean_interval(x, confidence=0.5, rng=0)
    assert ci.low < narrow.low < narrow.high < ci.high
    # continuous data: another seed, or a Generator already used, resamples differently
    assert bootstrap_mean_interval(x, rng=1) != ci
    gen = np.random.default_rng(0)
    assert bootstrap_mean_interval(x, rng=gen) == ci and bootstrap_mean_interval(x, rng=gen) != ci


def test_bca_failures_fall_back_to_the_percentile_interval(monkeypatch):
    from scipy import stats

    from gan_l2_lib.metrics import bootstrap_mean_interval

    x = np.array([0.0, 1.0, 1.0, 4.0])
    real = stats.bootstrap

    def bca_warns(*args, method="BCa", **kw):
        if method == "BCa":
            warnings.warn("degenerate", stats.DegenerateDataWarning, stacklevel=2)
        return real(*args, method=method, **kw)

    monkeypatch.setattr(stats, "bootstrap", bca_warns)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ci = bootstrap_mean_interval(x, n_resamples=999, rng=3)
    want = real((x,), np.mean, n_resamples=999, method="percentile", rng=np.random.default_rng(3))
    assert ci.method == "percentile" and ci.low < ci.mean < ci.high
    # the BCa attempt draws no resamples before warning here, so the generator is where a direct call starts
    assert (ci.low, ci.high) == (want.confidence_interval.low, want.confidence_interval.high)


@pytest.mark.parametrize("low, high, higher_is_better, verdict", [
    (0.1, 0.5, True, "better"), (0.1, 0.5, False, "worse"), (-0.5, -0.1, False, "better"),
    (-0.5, -0.1, True, "worse"), (-0.1, 0.5, True, "neutral"), (0.0, 0.5, True, "neutral"),
    (0.0, 0.0, False, "neutral"), (0.1, 0.5, None, "higher"), (-0.5, -0.1, None, "lower"),
])
def test_effect_verdicts_follow_the_metric_direction(low, high, higher_is_better, verdict):
    from gan_l2_lib.metrics import VERDICTS, effect_verdict

    assert effect_verdict(low, high, higher_is_better) == verdict and verdict in VERDICTS


def test_a_lower_is_better_metric_that_falls_is_better():
    from gan_l2_lib.metrics import paired_effect

    eff = paired_effect({0: 1.0, 1: 2.0, 2: 2.5}, {0: 2.0, 1: 3.5, 2: 3.5}, higher_is_better=False)
    assert eff.deltas == (-1.0, -1.5, -1.0) and eff.high < 0 and eff.excludes_zero
    assert eff.verdict == "better"
    assert paired_effect({0: 1.0, 1: 2.0, 2: 2.5}, {0: 2.0, 1: 3.5, 2: 3.5}, True).verdict == "worse"


def test_pairing_drops_seeds_missing_or_nan_in_either_condition_and_says_which():
    from gan_l2_lib.metrics import pair_by_seed, paired_effect

    values = {0: 1.0, 1: 2.0, 2: float("nan"), 3: 5.0, 7: 1.0}
    baseline = {0: 0.0, 1: 0.5, 2: 0.0, 3: 1.0, 4: 0.0, 7: float("inf")}
    seeds, deltas, dropped = pair_by_seed(values, baseline)
    assert seeds == (0, 1, 3) and dropped == (2, 4, 7)
    np.testing.assert_array_equal(deltas, [1.0, 1.5, 4.0])
    eff = paired_effect(values, baseline, True, rng=1)
    assert eff.n == 3 and eff.n_dropped == 3 and eff.dropped_seeds == (2, 4, 7) and eff.seeds == (0, 1, 3)
    assert_close(eff.mean, 6.5 / 3)


@pytest.mark.parametrize("values, baseline, match", [
    ({0: 1.0, 1: 2.0}, {2: 1.0, 3: 1.0}, "no common seeds"),
    ({0: 1.0, 1: 2.0}, {0: 1.0, 1: float("nan")}, "fewer than 2 pairs: 1 seed"),
    ({0: 1.0}, {0: 0.0}, "fewer than 2 pairs"),
    ([1.0, 2.0], {0: 0.0, 1: 0.0}, "values must be a mapping"),
])
def test_paired_effect_rejects_what_it_cannot_pair(values, baseline, match):
    from gan_l2_lib.metrics import paired_effect

    with pytest.raises(ValueError, match=match):
        paired_effect(values, baseline, True)


@pytest.mark.parametrize("kw, match", [
    (dict(values=[[1.0, 2.0]]), "1-D"), (dict(values=[1.0]), "at least 2 values"),
    (dict(values=[1.0, np.nan]), "finite"), (dict(confidence=1.0), r"confidence must be in \(0, 1\)"),
    (dict(n_resamples=0), "n_resamples"), (dict(rng=-1), "rng must be an integer seed"),
    (dict(rng=0.5), "rng must be"), (dict(method="bca"), "method must be one of"),
])
def test_bootstrap_mean_interval_rejects_bad_input(kw, match):
    from gan_l2_lib.metrics import bootstrap_mean_interval

    args = dict(values=[1.0, 2.0, 4.0]) | kw
    with pytest.raises(ValueError, match=match):
        bootstrap_mean_interval(**args)


# --- sign-flip p-values, the n ≥ 6 rule, Holm's adjustment -----------------------------------


def _exact_sign_flip_p(d: np.ndarray) -> float:
    # all 2**n patterns spelled out with itertools, independently of the library's bit trick
    import itertools

    obs = abs(d.sum())
    sums = [abs(np.dot(s, d)) for s in itertools.product((1.0, -1.0), repeat=d.size)]
    return float(np.mean([s >= obs - 1e-9 for s in sums]))


@pytest.mark.parametrize("deltas, p", [
    ([1.0, 2.0, 3.0], 2 / 8),     # sums ±1±2±3 = 6, 4, 2, 0, 0, −2, −4, −6: |s| ≥ 6 twice
    ([1.0, 2.0, 4.0], 2 / 8),     # 7, 5, 3, 1, −1, −3, −5, −7: only ±7 reach 7
    ([-1.0, 2.0, 4.0], 4 / 8),    # observed 5: ±5 and ±7 reach it
    ([1.0, 2.0, -3.0], 1.0),      # observed 0: every pattern is as far from 0
    ([0.0, 0.0, 0.0], 1.0),       # no change at all
    ([0.5], 1.0),                 # one pair: ±0.5, both as extreme
    ([1.0, 1.0, 1.0, 1.0, 1.0, 1.0], 2 / 64),        # all six the same sign: only the two
    ([-0.1, -0.2, -0.3, -0.4, -0.5, -0.6], 2 / 64),  # all-same-sign patterns are as extreme
])
def test_sign_flip_p_counts_the_sign_patterns_at_least_as_extreme(deltas, p):
    from gan_l2_lib.metrics import sign_flip_p_value

    assert_close(sign_flip_p_value(deltas), p, rtol=0.0, atol=1e-15)
    assert_close(sign_flip_p_value(deltas), _exact_sign_flip_p(np.array(deltas)), rtol=0.0, atol=1e-15)


def test_sign_flip_p_is_scipys_exact_permutation_test():
    from scipy import stats

    from gan_l2_lib.metrics import sign_flip_p_value

    gen = np.random.default_rng(3)
    for n in (4, 7, 10, 13):
        d = gen.normal(0.4, 1.0, n)
        want = stats.permutation_test((d,), lambda x, axis: np.mean(x, axis=axis), permutation_type="samples",
                                      vectorized=True, n_resamples=np.inf, alternative="two-sided").pvalue
        assert_close(sign_flip_p_value(d), float(want), rtol=1e-12, atol=0.0)


def test_above_the_exact_limit_random_sign_patterns_estimate_the_exact_p():
    from gan_l2_lib.metrics import MAX_EXACT_SIGN_FLIP_PAIRS, sign_flip_p_value

    n = MAX_EXACT_SIGN_FLIP_PAIRS + 1
    d = np.random.default_rng(5).normal(0.25, 1.0, n)
    flips = (np.arange(2 ** n)[:, None] >> np.arange(n)) & 1  # 131,072 patterns: exact, for reference
    sums = np.abs((1.0 - 2.0 * flips) @ d)
    exact = float(np.mean(sums >= sums[0] - 1e-9))
    assert 0.05 < exact < 0.95, exact  # a case where the estimate can miss in either direction
    p = sign_flip_p_value(d, n_resamples=9999, rng=1)
    assert p == sign_flip_p_value(d, n_resamples=9999, rng=1)  # seeded: repeatable
    assert_close(p, exact, rtol=0.0, atol=0.02)  # ≈ 4 standard errors of 9,999 draws


def test_six_pairs_are_the_fewest_whose_p_can_reach_five_percent():
    from gan_l2_lib.metrics import MIN_PAIRS_FOR_MARK, sign_flip_p_value

    # the most extreme data possible (every pair the same way) give p = 2 / 2**n
    smallest = {n: sign_flip_p_value(np.ones(n)) for n in range(1, 9)}
    assert_close(list(smallest.values()), [2 / 2 ** n for n in range(1, 9)])
    assert min(n for n, p in smallest.items() if p <= 0.05) == MIN_PAIRS_FOR_MARK


def test_paired_effects_below_six_pairs_keep_their_verdict_but_are_not_marked():
    from gan_l2_lib.metrics import TOO_FEW_SEEDS, paired_effect

    def all_up(n):  # every seed +1, +1.1, ...: an interval above 0
        return paired_effect({s: s + 1.0 + 0.1 * s for s in range(n)}, {s: float(s) for s in range(n)},
                             higher_is_better=True, method="percentile")

    five, six = all_up(5), all_up(6)
    assert five.verdict == six.verdict == "better" and five.excludes_zero and six.excludes_zero
    assert (five.enough_pairs, five.marked, five.marked_verdict) == (False, False, TOO_FEW_SEEDS)
    assert (six.enough_pairs, six.marked, six.marked_verdict) == (True, True, "better")
    assert_close((five.p_value, six.p_value), (2 / 32, 2 / 64))
    assert five.higher_is_better is True
    lower = paired_effect({s: 0.0 for s in range(6)}, {s: 1.0 + s for s in range(6)}, higher_is_better=False)
    assert lower.higher_is_better is False and lower.marked_verdict == "better"
    mixed = paired_effect({s: float(s % 2) for s in range(6)}, {s: 0.5 for s in range(6)}, None)
    assert mixed.higher_is_better is None and not mixed.marked and mixed.marked_verdict == "neutral"
    assert_close(mixed.p_value, 1.0)  # three up, three down by the same amount: mean 0


@pytest.mark.parametrize("p, adjusted", [
    ([0.01, 0.04, 0.03], [0.03, 0.06, 0.06]),              # sorted .01·3, .03·2 = .06, .04·1 lifted to .06
    ([0.5, 0.01, 0.2, 0.02], [0.5, 0.04, 0.4, 0.06]),      # .01·4, .02·3, .2·2, .5·1, back in input order
    ([0.6, 0.9, 0.7], [1.0, 1.0, 1.0]),                    # 1.8 capped at 1, and carried up
    ([0.3], [0.3]),                                        # a family of one: unchanged
    ([0.02, 0.02], [0.04, 0.04]),                          # ties
])
def test_holm_adjust_by_hand(p, adjusted):
    from gan_l2_lib.metrics import holm_adjust

    np.testing.assert_allclose(holm_adjust(p), adjusted, rtol=0, atol=1e-15)


def test_holm_is_monotone_and_more_conservative_than_bh():
    from scipy import stats

    from gan_l2_lib.metrics import holm_adjust

    p = np.random.default_rng(0).uniform(0, 0.2, 12)
    h = holm_adjust(p)
    order = np.argsort(p)
    assert np.all(np.diff(h[order]) >= 0) and np.all(h >= p) and np.all(h <= 1)
    # Holm bounds the family-wise error, BH only the false discovery rate: Holm's p is never smaller
    assert np.all(h >= stats.false_discovery_control(p) - 1e-15)
    assert np.all(h <= np.minimum(1.0, p.size * p) + 1e-15)  # and never larger than Bonferroni's


def test_family_verdicts_call_only_what_survives_holm_and_has_six_pairs():
    from gan_l2_lib.metrics import (
        TOO_FEW_SEEDS,
        FamilyVerdict,
        family_verdicts,
        holm_adjust,
        paired_effect,
    )

    def effect(deltas, higher_is_better=True):
        return paired_effect({s: float(d) for s, d in enumerate(deltas)}, {s: 0.0 for s in range(len(deltas))},
                             higher_is_better, method="percentile")

    six_up, eight_down = effect([1, 2, 1, 3, 2, 1]), effect([-1, -2, -1, -3, -2, -1, -2, -1], higher_is_better=False)
    noise, three_up = effect([1, -1, 2, -2, 1, -1]), effect([1, 2, 3])
    # alone, six pairs all up (p = 2/64) is called; beside a null comparison it is not (Holm 2 · 2/64 > 0.05)
    assert family_verdicts({"a": six_up})["a"] == FamilyVerdict(2 / 64, 2 / 64, "better")
    fam = family_verdicts({"six": six_up, "noise": noise})
    assert (fam["six"].verdict, fam["noise"].verdict) == ("neutral", "neutral")
    assert_close((fam["six"].p_holm, fam["noise"].p_holm), (2 * 2 / 64, 1.0))
    # eight pairs (p = 2/256) survive that family; then the step-down lets six pairs through too
    fam = family_verdicts({"six": six_up, "eight": eight_down})
    assert fam["six"].verdict == "better" and fam["eight"].verdict == "better"  # lower is better for "eight"
    assert_close((fam["six"].p_holm, fam["eight"].p_holm), (2 / 64, 2 * 2 / 256))
    big = family_verdicts({"eight": eight_down, "noise": noise, "three": three_up})
    assert list(big) == ["eight", "noise", "three"]
    np.testing.assert_allclose([v.p_holm for v in big.values()], holm_adjust([2 / 256, 1.0, 2 / 8]))
    assert [v.verdict for v in big.values()] == ["better", "neutral", TOO_FEW_SEEDS]
    assert family_verdicts({"x": effect([1, 2, 1, 3, 2, 1], None)})["x"].verdict == "higher"


@pytest.mark.parametrize("fn, args, match", [
    ("sign_flip_p_value", ([],), "non-empty 1-D"),
    ("sign_flip_p_value", ([[1.0, 2.0]],), "non-empty 1-D"),
    ("sign_flip_p_value", ([1.0, np.nan],), "finite"),
    ("sign_flip_p_value", ([1.0, np.inf],), "finite"),
    ("holm_adjust", ([],), "non-empty 1-D"),
    ("holm_adjust", ([0.1, np.nan],), "finite"),
    ("holm_adjust", ([0.1, 1.5],), r"must lie in \[0, 1\]"),
    ("holm_adjust", ([-0.01, 0.5],), r"must lie in \[0, 1\]"),
    ("family_verdicts", ({},), "effects is empty"),
    ("family_verdicts", ({"a": 0.03},), "must be a PairedEffect"),
])
def test_p_value_functions_reject_bad_input(fn, args, match):
    from gan_l2_lib import metrics

    with pytest.raises(ValueError, match=match):
        getattr(metrics, fn)(*args)


def test_sign_flip_and_family_reject_bad_options():
    from gan_l2_lib.metrics import family_verdicts, paired_effect, sign_flip_p_value

    with pytest.raises(ValueError, match="n_resamples"):
        sign_flip_p_value([1.0, 2.0], n_resamples=0)
    with pytest.raises(ValueError, match="rng must be"):
        sign_flip_p_value([1.0, 2.0], rng=-1)
    e = paired_effect({0: 1.0, 1: 2.0}, {0: 0.0, 1: 0.0}, True)
    for alpha in (0.0, 1.0, float("nan")):
        with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\)"):
            family_verdicts({"a": e}, alpha=alpha)


# --- overfitting: D's gap on held-out data, G's nearest training images ---

from gan_l2_lib.metrics import (  # noqa: E402
    data_copying,
    discriminator_gap,
    gap_curve,
    mann_whitney_z,
    nearest_neighbours,
    nearest_training_images,
)


def test_discriminator_gap_on_known_logits():
    gap = discriminator_gap(torch.tensor([2.0, 2.0, 2.0, -2.0]), np.array([0.0, -2.0]))
    s2, s_2 = 1 / (1 + math.exp(-2)), 1 / (1 + math.exp(2))
    assert_close(gap.gap_prob, (3 * s2 + s_2) / 4 - (0.5 + s_2) / 2)
    assert_close(gap.gap_logit, 1.0 - (-1.0))
    assert_close(gap.train_accuracy, 0.75)
    assert_close(gap.held_out_accuracy, 0.0)  # D(x) = 0.5 is not called real


def _memorizing_d(train: torch.Tensor):
    """Logit +4 on a training point, −1 elsewhere: a D that has memorized its set."""
    return lambda x: torch.where(torch.cdist(x, train, compute_mode="donot_use_mm_for_euclid_dist").min(1).values
                                 < 1e-9, 4.0, -1.0)


def test_a_memorizing_d_shows_a_gap_and_a_d_of_the_density_shows_none():
    gen = torch.Generator().manual_seed(0)
    train, held = torch.randn(2000, 2, generator=gen, dtype=torch.float64), \
        torch.randn(2000, 2, generator=gen, dtype=torch.float64)
    mem = _memorizing_d(train)
    gap = discriminator_gap(mem(train), mem(held))
    assert_close(gap.gap_logit, 5.0)
    assert (gap.train_accuracy, gap.held_out_accuracy) == (1.0, 0.0)

    def density(x):  # depends on the distribution only: its expectation is the same on both sets
        return 1.0 - x.pow(2).sum(1)

    fair = discriminator_gap(density(train), density(held))
    # the logit gap's standard error is √(2·Var(1 − |x|²)/2000) = √(2·4/2000) ≈ 0.063
    assert abs(fair.gap_logit) < 4 * math.sqrt(2 * 4 / 2000)
    assert abs(fair.gap_prob) < 0.1 * gap.gap_prob
    assert abs(fair.train_accuracy - fair.held_out_accuracy) < 0.05


def test_gap_curve_reads_the_probes_of_a_history():
    hist = History(config={})
    logits = [(torch.tensor([1.0, 3.0]), torch.tensor([-1.0, 0.5, 2.0])), (torch.tensor([5.0, 5.0]), torch.tensor([-3.0]))]
    for tr, ho in logits:
        hist.sample_steps.append(len(hist.sample_steps) + 1)
        hist.append_probes({"train": probe_row(tr), "held_out": probe_row(ho)})
    curve = gap_curve(hist)
    for i, (tr, ho) in enumerate(logits):
        one = discriminator_gap(tr, ho)
        for field in ("gap_prob", "gap_logit", "train_accuracy", "held_out_accuracy"):
            assert_close(getattr(curve, field)[i], getattr(one, field))
    with pytest.raises(ValueError, match="no probe curve"):
        gap_curve(hist, held_out="test")


def test_nearest_neighbours_on_a_line():
    ref = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    dist, idx = nearest_neighbours(torch.tensor([[2.9], [-1.0], [5.2]]), ref, k=2)
    np.testing.assert_array_equal(idx, [[2, 1], [0, 1], [3, 2]])  # 5.2 is nearer 7 than 3
    assert_close(torch.from_numpy(dist), torch.tensor([[0.1, 1.9], [1.0, 2.0], [1.8, 2.2]], dtype=torch.float64),
                 atol=1e-6, rtol=0)


def test_a_copying_generator_is_flagged_and_a_fresh_one_is_not():
    gen = torch.Generator().manual_seed(1)
    train = torch.randn(1000, 1, 4, 4, generator=gen)
    held = torch.randn(300, 1, 4, 4, generator=gen)
    copies = train[torch.randint(1000, (300,), generator=gen)]
    copied = data_copying(copies, train, held)
    assert (copied.generated_to_train == 0).all() and copied.median_ratio == 0
    assert (copied.generated_to_held_out > 0).all()
    # every copy is nearer the training set than every held-out image: U = 0, Z = −√(3MN/(M+N+1))
    assert_close(copied.z_u, -math.sqrt(3 * 300 * 300 / 601))
    fresh_samples = torch.randn(300, 1, 4, 4, generator=gen)
    fresh = data_copying(fresh_samples, train, held)
    assert abs(fresh.z_u) < 3 and 0.9 < fresh.median_ratio < 1.1
    # the held-out distances of an earlier call can be passed back in (they do not change)
    again = data_copying(fresh_samples, train, held, held_out_to_train=copied.held_out_to_train)
    assert again.z_u == fresh.z_u and again.median_ratio == fresh.median_ratio
    with pytest.raises(ValueError, match="held_out_to_train must be 300 distances >= 0"):
        data_copying(fresh_samples, train, held, held_out_to_train=copied.held_out_to_train[:5])
    assert fresh.held_out_to_train.shape == (300,) and fresh.generated_to_train.shape == (300,)


def test_mann_whitney_z_counts_pairs_and_ties():
    # pairs (x > y): 3>1, 3>2, 2>1, and the tie 2 = 2 counts ½: U = 3.5 of 4
    assert_close(mann_whitney_z([3.0, 2.0], [1.0, 2.0]), (3.5 - 2) / math.sqrt(4 * 5 / 12))


def test_nearest_training_images_returns_the_images_themselves():
    gen = torch.Generator().manual_seed(2)
    train = torch.rand(50, 1, 3, 3, generator=gen)
    samples = train[[7, 20]] + 1e-3
    images, dist, idx = nearest_training_images(samples, train, k=3)
    assert images.shape == (2, 3, 1, 3, 3) and dist.shape == idx.shape == (2, 3)
    assert idx[:, 0].tolist() == [7, 20]
    assert_close(images[:, 0], train[[7, 20]])
    assert (np.diff(dist, axis=1) >= 0).all()


def test_overfitting_statistics_reject_bad_input():
    with pytest.raises(ValueError, match=r"train_logits must be finite logits of shape \(N,\)"):
        discriminator_gap(torch.zeros(0), torch.zeros(3))
    with pytest.raises(ValueError, match="held_out_logits must be finite"):
        discriminator_gap(torch.zeros(3), torch.tensor([float("nan")]))
    with pytest.raises(ValueError, match="must share their trailing shape"):
        nearest_neighbours(torch.zeros(2, 1, 4, 4), torch.zeros(5, 16))
    with pytest.raises(ValueError, match="k must be at most the reference size 5"):
        nearest_neighbours(torch.zeros(2, 3), torch.zeros(5, 3), k=6)
    with pytest.raises(ValueError, match=r"held_out must be a batch \(N, ...\) with N >= 1"):
        data_copying(torch.zeros(2, 3), torch.zeros(5, 3), torch.zeros(0, 3))
    with pytest.raises(ValueError, match="generated has NaN or inf"):
        data_copying(torch.full((2, 3), float("inf")), torch.zeros(5, 3), torch.zeros(4, 3))
    with pytest.raises(ValueError, match=r"train must be images \(N, C, H, W\)"):
        nearest_training_images(torch.zeros(2, 3), torch.zeros(5, 3))


def _two_cells(n0: int, n1: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Points in 3-D: cell 0 tight (σ 0.1) around the origin, cell 1 wide (σ 1) around (20, 0, 0)."""
    x0 = 0.1 * torch.randn(n0, 3, generator=gen)
    x1 = torch.randn(n1, 3, generator=gen) + torch.tensor([20.0, 0.0, 0.0])
    return torch.cat([x0, x1]), torch.cat([torch.zeros(n0, dtype=torch.long), torch.ones(n1, dtype=torch.long)])


def test_per_cell_copying_separates_copying_from_drawing_one_cell_more():
    gen = torch.Generator().manual_seed(3)
    train, _ = _two_cells(500, 500, gen)
    held, held_cells = _two_cells(150, 150, gen)
    # fresh samples, but 9 in 10 from the tight cell: the global Z_U reads it as copying
    lopsided, lopsided_cells = _two_cells(270, 30, gen)
    res = data_copying(lopsided, train, held, lopsided_cells, held_cells)
    assert res.z_u < -3 and abs(res.z_u_cells) < 3
    assert res.cell_z.shape == (2,) and np.isfinite(res.cell_z).all()
    # the held-out shares (½, ½) weight the cells
    assert_close(res.z_u_cells, 0.5 * res.cell_z[0] + 0.5 * res.cell_z[1])
    copies = train[torch.randint(1000, (300,), generator=gen)]
    copy_cells = (copies[:, 0] > 10).long()
    assert data_copying(copies, train, held, copy_cells, held_cells).z_u_cells < -10
    # a cell G leaves (nearly) empty is not counted
    few = data_copying(lopsided[:275], train, held, lopsided_cells[:275], held_cells, min_cell=10)
    assert np.isnan(few.cell_z[1]) and few.z_u_cells == few.cell_z[0]
    assert np.isnan(data_copying(lopsided, train, held).z_u_cells)
    with pytest.raises(ValueError, match="give generated_cells and held_out_cells together"):
        data_copying(lopsided, train, held, lopsided_cells)
    with pytest.raises(ValueError, match=r"cells must be integers >= 0 of shape \(300,\)"):
        data_copying(lopsided, train, held, lopsided_cells.float(), held_cells)


def test_ties_reached_by_different_float_paths_pair_as_no_change():
    # two collapsed runs both at log 8, computed two ways: a few ulps apart, but no effect
    from gan_l2_lib.metrics import pair_by_seed, paired_effect

    log8a = float(np.log(8.0))
    log8b = float(np.nextafter(np.nextafter(log8a, 3.0), 3.0))  # 2 ulps above, as from another float path
    assert log8a != log8b
    values = {0: log8b, 1: log8b, 2: log8b, 3: 2.5, 4: 2.4}
    baseline = {0: log8a, 1: log8a, 2: log8a, 3: 2.0, 4: 2.1}
    _, deltas, _ = pair_by_seed(values, baseline)
    assert deltas[:3].tolist() == [0.0, 0.0, 0.0] and deltas[3] == pytest.approx(0.5)
    eff = paired_effect(values, baseline, higher_is_better=False, method="percentile")
    assert eff.low == 0.0 and eff.verdict == "neutral"  # three ties and two rises: not one-sided
