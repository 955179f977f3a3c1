"""The metric table and the evaluation of a run: one definition per metric, looked up everywhere.

Every number a sweep stores about a run is a *metric* with one entry in ``METRICS``: its
key, label, unit, which way is better, its colour range on a map, its number format, the
data kinds it applies to, and whether the λ lab maps it or the CLI table prints it. Records,
the CLI table, the maps, the λ lab and the notebooks read labels and formats from here.

``evaluate_run`` turns a training ``History`` into metric curves (one value per evaluation)
and a summary (one value per metric). Adding a metric means one entry in ``METRICS`` and its
computation in ``evaluate_run``; nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.func import functional_call

from .checks import int_at_least, positive_int
from .classifier import classifier_features, classify
from .data import DatasetFacts, ImageDataset, Mixture, dataset_facts, held_out_images
from .metrics import (
    CONFIDENT,
    background_mask,
    background_noise,
    class_curve,
    classifier_frechet_distance,
    data_copying,
    frechet_distance,
    gap_curve,
    histogram_shift,
    mode_curve,
    nearest_neighbours,
    stability_stats,
    stacked_stats,
)
from .train import History, TrainConfig, build_models

KINDS = ("mixture", "digits", "stacked")
SCALES = ("modes", "unit", "zero", "data")
FORMATS = ("count", "fraction", "short")
SURFACE_RES = 48  # D's decision surface is stored on a SURFACE_RES × SURFACE_RES grid (2-D data)


@dataclass(frozen=True)
class Metric:
    """One metric's definition.

    Attributes:
        key: the name in records' ``summary`` and ``curves``.
        label: a short title (map titles, table headers).
        unit: what the number counts, for axes and colour bars; ``{n}`` is replaced by the
            data set's number of modes.
        higher_is_better: True / False, or None where neither direction is better.
        kinds: the data kinds (``data.DatasetFacts.kind``) it is defined for.
        scale: colour range on a map: ``"modes"`` (0 … what a perfect generator hits with
            the evaluation's sample count), ``"unit"`` (0 … 1), ``"zero"`` (0, its best value, … the
            values' largest: a divergence or a spread, so a small value never looks ideal) or
            ``"data"`` (the values' range).
        fmt: number format: ``"count"``, ``"fraction"`` (two decimals) or ``"short"``.
        stability: a stability number (from the logged losses) rather than a sample-quality one.
        on_map: the λ lab draws it as a map (quality maps in table order, at most three).
        in_table: the CLI table prints it.
        held_out: it compares with real images the GAN never saw, so it is defined only for
            data sets with held-out images (``data.DatasetFacts.has_held_out``).
    """

    key: str
    label: str
    unit: str
    higher_is_better: bool | None
    kinds: tuple[str, ...]
    scale: str
    fmt: str
    stability: bool = False
    on_map: bool = False
    in_table: bool = False
    held_out: bool = False

    def __post_init__(self) -> None:
        if not set(self.kinds) <= set(KINDS):
            raise ValueError(f"metric {self.key}: kinds must be among {KINDS}, got {self.kinds}")
        if self.scale not in SCALES:
            raise ValueError(f"metric {self.key}: scale must be one of {SCALES}, got {self.scale!r}")
        if self.fmt not in FORMATS:
            raise ValueError(f"metric {self.key}: fmt must be one of {FORMATS}, got {self.fmt!r}")


_ALL = KINDS
_METRIC_LIST = (
    # --- sample quality and diversity (order = the λ lab's preference for its three maps) ---
    Metric("modes_covered", "modes covered", "modes hit (of {n})", True, ("mixture", "stacked"),
           "modes", "count", on_map=True, in_table=True),
    Metric("classes_covered", "classes covered", "digit classes hit (of {n})", True, ("digits",),
           "modes", "count", on_map=True, in_table=True),
    # stacked MNIST, quality-aware: only samples whose three channels are all read confidently
    Metric("confident_modes_covered", "confident triples",
           f"triples, all 3 channels ≥ {CONFIDENT:g} (of {{n}})", True, ("stacked",),
           "modes", "count", on_map=True, in_table=True),
    Metric("high_quality_fraction", "high-quality samples", "fraction within 3σ of a mode", True,
           ("mixture",), "unit", "fraction", on_map=True, in_table=True),
    Metric("confident_fraction", "confidently read samples",
           f"fraction with all 3 channels ≥ {CONFIDENT:g}", True, ("stacked",),
           "unit", "fraction", on_map=True, in_table=True),
    # on stacked MNIST: the mean over samples and their three channels
    Metric("mean_confidence", "classifier confidence", "mean top-class probability", True,
           ("digits", "stacked"), "unit", "fraction", on_map=True, in_table=True),
    Metric("frechet_distance", "Fréchet distance", "classifier-feature FD (lower = better)", False,
           ("digits",), "data", "short", on_map=True, in_table=True),
    Metric("reverse_kl", "reverse KL to uniform", "nats (0 = modes hit equally)", False, _ALL,
           "zero", "short", on_map=True, in_table=True),
    Metric("confident_reverse_kl", "confident reverse KL", "nats, confident samples (0 = triples hit equally)",
           False, ("stacked",), "zero", "short", in_table=True),
    Metric("background_brightness", "background speckle", "mean brightness where real digits are dark",
           False, ("digits",), "data", "short", in_table=True),
    # --- overfitting, against real images the GAN never saw (data sets with a held-out split) ---
    Metric("frechet_distance_held_out", "Fréchet distance to held-out",
           "classifier-feature FD to held-out images (lower = better)", False, ("digits",), "data", "short",
           held_out=True),
    # D's gap: probabilities are the headline (bounded, the scale of D(x) − D(G(z))); logits keep
    # growing after the probabilities saturate
    Metric("d_gap_prob", "D's overfitting gap", "E[D(x_train)] − E[D(x_held-out)] (0: no overfitting)", False,
           ("digits",), "data", "fraction", held_out=True),
    Metric("d_gap_logit", "D's logit gap", "mean logit on training − on held-out images", False,
           ("digits",), "data", "short", held_out=True),
    Metric("d_train_accuracy", "D's accuracy on training images", "fraction of training images with D(x) > 0.5",
           None, ("digits",), "unit", "fraction", held_out=True),
    # neither direction is better on its own: read it beside the training accuracy
    Metric("d_held_out_accuracy", "D's accuracy on held-out images", "fraction of held-out images with D(x) > 0.5",
           None, ("digits",), "unit", "fraction", held_out=True),
    # ≈ 0 for fresh samples; ≪ 0 copying, > 0 samples farther from the data than new data is
    Metric("copying_z", "data-copying Z_U", "Z_U of nn distances to training, samples vs held-out (≪ 0: copying)",
           None, ("digits",), "data", "short", held_out=True),
    Metric("copying_z_classes", "data-copying Z_U (per digit)",
           "Z_U within each digit the classifier reads, weighted by held-out share (≪ 0: copying)", None,
           ("digits",), "data", "short", held_out=True),
    Metric("copying_z_features", "data-copying Z_U (features)",
           "Z_U in the digit classifier's feature space (≪ 0: copying)", None, ("digits",), "data", "short",
           held_out=True),
    Metric("copying_median_ratio", "nn distance ratio",
           "median nn distance to training, samples / held-out (0: copies, 1: as new data)", None,
           ("digits",), "data", "short", held_out=True),
    # --- stability, from the logged losses ---
    Metric("d_loss_tail_std", "oscillation", "std of D loss over the last 20 logs", False, _ALL,
           "zero", "short", stability=True, on_map=True, in_table=True),
    Metric("g_loss_tail_std", "G-loss oscillation", "std of G loss over the last 20 logs", False, _ALL,
           "zero", "short", stability=True),
    Metric("gap_tail_mean", "D(x) − D(G(z))", "mean over the last 20 logs (0: D cannot tell)", None,
           _ALL, "unit", "fraction", stability=True, in_table=True),
    Metric("mode_shift", "mode hopping", "share of samples that changed mode",
           False, ("mixture",), "unit", "fraction", stability=True, in_table=True),
    Metric("grad_spikes_d", "gradient spikes of D", "logged norms above 5× their running median",
           False, _ALL, "data", "count", stability=True),
    Metric("grad_spikes_g", "gradient spikes of G", "logged norms above 5× their running median",
           False, _ALL, "data", "count", stability=True),
    Metric("diverged", "divergence", "fraction of seeds hitting NaN/inf", False, _ALL, "unit",
           "fraction", stability=True, on_map=True, in_table=True),
    Metric("diverged_step", "divergence step", "training step of the first NaN/inf", None, _ALL,
           "data", "count", stability=True),
)
#: Every metric by key, in table order.
METRICS: dict[str, Metric] = {m.key: m for m in _METRIC_LIST}
#: Keys that old record files (schema 1) used for another metric, by data kind.
LEGACY_KEYS = {"digits": {"modes_covered": "classes_covered"}}


def metric(key: str) -> Metric:
    """The ``Metric`` of a key.

    Raises:
        ValueError: for an unknown key (the message lists the known ones).
    """
    if key not in METRICS:
        raise ValueError(f"unknown metric {key!r}; known metrics: {', '.join(METRICS)}")
    return METRICS[key]


def metrics_for(dataset: str) -> list[str]:
    """The keys of every metric defined for a data set, in table order."""
    facts = dataset_facts(dataset)
    return [m.key for m in _METRIC_LIST if facts.kind in m.kinds and (facts.has_held_out or not m.held_out)]


def coverage_key(dataset: str) -> str:
    """The key of the "how many modes does G hit" metric: modes, or classes on digit sets."""
    return "classes_covered" if dataset_facts(dataset).kind == "digits" else "modes_covered"


def map_metrics(available) -> list[str]:
    """The metrics the λ lab maps, among ``available`` keys: up to three quality maps, then stability."""
    available = set(available)
    quality = [m.key for m in _METRIC_LIST if m.on_map and not m.stability and m.key in available][:3]
    return quality + [m.key for m in _METRIC_LIST if m.on_map and m.stability and m.key in available]


def lambda_label(value: float) -> str:
    """A λ (or any small positive number) as a short label: ``0``, ``1e-4``, ``3e-3``, ``2.5e-3``."""
    value = float(value)
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.1e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def format_value(key: str, value: float) -> str:
    """A metric's value, short, in the metric's format ("–" for NaN)."""
    fmt = metric(key).fmt
    v = float(value)
    if not np.isfinite(v):
        return "–"
    if fmt == "count":
        return f"{v:.1f}" if abs(v - round(v)) > 0.05 else f"{v:.0f}"
    if fmt == "fraction":
        return f"{v:.2f}"
    if 0 < abs(v) < 0.01:
        return lambda_label(v)  # "3e-4", not "0.00032"
    return f"{v:.2g}" if abs(v) < 10 else f"{v:.0f}"  # short: five cells share a narrow row


def perfect_coverage_cap(facts: DatasetFacts, n_samples: int) -> float | None:
    """What a perfect generator covers with ``n_samples``, where that is clearly below all modes.

    None where a perfect generator hits ≥ 99 % of the modes (every set here but stacked_mnist).
    """
    cap = facts.perfect_coverage(n_samples)
    return cap if cap < 0.99 * facts.n_modes else None


def unit_label(key: str, dataset: str, n_samples: int) -> str:
    """A metric's unit for an axis or colour bar, with the data set's mode count filled in."""
    m, facts = metric(key), dataset_facts(dataset)
    if m.scale == "modes" and (cap := perfect_coverage_cap(facts, n_samples)) is not None:
        return f"{facts.mode_word}s hit (of {facts.n_modes}; a perfect G ≈ {cap:.0f} with {n_samples} samples)"
    return m.unit.format(n=facts.n_modes)


def colour_range(key: str, values: np.ndarray, dataset: str, n_samples: int) -> tuple[float, float]:
    """The (low, high) colour limits of a metric's map.

    Args:
        key: the metric.
        values: the map's values (NaN allowed), for ``"data"``-scaled metrics.
        dataset: the data set (its number of modes).
        n_samples: samples per evaluation (what a perfect generator can cover with them).
    """
    m = metric(key)
    if m.scale == "modes":
        facts = dataset_facts(dataset)
        cap = perfect_coverage_cap(facts, n_samples)
        return 0.0, float(cap if cap is not None else facts.n_modes)
    if m.scale == "unit":
        return 0.0, 1.0
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    if m.scale == "zero":
        return 0.0, (hi if hi > 0 else 1.0)
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)


# ---------------------------------------------------------------------------------------------
# Evaluating a run
# ---------------------------------------------------------------------------------------------


def overfitting_probes(data: Mixture | ImageDataset) -> dict[str, Tensor] | None:
    """The real images D is read on at every evaluation (``probe_images``) to see it overfit.

    Args:
        data: the training set.

    Returns:
        ``{"train": training images, "held_out": held-out images}``, the training images a
        fixed random subset (seed 0) as large as the held-out set, so both fractions are
        measured with the same precision; None for a data set without held-out images.
    """
    if not dataset_facts(data.name).has_held_out:
        return None
    held = held_out_images(data.name).images
    pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:len(held)]
    return {"train": data.images[pick.to(data.images.device)].cpu(), "held_out": held}


def _overfitting_curves(hist: History, data: ImageDataset, classifier) -> dict[str, np.ndarray]:
    """The held-out metrics' curves: D's gap (from the run's probes), data copying, FD to held-out."""
    curves: dict[str, np.ndarray] = {}
    if {"train", "held_out"} <= set(hist.probes):
        gap = gap_curve(hist)
        curves.update(d_gap_prob=gap.gap_prob, d_gap_logit=gap.gap_logit, d_train_accuracy=gap.train_accuracy,
                      d_held_out_accuracy=gap.held_out_accuracy)
    held = held_out_images(data.name).images
    train = data.images.cpu()
    held_to_train = nearest_neighbours(held, train)[0][:, 0]  # the same at every evaluation
    if classifier is None:
        copying = [data_copying(x, train, held, held_out_to_train=held_to_train) for x in hist.samples]
    else:  # one pass gives the global Z_U and the one per digit as the classifier reads it
        with torch.no_grad():  # (held-out images read by it too, so both sides are cut alike)
            held_cells = classify(held, classifier).argmax(1)
            copying = [data_copying(x, train, held, classify(x, classifier).argmax(1), held_cells,
                                    held_out_to_train=held_to_train) for x in hist.samples]
        curves["copying_z_classes"] = np.array([c.z_u_cells for c in copying])
    curves["copying_z"] = np.array([c.z_u for c in copying])
    curves["copying_median_ratio"] = np.array([c.median_ratio for c in copying])
    if classifier is not None:
        with torch.no_grad():  # each set's features once (the CNN is most of the evaluation's time)
            f_train, f_held = classifier_features(train, classifier), classifier_features(held, classifier)
            features = [classifier_features(x, classifier) for x in hist.samples]
        curves["frechet_distance_held_out"] = np.array([frechet_distance(f, f_held) for f in features])
        # the copying test where the classifier looks: two images of one digit in different
        # strokes are far apart in pixels but near in its features
        f_held_to_train = nearest_neighbours(f_held, f_train)[0][:, 0]
        curves["copying_z_features"] = np.array([data_copying(f, f_train, f_held, held_out_to_train=f_held_to_train).z_u
                                                 for f in features])
    return curves


def evaluate_run(hist: History, data: Mixture | ImageDataset, eval_last: int = 3,
                 classifier=None, n_real: int = 1000) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Metric curves over a run's evaluations and its summary numbers.

    Args:
        hist: the run's history.
        data: the data set it was trained on.
        eval_last: how many final evaluations the summary averages.
        classifier: a ``classifier.TrainedClassifier`` for image data (None: no class metrics).
        n_real: real images (a fixed random subset of ``data``) used as the reference of the
            Fréchet distance and for the background mask.

    Returns:
        ``(curves, summary)``: curves map metric keys to arrays aligned with
        ``hist.sample_steps``; summary maps metric keys to floats (NaN where undefined). On a
        data set with held-out images (``data.DatasetFacts.has_held_out``) also the
        ``held_out`` metrics: D's gap and accuracies when the run was trained with
        ``overfitting_probes`` as its ``probe_images``, data copying in pixel space, and with
        a classifier the Fréchet distance to the held-out images and data copying in its
        feature space.

    Raises:
        ValueError: for ``eval_last < 1`` or ``n_real < 2`` (a Fréchet distance needs two).
    """
    eval_last = positive_int(eval_last, "eval_last")
    n_real = int_at_least(n_real, "n_real", 2)
    nan = float("nan")
    summary: dict[str, float] = {}
    curves: dict[str, np.ndarray] = {}
    if hist.steps or hist.diverged:
        stab = stability_stats(hist)
        for key in ("d_loss_tail_std", "g_loss_tail_std", "gap_tail_mean", "grad_spikes_d", "grad_spikes_g"):
            summary[key] = float(getattr(stab, key))
    summary["diverged"] = float(hist.diverged)
    summary["diverged_step"] = float(hist.diverged_step) if hist.diverged_step is not None else nan
    if not hist.samples:
        return curves, summary
    kind = dataset_facts(data.name).kind
    if kind == "mixture":
        curve = mode_curve(hist, data)
        curves = {"modes_covered": curve.modes_covered.astype(np.float64),
                  "high_quality_fraction": curve.high_quality_fraction,
                  "reverse_kl": curve.reverse_kl, "mode_shift": histogram_shift(curve.counts)}
    elif classifier is None:
        pass  # no class metrics; the held-out ones below need no classifier but their FD
    elif kind == "stacked":
        stats = [stacked_stats(x, classifier, CONFIDENT) for x in hist.samples]
        curves = {"modes_covered": np.array([float(st.modes_covered) for st in stats]),
                  "reverse_kl": np.array([st.kl_to_uniform for st in stats]),
                  "mean_confidence": np.array([st.mean_confidence for st in stats]),
                  "confident_fraction": np.array([st.confident_fraction for st in stats]),
                  "confident_modes_covered": np.array([float(st.confident_modes_covered) for st in stats]),
                  # NaN at an evaluation without a confident sample (ignored by the summary)
                  "confident_reverse_kl": np.array([st.confident_kl_to_uniform for st in stats])}
    else:
        curve = class_curve(hist, classifier)
        pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:n_real]
        real = data.images[pick.to(data.images.device)].cpu()
        mask = background_mask(real)
        curves = {"classes_covered": curve.classes_covered.astype(np.float64),
                  "reverse_kl": curve.kl_to_uniform, "mean_confidence": curve.mean_confidence,
                  "background_brightness": np.array([background_noise(x, mask).mean_brightness
                                                     for x in hist.samples]),
                  "frechet_distance": np.array([classifier_frechet_distance(x, real, classifier)
                                                for x in hist.samples])}
    if dataset_facts(data.name).has_held_out:
        curves.update(_overfitting_curves(hist, data, classifier))
    # a run's value is its mean over the last evaluations, not the final one (NaN ignored:
    # the reverse KL is undefined at an evaluation with no high-quality / confident sample)
    for key, values in curves.items():
        tail = values[-eval_last:]
        summary[key] = float(np.nanmean(tail)) if np.isfinite(tail).any() else nan
    return curves, summary


# ---------------------------------------------------------------------------------------------
# D's decision surface on 2-D data
# ---------------------------------------------------------------------------------------------


def surface_extent(mixture: Mixture) -> tuple[float, float, float, float]:
    """The square (x_min, x_max, y_min, y_max) around the centres, padded by a quarter of their span."""
    lo, hi = float(mixture.centers.min()), float(mixture.centers.max())
    pad = 0.25 * (hi - lo)
    return (lo - pad, hi + pad, lo - pad, hi + pad)


@torch.no_grad()
def surface_points(extent: tuple[float, float, float, float], res: int = SURFACE_RES) -> torch.Tensor:
    """The grid a decision surface is drawn on, as points: (res * res, 2), row-major over y then x.

    Args:
        extent: (x_min, x_max, y_min, y_max).
        res: grid points per axis.

    Returns:
        Point ``i * res + j`` is (linspace(x_min, x_max)[j], linspace(y_min, y_max)[i]), so values at
        the points reshape to a (res, res) image with row i at y_i.
    """
    res = int_at_least(res, "res", 2)
    xs = torch.linspace(extent[0], extent[1], res)
    ys = torch.linspace(extent[2], extent[3], res)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx.flatten(), gy.flatten()], 1)


def decision_surface(cfg: TrainConfig, d_state: dict[str, Tensor], extent: tuple[float, float, float, float],
                     res: int = SURFACE_RES) -> np.ndarray:
    """σ(D(x)) of a 2-D discriminator on a ``res`` × ``res`` grid over ``extent``.

    Args:
        cfg: the run's config (to build D's structure).
        d_state: D's parameters and buffers by name.
        extent: (x_min, x_max, y_min, y_max).
        res: grid points per axis.

    Returns:
        Shape (res, res): row i is y = linspace(y_min, y_max)[i], column j is x.
    """
    res = int_at_least(res, "res", 2)
    pts = surface_points(extent, res)
    _, d_net = build_models(cfg)
    # eval mode: a spectral-normed D reads its u, v without a power iteration (nor changes d_state)
    logits = functional_call(d_net.eval(), d_state, (pts,))
    return torch.sigmoid(logits).reshape(res, res).numpy()
