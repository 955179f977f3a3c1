"""The metric table and the evaluation of a run (``gan_l2_lib.evaluate``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_l2_lib import evaluate
from gan_l2_lib.data import DATASET_NAMES, ImageDataset, dataset_facts, make_mixture, make_stacked
from gan_l2_lib.evaluate import (
    METRICS,
    colour_range,
    coverage_key,
    evaluate_run,
    format_value,
    lambda_label,
    map_metrics,
    metrics_for,
    unit_label,
)
from gan_l2_lib.metrics import CONFIDENT, stacked_stats
from gan_l2_lib.train import History, TrainConfig


def _history(samples: list[torch.Tensor], dataset: str = "ring8") -> History:
    h = History(config=TrainConfig.preset(dataset).to_dict())
    for step, x in enumerate(samples, 1):
        h.sample_steps.append(100 * step)
        h.samples.append(x)
    return h


def test_every_metric_evaluate_run_makes_is_in_the_table():
    ring = make_mixture("ring8")
    gen = torch.Generator().manual_seed(0)
    hist = _history([ring.sample(400, gen) for _ in range(4)])
    for step in range(1, 31):  # logged rows for the stability numbers
        hist.steps.append(10 * step)
        for key in hist.scalars:
            hist.scalars[key].append(float(step % 3))
    curves, summary = evaluate_run(hist, ring, eval_last=2)
    assert set(curves) <= set(METRICS) and set(summary) <= set(METRICS)
    assert set(curves) == {"modes_covered", "high_quality_fraction", "reverse_kl", "mode_shift"}
    assert set(summary) - set(curves) == {"d_loss_tail_std", "g_loss_tail_std", "gap_tail_mean",
                                          "grad_spikes_d", "grad_spikes_g", "diverged", "diverged_step"}
    # a run's value is its mean over the last eval_last evaluations; real data covers all 8 modes
    for key, values in curves.items():
        assert summary[key] == pytest.approx(np.nanmean(values[-2:]))
    assert summary["modes_covered"] == 8 and summary["high_quality_fraction"] > 0.95
    assert all("mixture" in METRICS[k].kinds for k in summary)


def test_summary_ignores_evaluations_where_the_reverse_kl_is_undefined():
    ring = make_mixture("ring8")
    far = torch.full((50, 2), 9.0)  # no sample near a mode: no distribution over modes, KL is NaN
    near = ring.centers[torch.zeros(50, dtype=torch.long)]  # every sample on mode 0: KL = log 8
    curves, summary = evaluate_run(_history([near, far]), ring, eval_last=2)
    assert np.isnan(curves["reverse_kl"][1])
    assert summary["reverse_kl"] == pytest.approx(np.log(8))
    assert summary["modes_covered"] == 0.5  # (1 + 0) / 2
    _, none = evaluate_run(_history([far]), ring)
    assert np.isnan(none["reverse_kl"])


def test_digit_sets_get_class_keys_and_2d_sets_mode_keys():
    assert coverage_key("mnist5k") == coverage_key("digits8") == "classes_covered"
    assert coverage_key("ring8") == coverage_key("stacked_mnist") == "modes_covered"
    assert "classes_covered" in metrics_for("mnist5k") and "modes_covered" not in metrics_for("mnist5k")
    assert "high_quality_fraction" in metrics_for("grid25") and "mean_confidence" not in metrics_for("grid25")
    assert metrics_for("stacked_mnist")[:5] == ["modes_covered", "confident_modes_covered", "confident_fraction",
                                                "mean_confidence", "reverse_kl"]
    quality_aware = {"confident_modes_covered", "confident_fraction", "confident_reverse_kl"}
    for name in DATASET_NAMES:  # only stacked MNIST has three channels to read
        assert (quality_aware <= set(metrics_for(name))) == (name == "stacked_mnist")


def test_stacked_runs_get_confident_triples_and_confidence_curves(tiny_classifier, digits8):
    clf, _ = tiny_classifier
    stacked = make_stacked(digits8, n=600, seed=0)
    # a good generator (real stacked digits), then a blurry one (digits averaged in pairs)
    sharp, blur = stacked.images[:300], 0.5 * (stacked.images[:300] + stacked.images[300:])
    hist = _history([sharp, blur, sharp], "stacked_mnist")
    curves, summary = evaluate_run(hist, stacked, eval_last=2, classifier=clf)
    assert set(curves) == {"modes_covered", "reverse_kl", "mean_confidence", "confident_fraction",
                           "confident_modes_covered", "confident_reverse_kl"}
    assert all("stacked" in METRICS[k].kinds for k in summary)
    for i, x in enumerate(hist.samples):  # each curve is the evaluation's StackedStats
        st = stacked_stats(x, clf, CONFIDENT)
        assert (curves["modes_covered"][i], curves["confident_modes_covered"][i]) == \
            (st.modes_covered, st.confident_modes_covered)
        assert curves["confident_fraction"][i] == st.confident_fraction
        assert curves["mean_confidence"][i] == st.mean_confidence
        assert curves["confident_reverse_kl"][i] == pytest.approx(st.confident_kl_to_uniform, nan_ok=True)
    for key, values in curves.items():
        assert summary[key] == pytest.approx(np.nanmean(values[-2:]))
    # blurring lowers the confidence and the confident count more than the plain count
    assert curves["mean_confidence"][1] < curves["mean_confidence"][0]
    assert curves["confident_fraction"][1] < curves["confident_fraction"][0]
    assert curves["confident_modes_covered"][1] < curves["confident_modes_covered"][0] <= curves["modes_covered"][0]


def test_stacked_summary_ignores_evaluations_without_a_confident_sample(tiny_classifier, digits8):
    clf, _ = tiny_classifier
    stacked = make_stacked(digits8, n=100, seed=0)
    flat = torch.zeros(50, 3, 8, 8)  # a blank image: no class reaches the cut
    assert stacked_stats(flat, clf).confident_fraction == 0.0
    curves, summary = evaluate_run(_history([stacked.images[:50], flat], "stacked_mnist"), stacked,
                                   eval_last=2, classifier=clf)
    assert np.isnan(curves["confident_reverse_kl"][1]) and np.isfinite(curves["confident_reverse_kl"][0])
    assert summary["confident_reverse_kl"] == pytest.approx(curves["confident_reverse_kl"][0])
    assert curves["confident_modes_covered"][1] == 0 and curves["confident_fraction"][1] == 0
    _, none = evaluate_run(_history([flat], "stacked_mnist"), stacked, classifier=clf)
    assert np.isnan(none["confident_reverse_kl"]) and none["confident_modes_covered"] == 0


def test_image_run_without_classifier_has_only_stability_numbers():
    images = torch.zeros(20, 1, 8, 8)
    data = ImageDataset("digits8", images, torch.zeros(20, dtype=torch.long), 10)
    curves, summary = evaluate_run(_history([images[:4]], "digits8"), data, classifier=None)
    assert curves == {} and set(summary) == {"diverged", "diverged_step"}


def test_map_metrics_prefer_three_quality_maps_then_stability():
    ring = ["reverse_kl", "modes_covered", "high_quality_fraction", "diverged", "d_loss_tail_std", "gap_tail_mean"]
    assert map_metrics(ring) == ["modes_covered", "high_quality_fraction", "reverse_kl", "d_loss_tail_std",
                                 "diverged"]
    digits = ["classes_covered", "mean_confidence", "frechet_distance", "reverse_kl", "diverged"]
    assert map_metrics(digits) == ["classes_covered", "mean_confidence", "frechet_distance", "diverged"]
    # stacked MNIST: the confident count and share first; old files without them keep their maps
    stacked = ["modes_covered", "reverse_kl", "mean_confidence", "confident_fraction", "confident_modes_covered",
               "confident_reverse_kl", "diverged"]
    assert map_metrics(stacked) == ["modes_covered", "confident_modes_covered", "confident_fraction", "diverged"]
    assert map_metrics(["modes_covered", "reverse_kl", "diverged"]) == ["modes_covered", "reverse_kl", "diverged"]


def test_colour_ranges_follow_the_metric_scale():
    # stacked_mnist: 500 samples of 1,000 equally likely triples hit 1000·(1 − 0.999^500) ≈ 393.6
    assert colour_range("modes_covered", np.array([3.0]), "stacked_mnist", 500) == \
        pytest.approx((0.0, 1000 * (1 - 0.999**500)))
    assert colour_range("modes_covered", np.array([3.0]), "ring8", 500) == (0.0, 8.0)
    assert colour_range("classes_covered", np.array([3.0]), "mnist5k", 500) == (0.0, 10.0)
    assert colour_range("diverged", np.array([0.3]), "ring8", 500) == (0.0, 1.0)
    # a KL (or a spread) starts at 0, its best value: 1.1 nats must not look ideal
    assert colour_range("reverse_kl", np.array([1.1, np.nan, 2.0]), "ring8", 500) == (0.0, 2.0)
    assert colour_range("d_loss_tail_std", np.array([0.2, 0.4]), "ring8", 500) == (0.0, 0.4)
    assert colour_range("reverse_kl", np.array([0.0]), "ring8", 500) == (0.0, 1.0)  # all 0: a visible range
    assert colour_range("reverse_kl", np.array([np.nan]), "ring8", 500) == (0.0, 1.0)
    assert colour_range("frechet_distance", np.array([30.0, np.nan, 70.0]), "mnist5k", 500) == (30.0, 70.0)
    assert colour_range("frechet_distance", np.array([30.0]), "mnist5k", 500) == (29.5, 30.5)  # one value: widened


def test_unit_labels_fill_in_the_data_set():
    assert unit_label("modes_covered", "ring8", 500) == "modes hit (of 8)"
    assert unit_label("classes_covered", "mnist5k", 500) == "digit classes hit (of 10)"
    assert unit_label("modes_covered", "stacked_mnist", 500) == \
        "triples hit (of 1000; a perfect G ≈ 394 with 500 samples)"
    # with 10,000 samples a perfect G hits ≈ all 1,000 triples: the metric's own unit
    assert unit_label("confident_modes_covered", "stacked_mnist", 10_000) == \
        "triples, all 3 channels ≥ 0.9 (of 1000)"
    assert colour_range("confident_modes_covered", np.array([3.0]), "stacked_mnist", 10_000) == (0.0, 1000.0)


@pytest.mark.parametrize("key, value, text", [
    ("modes_covered", 7.0, "7"), ("modes_covered", 6.67, "6.7"), ("high_quality_fraction", 0.456, "0.46"),
    ("reverse_kl", 0.00032, "3.2e-4"), ("reverse_kl", 1.234, "1.2"), ("frechet_distance", 338.9, "339"),
    ("diverged", float("nan"), "–"),
])
def test_format_value(key, value, text):
    assert format_value(key, value) == text


def test_lambda_label():
    assert [lambda_label(v) for v in (0, 1e-4, 3e-3, 2.5e-3, 0.1)] == ["0", "1e-4", "3e-3", "2.5e-3", "1e-1"]


def test_unknown_metric_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown metric 'fid'; known metrics: modes_covered, classes_covered"):
        evaluate.metric("fid")
    with pytest.raises(ValueError, match="unknown data set"):
        metrics_for("cifar10")


@pytest.mark.parametrize("field, value, match", [
    ("kinds", ("audio",), "kinds must be among"), ("scale", "log", "scale must be one of"),
    ("fmt", "percent", "fmt must be one of"),
])
def test_a_bad_metric_definition_is_rejected(field, value, match):
    args = dict(key="x", label="x", unit="x", higher_is_better=True, kinds=("mixture",), scale="unit", fmt="count")
    args[field] = value
    with pytest.raises(ValueError, match=match):
        evaluate.Metric(**args)


def test_every_data_set_has_facts_the_metrics_can_use():
    for name in DATASET_NAMES:
        facts = dataset_facts(name)
        assert facts.name == name and metrics_for(name)
        assert facts.is_2d == (name in ("ring8", "grid25"))
        assert (facts.classifier is None) == facts.is_2d


# --- held-out metrics (data sets with a held-out split) ---

def test_held_out_metrics_exist_only_for_sets_with_held_out_images():
    held_keys = {k for k, m in METRICS.items() if m.held_out}
    assert {"d_gap_prob", "d_held_out_accuracy", "copying_z", "frechet_distance_held_out"} <= held_keys
    for name in DATASET_NAMES:
        assert (held_keys <= set(metrics_for(name))) == dataset_facts(name).has_held_out
        assert not held_keys & set(metrics_for(name)) or dataset_facts(name).has_held_out
    assert evaluate.overfitting_probes(make_mixture("ring8")) is None


def test_a_copying_run_on_a_split_gets_a_gap_and_a_copying_statistic(tmp_path):
    from gan_l2_lib.data import held_out_images, load_images, split_indices
    from gan_l2_lib.train import probe_row

    train = load_images("mnist5k_train1k")
    probes = evaluate.overfitting_probes(train)
    held = held_out_images("mnist5k_train1k").images
    assert set(probes) == {"train", "held_out"} and len(probes["train"]) == len(held) == 1000
    full = load_images("mnist5k")
    _, held_idx = split_indices("mnist5k_train4k", full.labels)
    unused = torch.ones(len(full), dtype=torch.bool)
    unused[split_indices("mnist5k_train1k", full.labels)[0]] = False
    unused[held_idx] = False
    # real digits that are neither training nor held-out images, 30 of each class as the
    # held-out set is stratified (nearest-neighbour distances differ by class: zeros lie far apart)
    fresh = torch.cat([full.images[unused & (full.labels == c)][:30] for c in range(10)])
    h = _history([train.images[:300], fresh], dataset="mnist5k_train1k")
    for logit_train, logit_held in ((2.0, 2.0), (3.0, -1.0)):  # a hand-made D that learns to overfit
        h.append_probes({"train": probe_row(torch.full((1000,), logit_train)),
                         "held_out": probe_row(torch.full((1000,), logit_held))})
    curves, summary = evaluate_run(h, train, eval_last=1)
    assert set(curves) == {"d_gap_prob", "d_gap_logit", "d_train_accuracy", "d_held_out_accuracy",
                           "copying_z", "copying_median_ratio"}  # no classifier: no Fréchet distances
    assert set(curves) <= set(metrics_for("mnist5k_train1k"))
    np.testing.assert_allclose(curves["d_gap_logit"], [0.0, 4.0])
    np.testing.assert_allclose(curves["d_held_out_accuracy"], [1.0, 0.0])
    # the copies sit on the training set; fresh real digits look like held-out ones
    assert curves["copying_median_ratio"][0] == 0 and curves["copying_z"][0] < -10
    assert abs(curves["copying_z"][1]) < 3
    assert summary["d_gap_prob"] == pytest.approx(curves["d_gap_prob"][-1])

    # with a (tiny, 1-epoch) mnist5k classifier: the Fréchet distance to the held-out images too
    from gan_l2_lib.classifier import ClassifierConfig, load_or_train_classifier
    from gan_l2_lib.metrics import classifier_frechet_distance

    clf = load_or_train_classifier(ClassifierConfig.preset("mnist5k_train1k", epochs=1, width=4, feature_dim=16),
                                   tmp_path, data=full)
    curves, _ = evaluate_run(h, train, eval_last=1, classifier=clf)
    assert {"frechet_distance", "frechet_distance_held_out", "copying_z_features", "classes_covered"} <= set(curves)
    assert curves["copying_z_features"][0] < -10 and abs(curves["copying_z_features"][1]) < 3
    assert curves["copying_z_classes"][0] < -3 and abs(curves["copying_z_classes"][1]) < 3
    assert set(curves) <= set(metrics_for("mnist5k_train1k"))
    assert curves["frechet_distance_held_out"][1] == pytest.approx(classifier_frechet_distance(fresh, held, clf))
