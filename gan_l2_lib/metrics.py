"""Measure what a GAN produced: mode coverage, sample quality, image statistics, stability.

Everything here returns data (frozen dataclasses, numpy arrays, tensors); nothing draws.

* 2-D mixtures: ``mode_stats`` with the published definitions (VEEGAN, Srivastava et al.
  2017; PacGAN, Lin et al. 2018), ``mode_curve`` over a run's evaluation steps and
  ``summarize_last`` over the last few of them (GANs on ``ring8`` hop between modes, so one
  snapshot is not trusted).
* Digit images: from the class probabilities of the digit classifier (``classifier.py``,
  trained once and cached) come classes covered, the KL of the class histogram to uniform,
  mean confidence and stacked-MNIST triples covered (all, and only those whose three channels
  are confidently read, ``CONFIDENT``); from its features a Fréchet distance in
  *its own* feature space (not the Inception FID). ``background_noise`` measures speckle
  where real digits are dark, which classifier confidence does not see.
* Training stability from a ``History``: ``stability_stats``; ``trend_spread`` separates a
  window's drift from the fluctuation around it.
* Overfitting: ``discriminator_gap`` / ``gap_curve`` (D on its training images vs held-out
  real images), ``data_copying`` (generated samples' nearest-neighbour distances to the
  training set vs held-out data's, after Meehan et al. 2020) and ``nearest_training_images``.
* Effects over seeds: ``paired_effect`` pairs two conditions seed by seed and puts a
  bootstrap interval on the mean difference (``bootstrap_mean_interval``) and an exact
  sign-flip p-value on it (``sign_flip_p_value``); ``sweep.cell_effect`` and
  ``sweep.effect_grid`` apply it to the cells of a sweep. Fewer than ``MIN_PAIRS_FOR_MARK``
  pairs are never marked. A declared family of comparisons gets Holm-adjusted p-values
  (``holm_adjust``, ``family_verdicts``).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .checks import positive_float, positive_int
from .classifier import TrainedClassifier, classifier_features, classify, stacked_probs
from .data import Mixture
from .train import History, probe_row

# ---------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------


def _as_tensor(x: Tensor | np.ndarray | Sequence, name: str) -> Tensor:
    """Any array-like as a float64 CPU tensor (metrics are cheap; float64 avoids rounding talk)."""
    if isinstance(x, Tensor):
        return x.detach().to("cpu", torch.float64)
    try:
        return torch.as_tensor(np.asarray(x, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a tensor or array of numbers, got {type(x).__name__}") from exc


def _check_points(x: Tensor | np.ndarray, name: str) -> Tensor:
    t = _as_tensor(x, name)
    if t.dim() != 2 or t.shape[1] != 2:
        raise ValueError(f"{name} must have shape (N, 2), got {tuple(t.shape)}")
    if t.shape[0] == 0:
        raise ValueError(f"{name} is empty: need at least one point of shape (N, 2) with N >= 1")
    return t


def kl_to_uniform(counts: Tensor | np.ndarray | Sequence[int]) -> float:
    """KL(p ‖ uniform) in nats for the histogram ``counts``, with 0·log 0 = 0.

    KL(p ‖ U_M) = Σ_i p_i log(M p_i), which is 0 for a uniform histogram and log M when all
    mass sits in one bin. Estimated from N samples it is biased upwards by about
    (M − 1) / (2N) even when the truth is uniform.

    Args:
        counts: non-negative counts, shape (M,), M >= 1.

    Returns:
        The KL in nats; NaN when all counts are 0 (there is no distribution to compare).
    """
    c = _as_tensor(counts, "counts")
    if c.dim() != 1 or c.shape[0] == 0:
        raise ValueError(f"counts must have shape (M,) with M >= 1, got {tuple(c.shape)}")
    if not torch.isfinite(c).all() or (c < 0).any():
        raise ValueError("counts must be finite and >= 0")
    total = float(c.sum())
    if total == 0:
        return float("nan")
    p = c / total
    nz = p > 0
    return float((p[nz] * torch.log(p[nz] * c.shape[0])).sum())


# ---------------------------------------------------------------------------------------------
# 2-D mixtures: modes covered, high-quality samples, reverse KL
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModeStats:
    """Mode coverage of 2-D samples against a mixture's centres.

    Attributes:
        modes_covered: number of centres that are the nearest centre of at least one
            high-quality sample (0 … M).
        high_quality_fraction: share of samples within ``threshold``·σ of their nearest centre.
        reverse_kl: KL(p_gen ‖ uniform over M) in nats, p_gen the share of *high-quality*
            samples per mode; 0 = all modes equally hit, log M = one mode only; NaN when no
            sample is high quality (no distribution over modes exists then).
        counts: high-quality samples per mode, length M.
        n_samples: number of samples N (including non-finite ones).
        threshold: the distance cut in units of σ (3 in VEEGAN and PacGAN).
        min_count: high-quality samples a mode needs to count as covered (1 by default).
    """

    modes_covered: int
    high_quality_fraction: float
    reverse_kl: float
    counts: tuple[int, ...]
    n_samples: int
    threshold: float
    min_count: int = 1

    @property
    def n_modes(self) -> int:
        return len(self.counts)


def mode_stats(samples: Tensor | np.ndarray, centers: Tensor | np.ndarray, std: float,
               threshold: float = 3.0, min_count: int = 1) -> ModeStats:
    """Modes covered, high-quality fraction and reverse KL of 2-D samples (VEEGAN / PacGAN).

    A sample is *high quality* when its distance to the nearest centre is at most
    ``threshold``·σ (a true sample of an isotropic 2-D Gaussian is, with probability
    1 − exp(−threshold²/2) ≈ 98.9 % for 3σ). A mode is *covered* when it is the nearest centre
    of at least one high-quality sample. Samples with NaN/inf coordinates (a diverging
    generator) count as not high quality instead of raising, so a sweep keeps going.

    Args:
        samples: generated points, shape (N, 2), N >= 1.
        centers: mode centres, shape (M, 2), M >= 1 (e.g. ``Mixture.centers``).
        std: the mixture's component standard deviation σ > 0.
        threshold: the high-quality cut in units of σ, > 0.
        min_count: high-quality samples a mode needs to count as covered. 1 is the definition
            above; a larger value (e.g. 1 % of N) ignores modes hit by a few stray samples.

    Returns:
        A ``ModeStats``.

    Raises:
        ValueError: on wrong shapes, empty ``samples`` or ``centers``, non-finite centres,
            ``std <= 0``, ``threshold <= 0`` or ``min_count < 1``.
    """
    x = _check_points(samples, "samples")
    c = _check_points(centers, "centers")
    if not torch.isfinite(c).all():
        raise ValueError("centers must be finite")
    std = positive_float(std, "std")
    threshold = positive_float(threshold, "threshold")
    min_count = positive_int(min_count, "min_count")

    dist = torch.cdist(x, c)  # (N, M); NaN rows for non-finite samples
    dist = torch.nan_to_num(dist, nan=math.inf)
    min_dist, nearest = dist.min(dim=1)
    high_quality = min_dist <= threshold * std
    counts = torch.bincount(nearest[high_quality], minlength=c.shape[0])
    return ModeStats(
        modes_covered=int((counts >= min_count).sum()),
        high_quality_fraction=float(high_quality.double().mean()),
        reverse_kl=kl_to_uniform(counts),
        counts=tuple(int(v) for v in counts),
        n_samples=int(x.shape[0]),
        threshold=threshold,
        min_count=min_count,
    )


@dataclass(frozen=True)
class ModeCurve:
    """Mode statistics at each evaluation step of a run (fixed-noise samples).

    Attributes:
        steps: evaluation steps, shape (T,), int64.
        modes_covered: shape (T,), int64.
        high_quality_fraction: shape (T,), float64.
        reverse_kl: shape (T,), float64 (NaN where no sample was high quality).
        n_modes: M.
        counts: high-quality samples per mode, shape (T, M), int64.
    """

    steps: np.ndarray
    modes_covered: np.ndarray
    high_quality_fraction: np.ndarray
    reverse_kl: np.ndarray
    n_modes: int
    counts: np.ndarray

    def __len__(self) -> int:
        return int(self.steps.shape[0])

    def to_dict(self) -> dict:
        """Plain JSON-able lists (NaN stays NaN; ``json.dumps`` writes it as ``NaN``)."""
        return {
            "steps": self.steps.tolist(),
            "modes_covered": self.modes_covered.tolist(),
            "high_quality_fraction": self.high_quality_fraction.tolist(),
            "reverse_kl": self.reverse_kl.tolist(),
            "n_modes": self.n_modes,
            "counts": self.counts.tolist(),
        }


def mode_curve(history: History, mixture: Mixture, threshold: float = 3.0, min_count: int = 1) -> ModeCurve:
    """``mode_stats`` of the fixed-noise samples at every evaluation step of a 2-D run.

    Args:
        history: a ``History`` whose ``samples`` are (n_eval_samples, 2) tensors.
        mixture: the mixture the run was trained on (its centres and σ).
        threshold: the high-quality cut in units of σ.
        min_count: high-quality samples a mode needs to count as covered.

    Returns:
        A ``ModeCurve`` with one entry per ``history.sample_steps``.

    Raises:
        ValueError: when the history holds no samples or they are not 2-D points.
    """
    if not isinstance(mixture, Mixture):
        raise ValueError(f"mixture must be a data.Mixture, got {type(mixture).__name__}")
    if not history.samples:
        raise ValueError("history has no evaluation samples (did the run reach eval_every steps?)")
    stats = [mode_stats(s, mixture.centers, mixture.std, threshold, min_count) for s in history.samples]
    return ModeCurve(
        steps=np.asarray(history.sample_steps, dtype=np.int64),
        modes_covered=np.asarray([s.modes_covered for s in stats], dtype=np.int64),
        high_quality_fraction=np.asarray([s.high_quality_fraction for s in stats], dtype=np.float64),
        reverse_kl=np.asarray([s.reverse_kl for s in stats], dtype=np.float64),
        n_modes=mixture.n_modes,
        counts=np.asarray([s.counts for s in stats], dtype=np.int64).reshape(len(stats), mixture.n_modes),
    )


def histogram_shift(counts: np.ndarray | Sequence[Sequence[int]]) -> np.ndarray:
    """How far a mode histogram moves between successive evaluations (total variation).

    With p_t the share of high-quality samples per mode at evaluation t, the shift is
    ½ Σ_m |p_t(m) − p_{t−1}(m)|: 0 when G puts its samples on the modes in the same proportions
    as before, 1 when it has moved every sample to other modes (a full mode hop). This is the
    oscillation the Dirac-GAN predicts, seen in G's distribution rather than in the losses.

    Args:
        counts: samples per mode at each evaluation, shape (T, M), T >= 1, non-negative.

    Returns:
        Shape (T,), float64: NaN at t = 0 (nothing to compare with) and wherever either
        histogram is empty.

    Raises:
        ValueError: for another shape or negative counts.
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] < 1 or c.shape[1] < 1:
        raise ValueError(f"counts must have shape (T, M) with T, M >= 1, got {c.shape}")
    if not np.isfinite(c).all() or (c < 0).any():
        raise ValueError("counts must be finite and >= 0")
    totals = c.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(totals > 0, c / totals, np.nan)
    shift = np.full(c.shape[0], np.nan)
    shift[1:] = 0.5 * np.abs(p[1:] - p[:-1]).sum(1)  # NaN rows stay NaN
    return shift


@dataclass(frozen=True)
class CurveSummary:
    """The last ``n_evals`` points of a ``ModeCurve`` (or ``ClassCurve``) summarized.

    Attributes:
        n_evals: how many evaluation steps were summarized (``min(k, len(curve))``).
        steps: those steps.
        covered_mean, covered_min, covered_max: modes (or classes) covered over them.
        quality_mean: mean high-quality fraction (or mean classifier confidence).
        reverse_kl_mean: mean KL to uniform over the finite values; NaN if none is finite.
    """

    n_evals: int
    steps: tuple[int, ...]
    covered_mean: float
    covered_min: int
    covered_max: int
    quality_mean: float
    reverse_kl_mean: float


def summarize_last(curve: ModeCurve | ClassCurve, k: int = 3) -> CurveSummary:
    """Summarize the last ``k`` evaluations of a curve instead of trusting the final one.

    Args:
        curve: a ``ModeCurve`` or ``ClassCurve``.
        k: how many trailing evaluation steps to use (all of them if the curve is shorter).

    Returns:
        A ``CurveSummary``.

    Raises:
        ValueError: if ``k < 1`` or the curve is empty.
    """
    k = positive_int(k, "k")
    if len(curve) == 0:
        raise ValueError("curve is empty: nothing to summarize")
    if isinstance(curve, ModeCurve):
        covered, quality, kl = curve.modes_covered, curve.high_quality_fraction, curve.reverse_kl
    else:
        covered, quality, kl = curve.classes_covered, curve.mean_confidence, curve.kl_to_uniform
    covered, quality, kl = covered[-k:], quality[-k:], kl[-k:]
    finite_kl = kl[np.isfinite(kl)]
    return CurveSummary(
        n_evals=int(covered.shape[0]),
        steps=tuple(int(s) for s in curve.steps[-k:]),
        covered_mean=float(covered.mean()),
        covered_min=int(covered.min()),
        covered_max=int(covered.max()),
        quality_mean=float(quality.mean()),
        reverse_kl_mean=float(finite_kl.mean()) if finite_kl.size else float("nan"),
    )


# ---------------------------------------------------------------------------------------------
# Digit images judged by the classifier: classes covered, stacked-MNIST triples
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassStats:
    """Class coverage and confidence of generated digits, judged by a classifier.

    Attributes:
        classes_covered: classes predicted (argmax) for at least one sample, of ``n_classes``.
        kl_to_uniform: KL(predicted-class histogram ‖ uniform) in nats (0 best, log n_classes
            worst); biased upwards by ≈ (n_classes − 1)/(2N) for N samples.
        mean_confidence: mean max-softmax probability (a sample-quality proxy; blind to
            background speckle, see ``background_noise``).
        counts: predicted samples per class.
        n_samples: N.
    """

    classes_covered: int
    kl_to_uniform: float
    mean_confidence: float
    counts: tuple[int, ...]
    n_samples: int

    @property
    def n_classes(self) -> int:
        return len(self.counts)


def class_stats_from_probs(probs: Tensor) -> ClassStats:
    """``ClassStats`` from class probabilities (the classifier-free part, testable exactly).

    Args:
        probs: shape (N, K), rows are probability vectors.

    Returns:
        A ``ClassStats`` over K classes.
    """
    p = _as_tensor(probs, "probs")
    if p.dim() != 2 or p.shape[0] == 0 or p.shape[1] == 0:
        raise ValueError(f"probs must have shape (N, K) with N, K >= 1, got {tuple(p.shape)}")
    conf, pred = p.max(dim=1)
    counts = torch.bincount(pred, minlength=p.shape[1])
    return ClassStats(
        classes_covered=int((counts > 0).sum()),
        kl_to_uniform=kl_to_uniform(counts),
        mean_confidence=float(conf.mean()),
        counts=tuple(int(c) for c in counts),
        n_samples=int(p.shape[0]),
    )


def class_stats(images: Tensor, classifier: TrainedClassifier) -> ClassStats:
    """Digit classes covered, KL of the class histogram to uniform, mean confidence.

    Args:
        images: generated digits, shape (N, 1, H, W) in [-1, 1].
        classifier: a ``TrainedClassifier`` of the same image size.

    Returns:
        A ``ClassStats`` over 10 classes.
    """
    return class_stats_from_probs(classify(images, classifier))


#: A stacked-MNIST channel is *read* when its top-class probability is at least this; a triple
#: counts as a confident mode only when all three channels are read (so a blurry generator
#: cannot "cover" triples with channels the classifier only guesses at).
CONFIDENT = 0.9


@dataclass(frozen=True)
class StackedStats:
    """Stacked-MNIST mode coverage: each channel classified, a mode is a digit triple.

    Attributes:
        modes_covered: distinct triples (100·d₁ + 10·d₂ + d₃) seen, of 1,000 (every sample
            counts, however unsure its channels are).
        kl_to_uniform: KL(triple histogram ‖ uniform over 1,000) in nats. With N samples it
            is at least log(1000/N) when N < 1000; published numbers use N ≈ 26,000.
        mean_confidence: mean over samples and channels of the max-softmax probability.
        n_samples: N.
        confident_fraction: share of the N samples whose three channels all have a top-class
            probability ≥ ``threshold``.
        confident_modes_covered: distinct triples among those confident samples only.
        confident_kl_to_uniform: KL(confident samples' triple histogram ‖ uniform over 1,000)
            in nats; NaN when no sample is confident.
        threshold: the confidence cut used.
    """

    modes_covered: int
    kl_to_uniform: float
    mean_confidence: float
    n_samples: int
    confident_fraction: float
    confident_modes_covered: int
    confident_kl_to_uniform: float
    threshold: float


def _confidence_threshold(threshold: float, probs: Tensor | np.ndarray | Sequence) -> float:
    """A cut in (0, 1], rounded to the precision of ``probs`` (so a float32 0.9 meets 0.9).

    Raises:
        ValueError: for a non-number, NaN, ±inf, a value ≤ 0 or > 1.
    """
    threshold = positive_float(threshold, "threshold")
    if threshold > 1:
        raise ValueError(f"threshold must be <= 1 (a top-class probability), got {threshold}")
    if isinstance(probs, Tensor) and probs.is_floating_point():
        return float(torch.tensor(threshold, dtype=probs.dtype))
    if isinstance(probs, np.ndarray) and np.issubdtype(probs.dtype, np.floating):
        return float(np.asarray(threshold, dtype=probs.dtype))
    return threshold


def stacked_stats_from_probs(probs: Tensor, threshold: float = CONFIDENT) -> StackedStats:
    """``StackedStats`` from per-channel class probabilities.

    Args:
        probs: shape (N, 3, 10): channel c of sample n classified.
        threshold: a channel is read confidently when its top-class probability is ≥ this
            (compared in the precision of ``probs``); in (0, 1], default ``CONFIDENT``.

    Returns:
        A ``StackedStats``.

    Raises:
        ValueError: for probs of another shape, or a threshold that is NaN, ≤ 0 or > 1.
    """
    p = _as_tensor(probs, "probs")
    if p.dim() != 3 or p.shape[0] == 0 or p.shape[1:] != (3, 10):
        raise ValueError(f"probs must have shape (N, 3, 10) with N >= 1, got {tuple(p.shape)}")
    cut = _confidence_threshold(threshold, probs)
    conf, digit = p.max(dim=2)  # (N, 3)
    triple = 100 * digit[:, 0] + 10 * digit[:, 1] + digit[:, 2]
    counts = torch.bincount(triple, minlength=1000)
    confident = (conf >= cut).all(dim=1)  # (N,)
    confident_counts = torch.bincount(triple[confident], minlength=1000)
    return StackedStats(
        modes_covered=int((counts > 0).sum()),
        kl_to_uniform=kl_to_uniform(counts),
        mean_confidence=float(conf.mean()),
        n_samples=int(p.shape[0]),
        confident_fraction=float(confident.double().mean()),
        confident_modes_covered=int((confident_counts > 0).sum()),
        confident_kl_to_uniform=kl_to_uniform(confident_counts),
        threshold=float(threshold),
    )


def stacked_stats(images: Tensor, classifier: TrainedClassifier, threshold: float = CONFIDENT) -> StackedStats:
    """Triples covered of 1,000 and KL to uniform for stacked-MNIST images, all and confident only.

    Args:
        images: shape (N, 3, H, W) in [-1, 1], one digit per channel.
        classifier: a single-channel ``TrainedClassifier`` (mnist5k) of size H×W.
        threshold: the top-class probability every channel needs for a confident sample, in (0, 1].

    Returns:
        A ``StackedStats``.
    """
    return stacked_stats_from_probs(stacked_probs(images, classifier), threshold)


@dataclass(frozen=True)
class ClassCurve:
    """``ClassStats`` at each evaluation step of an image run.

    Attributes:
        steps: shape (T,), int64.
        classes_covered: shape (T,), int64.
        kl_to_uniform: shape (T,), float64.
        mean_confidence: shape (T,), float64.
    """

    steps: np.ndarray
    classes_covered: np.ndarray
    kl_to_uniform: np.ndarray
    mean_confidence: np.ndarray

    def __len__(self) -> int:
        return int(self.steps.shape[0])


def class_curve(history: History, classifier: TrainedClassifier) -> ClassCurve:
    """``class_stats`` of the fixed-noise images at every evaluation step of an image run.

    Args:
        history: a ``History`` whose ``samples`` are (n_eval_samples, 1, H, W) images.
        classifier: a ``TrainedClassifier`` of that image size.

    Returns:
        A ``ClassCurve``.
    """
    if not history.samples:
        raise ValueError("history has no evaluation samples (did the run reach eval_every steps?)")
    stats = [class_stats(s, classifier) for s in history.samples]
    return ClassCurve(
        steps=np.asarray(history.sample_steps, dtype=np.int64),
        classes_covered=np.asarray([s.classes_covered for s in stats], dtype=np.int64),
        kl_to_uniform=np.asarray([s.kl_to_uniform for s in stats], dtype=np.float64),
        mean_confidence=np.asarray([s.mean_confidence for s in stats], dtype=np.float64),
    )


# ---------------------------------------------------------------------------------------------
# Fréchet distance in the classifier's feature space
# ---------------------------------------------------------------------------------------------


def frechet_distance_from_stats(mu1: Tensor, cov1: Tensor, mu2: Tensor, cov2: Tensor) -> float:
    """Fréchet (2-Wasserstein²) distance between N(μ₁, Σ₁) and N(μ₂, Σ₂).

    d² = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}); the trace term is computed
    from symmetric eigendecompositions in float64 (negative round-off eigenvalues clipped).

    Args:
        mu1, mu2: means, shape (D,).
        cov1, cov2: covariances, shape (D, D), symmetric positive semi-definite.

    Returns:
        The distance d² (≥ 0, up to round-off).
    """
    mu1, mu2 = _as_tensor(mu1, "mu1"), _as_tensor(mu2, "mu2")
    cov1, cov2 = _as_tensor(cov1, "cov1"), _as_tensor(cov2, "cov2")
    d = mu1.shape[0] if mu1.dim() == 1 else -1
    if d < 1 or mu2.shape != (d,) or cov1.shape != (d, d) or cov2.shape != (d, d):
        raise ValueError(f"need mu1, mu2 of shape (D,) and cov1, cov2 of shape (D, D); got "
                         f"{tuple(mu1.shape)}, {tuple(mu2.shape)}, {tuple(cov1.shape)}, {tuple(cov2.shape)}")
    for t, name in ((mu1, "mu1"), (mu2, "mu2"), (cov1, "cov1"), (cov2, "cov2")):
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} contains NaN or inf")
    cov1, cov2 = (cov1 + cov1.T) / 2, (cov2 + cov2.T) / 2
    evals1, evecs1 = torch.linalg.eigh(cov1)
    sqrt1 = (evecs1 * evals1.clamp(min=0).sqrt()) @ evecs1.T
    middle = sqrt1 @ cov2 @ sqrt1
    trace_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    dist = (mu1 - mu2).pow(2).sum() + torch.trace(cov1) + torch.trace(cov2) - 2 * trace_sqrt
    return float(dist)


def frechet_distance(features1: Tensor | np.ndarray, features2: Tensor | np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (means, covariances).

    Args:
        features1: shape (N1, D), N1 >= 2.
        features2: shape (N2, D), N2 >= 2.

    Returns:
        d² ≥ 0; ≈ 0 for identical sets. It is biased upwards for small N (the covariance
        estimates are noisy), so compare values computed with the same N.
    """
    f1, f2 = _as_tensor(features1, "features1"), _as_tensor(features2, "features2")
    if f1.dim() != 2 or f2.dim() != 2 or f1.shape[1] != f2.shape[1]:
        raise ValueError(f"features must have shapes (N1, D) and (N2, D), got {tuple(f1.shape)} and {tuple(f2.shape)}")
    if f1.shape[0] < 2 or f2.shape[0] < 2:
        raise ValueError(f"need at least 2 feature vectors per set, got {f1.shape[0]} and {f2.shape[0]}")
    return frechet_distance_from_stats(f1.mean(0), torch.cov(f1.T).reshape(f1.shape[1], -1),
                                       f2.mean(0), torch.cov(f2.T).reshape(f2.shape[1], -1))


def classifier_frechet_distance(images1: Tensor, images2: Tensor, classifier: TrainedClassifier) -> float:
    """Fréchet distance of two image sets in the digit classifier's penultimate-layer features.

    This is **not** the Inception FID: the features come from our small digit CNN, not from
    Inception-v3, so the numbers are not comparable to published FIDs, nor across different
    classifier configs. Use it to compare runs measured with the same classifier and the same
    sample sizes (e.g. generated vs. real held-out digits; real vs. real gives the floor).

    Args:
        images1: shape (N1, 1, H, W) in [-1, 1], N1 >= 2.
        images2: shape (N2, 1, H, W) in [-1, 1], N2 >= 2.
        classifier: a ``TrainedClassifier`` of size H×W.

    Returns:
        The distance d² ≥ 0.
    """
    return frechet_distance(classifier_features(images1, classifier), classifier_features(images2, classifier))


# ---------------------------------------------------------------------------------------------
# Background noise (speckle) in generated digits
# ---------------------------------------------------------------------------------------------


def _to_unit(images: Tensor, name: str) -> Tensor:
    if not isinstance(images, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (N, C, H, W), got {type(images).__name__}")
    if images.dim() != 4 or images.shape[0] == 0:
        raise ValueError(f"{name} must have shape (N, C, H, W) with N >= 1, got {tuple(images.shape)}")
    if not torch.isfinite(images).all():
        raise ValueError(f"{name} contain NaN or inf")
    return (images.detach().to("cpu", torch.float64) + 1) / 2  # [-1, 1] → [0, 1]


def background_mask(real_images: Tensor, dark_level: float = 0.1, max_bright_share: float = 0.01) -> Tensor:
    """Pixels where real digits are background: at most ``max_bright_share`` of them are lit.

    Args:
        real_images: real images in [-1, 1], shape (N, C, H, W).
        dark_level: a pixel counts as lit above this brightness in [0, 1] units.
        max_bright_share: a position is background when at most this share of the real
            images is lit there (0.01 = 99 % of real images are dark there).

    Returns:
        A bool mask of shape (C, H, W).
    """
    x = _to_unit(real_images, "real_images")
    if not 0 <= dark_level < 1:
        raise ValueError(f"dark_level must be in [0, 1), got {dark_level}")
    if not 0 <= max_bright_share < 1:
        raise ValueError(f"max_bright_share must be in [0, 1), got {max_bright_share}")
    return (x > dark_level).double().mean(0) <= max_bright_share


@dataclass(frozen=True)
class BackgroundNoise:
    """Brightness of generated images where real digits are background.

    Attributes:
        mean_brightness: mean brightness in [0, 1] units over the mask's pixels (0 = clean).
        speckle_fraction: share of those pixel values brighter than ``dark_level``.
        n_mask_pixels: number of background positions in the mask.
        dark_level: the brightness cut used for ``speckle_fraction``.
    """

    mean_brightness: float
    speckle_fraction: float
    n_mask_pixels: int
    dark_level: float


def background_noise(images: Tensor, mask: Tensor, dark_level: float = 0.1) -> BackgroundNoise:
    """Speckle in generated digits: brightness at positions where real digits are dark.

    A classifier's confidence barely moves when a generator sprinkles faint noise over the
    background; this number does.

    Args:
        images: generated (or real) images in [-1, 1], shape (N, C, H, W).
        mask: bool mask of shape (C, H, W) from ``background_mask``, with at least one True.
        dark_level: brightness in [0, 1] above which a masked pixel counts as speckle.

    Returns:
        A ``BackgroundNoise``.
    """
    x = _to_unit(images, "images")
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool or tuple(mask.shape) != tuple(x.shape[1:]):
        raise ValueError(f"mask must be a bool tensor of shape {tuple(x.shape[1:])}, got "
                         f"{getattr(mask, 'dtype', type(mask).__name__)} {tuple(getattr(mask, 'shape', ()))}")
    if not mask.any():
        raise ValueError("mask selects no pixel; loosen background_mask's thresholds")
    values = x[:, mask.cpu()]  # (N, n_mask)
    return BackgroundNoise(
        mean_brightness=float(values.mean()),
        speckle_fraction=float((values > dark_level).double().mean()),
        n_mask_pixels=int(mask.sum()),
        dark_level=float(dark_level),
    )


# ---------------------------------------------------------------------------------------------
# Training stability from a History
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StabilityStats:
    """How steady a run was, from its logged scalars.

    Attributes:
        n_logged: logged rows used.
        window: trailing window length in logged rows (``min(window, n_logged)``).
        d_loss_tail_std, g_loss_tail_std: std of the adversarial D / G loss over the window
            (oscillation at the end of training).
        d_loss_tail_mean, g_loss_tail_mean: their means over the window.
        grad_spikes_d, grad_spikes_g: logged gradient norms larger than ``spike_factor`` ×
            the median of the preceding ``window`` logged norms.
        gap_tail_mean: mean of D(x) − D(G(z)) over the window (0: D cannot tell; 1: D wins).
        gap_max: largest D(x) − D(G(z)) over the whole run.
        diverged: whether a NaN/inf stopped the run.
        diverged_step: the step it happened at, else None.
    """

    n_logged: int
    window: int
    d_loss_tail_std: float
    g_loss_tail_std: float
    d_loss_tail_mean: float
    g_loss_tail_mean: float
    grad_spikes_d: int
    grad_spikes_g: int
    gap_tail_mean: float
    gap_max: float
    diverged: bool
    diverged_step: int | None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def count_spikes(values: np.ndarray | Sequence[float], factor: float = 5.0, window: int = 20,
                 min_history: int = 5) -> int:
    """Count values above ``factor`` × the median of the preceding ``window`` values.

    Args:
        values: a logged series, shape (T,).
        factor: the spike threshold relative to the running median, > 0.
        window: how many preceding values the running median uses.
        min_history: values with fewer predecessors than this are not judged.

    Returns:
        The number of spikes.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {v.shape}")
    factor = positive_float(factor, "factor")
    window = positive_int(window, "window")
    spikes = 0
    for t in range(max(min_history, 1), v.shape[0]):
        if v[t] > factor * np.median(v[max(0, t - window):t]):
            spikes += 1
    return spikes


def stability_stats(history: History, window: int = 20, spike_factor: float = 5.0) -> StabilityStats:
    """Loss oscillation, gradient-norm spikes, the D(x) − D(G(z)) gap and divergence of a run.

    Args:
        history: a run's ``History``.
        window: trailing window in logged rows (with ``log_every=50``, 20 rows = 1,000 steps);
            also the running-median window of the spike count.
        spike_factor: a gradient norm is a spike above this many times the running median.

    Returns:
        A ``StabilityStats``. A run that diverged before logging anything gets NaN
        statistics and zero spikes (it does not raise, so a sweep keeps going).

    Raises:
        ValueError: for ``window < 1``, ``spike_factor <= 0``, or a history with no logged
            rows that did not diverge.
    """
    window = positive_int(window, "window")
    spike_factor = positive_float(spike_factor, "spike_factor")
    n = len(history.steps)
    if n == 0 and not history.diverged:
        raise ValueError("history has no logged rows; nothing to measure")
    nan = float("nan")
    if n == 0:
        return StabilityStats(0, 0, nan, nan, nan, nan, 0, 0, nan, nan, True, history.diverged_step)
    w = min(window, n)
    d_loss, g_loss = history.array("d_loss"), history.array("g_loss")
    gap = history.array("d_real") - history.array("d_fake")
    return StabilityStats(
        n_logged=n,
        window=w,
        d_loss_tail_std=float(d_loss[-w:].std()),
        g_loss_tail_std=float(g_loss[-w:].std()),
        d_loss_tail_mean=float(d_loss[-w:].mean()),
        g_loss_tail_mean=float(g_loss[-w:].mean()),
        grad_spikes_d=count_spikes(history.array("grad_norm_d"), spike_factor, window),
        grad_spikes_g=count_spikes(history.array("grad_norm_g"), spike_factor, window),
        gap_tail_mean=float(gap[-w:].mean()),
        gap_max=float(gap.max()),
        diverged=bool(history.diverged),
        diverged_step=history.diverged_step,
    )


@dataclass(frozen=True)
class TrendSpread:
    """A window of a logged series split into a straight-line drift and the spread around it.

    Attributes:
        raw_std: std of the values (population std, ddof 0): drift and wiggle together.
        detrended_std: std of the residuals after a least-squares line through the window
            (ddof 0, so never above ``raw_std``): the wiggle alone.
        slope: the line's slope, in the series' unit per unit of ``steps``.
        drift: ``slope`` × the window's length in steps (last step − first step): how far the
            line moves across the window.
    """

    raw_std: float
    detrended_std: float
    slope: float
    drift: float


def trend_spread(values: np.ndarray | Sequence[float], steps: np.ndarray | Sequence[float]) -> TrendSpread:
    """Separate a series' drift over a window from its fluctuation around that drift.

    The std of single-batch losses over a window counts a steady trend as if it were
    oscillation; the residuals around a fitted line do not.

    Args:
        values: the series over the window, shape (T,), T >= 3, finite.
        steps: the step of each value, shape (T,), finite and strictly increasing.

    Returns:
        A ``TrendSpread``.

    Raises:
        ValueError: for shapes that are not (T,) with T >= 3 or differ, non-finite values,
            or steps that do not strictly increase.
    """
    v = np.asarray(values, dtype=np.float64)
    x = np.asarray(steps, dtype=np.float64)
    if v.ndim != 1 or x.ndim != 1 or v.shape != x.shape:
        raise ValueError(f"values and steps must be 1-D of the same length, got shapes {v.shape} and {x.shape}")
    if v.shape[0] < 3:
        raise ValueError(f"need at least 3 values to separate a line from the spread around it, got {v.shape[0]}")
    if not (np.all(np.isfinite(v)) and np.all(np.isfinite(x))):
        raise ValueError("values and steps must be finite (a diverged window has no spread)")
    if np.any(np.diff(x) <= 0):
        raise ValueError("steps must be strictly increasing")
    slope, intercept = np.polyfit(x, v, 1)
    residuals = v - (slope * x + intercept)
    return TrendSpread(raw_std=float(v.std()), detrended_std=float(residuals.std()), slope=float(slope),
                       drift=float(slope * (x[-1] - x[0])))


# ---------------------------------------------------------------------------------------------
# Overfitting: D on held-out real images, G's distance to its training images
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiscriminatorGap:
    """How much more D believes its own training images than real images it never saw.

    Each field is a float (``discriminator_gap``) or an array over evaluations (``gap_curve``).
    The gap is reported both ways: in **probabilities** (the headline: bounded in [−1, 1],
    comparable between runs whose D is more or less confident, and the scale of the logged
    D(x) − D(G(z))) and in **logits** (unbounded; it keeps growing after the probabilities
    saturate near 1, so it shows late memorization that the probability gap flattens).

    Attributes:
        gap_prob: E[D(x_train)] − E[D(x_held-out)], D(x) = σ(logit); 0: no overfitting.
        gap_logit: the same difference of mean logits.
        train_accuracy: fraction of the training images D calls real (D(x) > 0.5).
        held_out_accuracy: fraction of the held-out images D calls real; falling while
            ``train_accuracy`` stays high is D overfitting (Karras et al. 2020).
    """

    gap_prob: float | np.ndarray
    gap_logit: float | np.ndarray
    train_accuracy: float | np.ndarray
    held_out_accuracy: float | np.ndarray


def _check_logits(x: Tensor | np.ndarray, name: str) -> Tensor:
    t = _as_tensor(x, name)
    if t.dim() != 1 or t.shape[0] == 0 or not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite logits of shape (N,) with N >= 1, got shape {tuple(t.shape)}")
    return t


def discriminator_gap(train_logits: Tensor | np.ndarray, held_out_logits: Tensor | np.ndarray) -> DiscriminatorGap:
    """D's overfitting from its logits on training images and on held-out real images.

    Args:
        train_logits: D's logits on images it trained on, shape (N,).
        held_out_logits: D's logits on real images it never saw, shape (M,).

    Returns:
        A ``DiscriminatorGap`` of floats (the same numbers ``gap_curve`` reads from probes).

    Raises:
        ValueError: for empty, non-finite or non-1-D logits.
    """
    train = probe_row(_check_logits(train_logits, "train_logits"))
    held = probe_row(_check_logits(held_out_logits, "held_out_logits"))
    return DiscriminatorGap(gap_prob=float(train["mean_prob"] - held["mean_prob"]),
                            gap_logit=float(train["mean_logit"] - held["mean_logit"]),
                            train_accuracy=float(train["real_accuracy"]),
                            held_out_accuracy=float(held["real_accuracy"]))


def gap_curve(history: History, train: str = "train", held_out: str = "held_out") -> DiscriminatorGap:
    """``discriminator_gap`` at every evaluation of a run, from its probes (``History.probes``).

    Args:
        history: a run trained with ``probe_images`` holding both names.
        train, held_out: the probe names of the training and the held-out images.

    Returns:
        A ``DiscriminatorGap`` of arrays aligned with ``history.sample_steps``.

    Raises:
        ValueError: when a probe is missing (the message lists the recorded ones).
    """
    def a(name: str, key: str) -> np.ndarray:
        return history.probe_array(name, key)

    return DiscriminatorGap(gap_prob=a(train, "mean_prob") - a(held_out, "mean_prob"),
                            gap_logit=a(train, "mean_logit") - a(held_out, "mean_logit"),
                            train_accuracy=a(train, "real_accuracy"),
                            held_out_accuracy=a(held_out, "real_accuracy"))


def _flat_batch(x: Tensor | np.ndarray, name: str) -> Tensor:
    t = _as_tensor(x, name)
    if t.dim() < 2 or t.shape[0] == 0:
        raise ValueError(f"{name} must be a batch (N, ...) with N >= 1, got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} has NaN or inf values")
    return t.reshape(t.shape[0], -1)


def nearest_neighbours(queries: Tensor | np.ndarray, reference: Tensor | np.ndarray, k: int = 1,
                       chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest reference items of every query, by Euclidean distance (float64).

    Candidates come from ‖q‖² − 2 q·r + ‖r‖² (one matrix product per chunk of queries); the
    returned distances are then recomputed directly as ‖q − r‖, so an exact copy has distance
    exactly 0 rather than the rounding noise of the expansion.

    Args:
        queries: shape (M, ...), e.g. images (M, C, H, W), points (M, 2) or features (M, F).
        reference: shape (N, ...) with the same trailing shape.
        k: neighbours per query, 1 <= k <= N.
        chunk: queries per matrix product (memory: chunk × N float64).

    Returns:
        ``(distances, indices)``, each (M, k), nearest first; indices into ``reference``.

    Raises:
        ValueError: for empty or non-finite inputs, mismatched trailing shapes, or a bad ``k``.
    """
    q, r = _flat_batch(queries, "queries"), _flat_batch(reference, "reference")
    if _as_tensor(queries, "queries").shape[1:] != _as_tensor(reference, "reference").shape[1:]:
        raise ValueError(f"queries and reference must share their trailing shape, got "
                         f"{tuple(_as_tensor(queries, 'queries').shape)} and {tuple(_as_tensor(reference, 'reference').shape)}")
    k, chunk = positive_int(k, "k"), positive_int(chunk, "chunk")
    if k > r.shape[0]:
        raise ValueError(f"k must be at most the reference size {r.shape[0]}, got {k}")
    r_sq = r.pow(2).sum(1)
    idx = torch.cat([(r_sq - 2 * q[i:i + chunk] @ r.T).topk(k, dim=1, largest=False).indices
                     for i in range(0, q.shape[0], chunk)])
    dist = (q[:, None, :] - r[idx]).norm(dim=2) if k > 1 else (q - r[idx[:, 0]]).norm(dim=1, keepdim=True)
    order = dist.argsort(dim=1, stable=True)  # the expansion's order can differ within rounding
    return dist.gather(1, order).numpy(), idx.gather(1, order).numpy()


@dataclass(frozen=True)
class DataCopying:
    """Nearest-neighbour distances of a data-copying test (after Meehan et al. 2020).

    Attributes:
        generated_to_train: each generated sample's distance to its nearest training item, (M,).
        generated_to_held_out: its distance to its nearest held-out item, (M,) (depends on
            the held-out set's size, so compare it only between runs, not with the first).
        held_out_to_train: each held-out item's distance to its nearest training item, (N,):
            what "new data from the same distribution" looks like to the training set.
        z_u: the Mann–Whitney statistic of ``generated_to_train`` against
            ``held_out_to_train``, standardized: (U − MN/2) / √(MN(M+N+1)/12), U = the pairs
            (generated, held-out) where the generated sample is the farther from the
            training set (ties ½). ≈ N(0, 1) for a generator that draws fresh samples from
            the data distribution; ≪ 0 (Meehan et al. use −3) when generated samples sit
            closer to the training items than new data does: copying. > 0: farther (e.g.
            blurry or off-distribution samples). Meehan et al. compute it per cell of a
            partition and average; this is the one-cell (global) version.
        median_ratio: median(generated_to_train) / median(held_out_to_train); ≈ 1 for fresh
            samples, 0 for exact copies.
        cell_z: with cells (e.g. digit classes): Z_U within each cell c = 0 … C−1, (C,); NaN
            for a cell with fewer than ``min_cell`` generated or held-out items. Empty without cells.
        z_u_cells: Σ_c π_c Z_U(c) over the counted cells, π_c the held-out share of cell c
            (renormalized over them): Meehan et al.'s C_T. Nearest-neighbour distances differ
            between cells (two ones are far closer in pixels than two zeros), so the global
            ``z_u`` also moves when G merely draws some cells more often than the data does; this
            one compares like with like. NaN without cells or when no cell counts.
    """

    generated_to_train: np.ndarray
    generated_to_held_out: np.ndarray
    held_out_to_train: np.ndarray
    z_u: float
    median_ratio: float
    cell_z: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    z_u_cells: float = float("nan")


def mann_whitney_z(x: np.ndarray | Sequence[float], y: np.ndarray | Sequence[float]) -> float:
    """(U − mn/2) / √(mn(m+n+1)/12), U = #pairs with x_i > y_j plus ½ per tie; shapes (m,), (n,).

    No tie correction of the variance (as Meehan et al.'s Z_U).
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or y.ndim != 1 or not len(x) or not len(y):
        raise ValueError(f"x and y must be non-empty 1-D arrays, got shapes {x.shape} and {y.shape}")
    from scipy.stats import rankdata

    m, n = len(x), len(y)
    u = float(rankdata(np.concatenate([x, y]))[:m].sum()) - m * (m + 1) / 2
    return (u - m * n / 2) / math.sqrt(m * n * (m + n + 1) / 12)


def data_copying(generated: Tensor | np.ndarray, train: Tensor | np.ndarray, held_out: Tensor | np.ndarray,
                 generated_cells: Tensor | np.ndarray | None = None, held_out_cells: Tensor | np.ndarray | None = None,
                 min_cell: int = 10, held_out_to_train: np.ndarray | None = None) -> DataCopying:
    """Does G copy its training set? Generated samples' nearest-neighbour distances vs new data's.

    In pixel space when given images ((N, C, H, W), Euclidean on the [-1, 1] scale); pass
    ``classifier.classifier_features`` of each set for the classifier's feature space.

    Args:
        generated: G's samples, (M, ...).
        train: the images G and D trained on, (N_train, ...).
        held_out: real images neither saw, (N, ...), same trailing shape.
        generated_cells, held_out_cells: optional cell of each generated / held-out item,
            integer arrays (M,) and (N,) (e.g. the digit the classifier reads); both or neither.
        min_cell: a cell counts in ``z_u_cells`` with at least this many generated and
            held-out items (a cell G leaves empty says nothing about copying).
        held_out_to_train: ``DataCopying.held_out_to_train`` of an earlier call with the same
            ``train`` and ``held_out`` (the same at every evaluation of a run), to skip
            recomputing it; shape (N,).

    Returns:
        A ``DataCopying`` (distances, the Z_U and median-ratio summaries, and per cell).

    Raises:
        ValueError: for empty or non-finite sets, mismatched shapes, or cells given for only
            one set, of the wrong length, or negative.
    """
    shapes = {}
    for name, x in (("generated", generated), ("train", train), ("held_out", held_out)):
        _flat_batch(x, name)  # names the bad argument
        shapes[name] = tuple(_as_tensor(x, name).shape[1:])
    if len(set(shapes.values())) > 1:
        raise ValueError(f"generated, train and held_out must share their item shape, got {shapes}")
    gen_train = nearest_neighbours(generated, train)[0][:, 0]
    gen_held = nearest_neighbours(generated, held_out)[0][:, 0]
    if held_out_to_train is None:
        held_train = nearest_neighbours(held_out, train)[0][:, 0]
    else:
        held_train, n_held = np.asarray(held_out_to_train, dtype=np.float64), _as_tensor(held_out, "held_out").shape[0]
        if held_train.shape != (n_held,) or (held_train < 0).any():
            raise ValueError(f"held_out_to_train must be {n_held} distances >= 0, got shape {held_train.shape}")
    med = float(np.median(held_train))
    cell_z, z_cells = np.zeros(0), float("nan")
    if (generated_cells is None) != (held_out_cells is None):
        raise ValueError("give generated_cells and held_out_cells together, or neither")
    if generated_cells is not None:
        g_cells, h_cells = _check_cells(generated_cells, len(gen_train)), _check_cells(held_out_cells, len(held_train))
        min_cell = positive_int(min_cell, "min_cell")
        n_cells = int(max(g_cells.max(), h_cells.max())) + 1
        cell_z = np.full(n_cells, np.nan)
        for c in range(n_cells):
            g, h = gen_train[g_cells == c], held_train[h_cells == c]
            if len(g) >= min_cell and len(h) >= min_cell:
                cell_z[c] = mann_whitney_z(g, h)
        counted = np.isfinite(cell_z)
        if counted.any():
            share = np.bincount(h_cells, minlength=n_cells)[counted].astype(np.float64)
            z_cells = float((share / share.sum()) @ cell_z[counted])
    return DataCopying(gen_train, gen_held, held_train, z_u=mann_whitney_z(gen_train, held_train),
                       median_ratio=float(np.median(gen_train)) / med if med > 0 else float("nan"),
                       cell_z=cell_z, z_u_cells=z_cells)


def _check_cells(cells: Tensor | np.ndarray, n: int) -> np.ndarray:
    c = np.asarray(cells.cpu() if isinstance(cells, Tensor) else cells)
    if c.shape != (n,) or not np.issubdtype(c.dtype, np.integer) or (c < 0).any():
        raise ValueError(f"cells must be integers >= 0 of shape ({n},), got {c.dtype} of shape {c.shape}")
    return c.astype(np.int64)


def nearest_training_images(samples: Tensor, train: Tensor, k: int = 3) -> tuple[Tensor, np.ndarray, np.ndarray]:
    """Each sample's ``k`` nearest training images in pixel space, for a figure beside it.

    Args:
        samples: generated images, (M, C, H, W).
        train: the training images, (N, C, H, W).
        k: neighbours per sample.

    Returns:
        ``(neighbours, distances, indices)``: images (M, k, C, H, W) nearest first, their
        distances (M, k) and their indices into ``train`` (M, k).
    """
    if not isinstance(train, Tensor) or train.dim() != 4:
        raise ValueError(f"train must be images (N, C, H, W), got {getattr(train, 'shape', type(train).__name__)}")
    dist, idx = nearest_neighbours(samples, train, k)
    return train[torch.from_numpy(idx)].cpu(), dist, idx


# ---------------------------------------------------------------------------------------------
# Paired effects over seeds: bootstrap intervals, sign-flip p-values, families of comparisons
# ---------------------------------------------------------------------------------------------

#: What a paired effect can say: its interval lies on the metric's better / worse side of 0,
#: or contains 0 ("neutral"). A metric with no better direction gets "higher" / "lower".
VERDICTS = ("better", "worse", "neutral", "higher", "lower")
#: The fewest pairs whose effect a table may mark. With n pairs the smallest two-sided p of the
#: exact sign-flip test is 2 / 2**n: 0.0625 for 5 pairs, 0.031 for 6, so below 6 no pattern of
#: seeds, however consistent, is evidence at the 5 % level.
MIN_PAIRS_FOR_MARK = 6
#: What a table shows instead of a verdict for an effect of fewer than ``MIN_PAIRS_FOR_MARK`` pairs.
TOO_FEW_SEEDS = "too few seeds"
#: Up to this many pairs the sign-flip test enumerates all 2**n sign patterns (exact p);
#: above it, it draws random patterns.
MAX_EXACT_SIGN_FLIP_PAIRS = 16
#: Bootstrap interval methods, in fallback order.
BOOTSTRAP_METHODS = ("BCa", "percentile")


@dataclass(frozen=True)
class MeanInterval:
    """A sample mean with a bootstrap confidence interval.

    Attributes:
        mean: the sample mean.
        low, high: the interval's ends (equal to ``mean`` when every value is the same, up to
            rounding: relative spread ≤ 1e-12).
        n: the sample size.
        confidence: the interval's confidence level (0.95: a 95 % interval).
        method: ``"BCa"``, ``"percentile"`` (where BCa fails: too few or too tied values)
            or ``"constant"`` (every value equal: a zero-width interval, no resampling).
    """

    mean: float
    low: float
    high: float
    n: int
    confidence: float
    method: str


def _bootstrap_rng(rng: int | np.random.Generator) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, bool) or not isinstance(rng, (int, np.integer)) or rng < 0:
        raise ValueError(f"rng must be an integer seed >= 0 or a numpy Generator, got {rng!r}")
    return np.random.default_rng(int(rng))


def bootstrap_mean_interval(values: np.ndarray | Sequence[float], confidence: float = 0.95,
                            n_resamples: int = 9999, rng: int | np.random.Generator = 0,
                            method: str = "BCa") -> MeanInterval:
    """The mean of a sample with a bootstrap confidence interval (``scipy.stats.bootstrap``).

    For paired data pass the per-pair differences: resampling them resamples whole pairs.
    BCa is tried first; where it fails or warns (few or heavily tied values) the percentile
    interval is used, and a sample of equal values gets a zero-width interval without warning.
    With very few values (3 seeds, say) BCa can be narrower than the percentile interval and
    exclude 0 although one value lies on the other side; ``method="percentile"`` is the more
    cautious choice there.

    Args:
        values: the sample, shape (n,), n >= 2, all finite.
        confidence: the confidence level, in (0, 1).
        n_resamples: bootstrap resamples, >= 1.
        rng: an integer seed (a fresh generator each call: the same seed, the same interval)
            or a ``np.random.Generator`` (advanced by the call).
        method: ``"BCa"`` (falling back to percentile) or ``"percentile"``.

    Returns:
        A ``MeanInterval``.

    Raises:
        ValueError: for a sample that is not 1-D, has fewer than 2 values or a non-finite
            one, a confidence outside (0, 1), ``n_resamples`` < 1, a bad ``rng`` or method.
    """
    from scipy import stats  # scipy is slow to import; only the statistics need it

    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {x.shape}")
    if x.size < 2:
        raise ValueError(f"a bootstrap interval needs at least 2 values, got {x.size}")
    if not np.isfinite(x).all():
        raise ValueError("values must be finite (drop NaN/inf pairs first)")
    confidence = float(confidence)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    n_resamples = positive_int(n_resamples, "n_resamples")
    if method not in BOOTSTRAP_METHODS:
        raise ValueError(f"method must be one of {BOOTSTRAP_METHODS}, got {method!r}")
    gen = _bootstrap_rng(rng)
    mean = float(x.mean())
    if np.ptp(x) <= 1e-12 * np.abs(x).max():  # equal up to rounding: every resample has this mean
        return MeanInterval(mean, mean, mean, int(x.size), confidence, "constant")
    for tried in BOOTSTRAP_METHODS[BOOTSTRAP_METHODS.index(method):]:
        with warnings.catch_warnings():
            # a BCa warning (degenerate jackknife, 0/0 acceleration) means: fall back
            warnings.simplefilter("error", RuntimeWarning)
            try:
                ci = stats.bootstrap((x,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                                     method=tried, rng=gen).confidence_interval
            except (RuntimeWarning, ValueError, FloatingPointError, ZeroDivisionError):
                continue
        low, high = float(ci.low), float(ci.high)
        if np.isfinite(low) and np.isfinite(high):
            return MeanInterval(mean, low, high, int(x.size), confidence, tried)
    raise ValueError(f"no bootstrap interval could be computed for {x.tolist()}")  # pragma: no cover


def _finite_1d(values: np.ndarray | Sequence[float], name: str) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} must be finite (drop NaN/inf pairs first), got {x.tolist()}")
    return x


def sign_flip_p_value(deltas: np.ndarray | Sequence[float], n_resamples: int = 9999,
                      rng: int | np.random.Generator = 0) -> float:
    """The two-sided p-value of a paired sign-flip (permutation) test that the mean difference is 0.

    Under "the condition does nothing" each per-seed difference is as likely to have come out
    with the opposite sign, so the null distribution of the mean is that of the 2**n sign
    patterns applied to the differences. The p-value is the share of patterns whose mean is at
    least as far from 0 as the observed one (|mean| ≥ |observed|, ties within 1e-12 of the
    differences' scale counted as equal; the observed pattern is one of them, so p ≥ 2 / 2**n
    unless every difference is 0, which gives p = 1). Up to ``MAX_EXACT_SIGN_FLIP_PAIRS``
    pairs all patterns are enumerated (exact); above, ``scipy.stats.permutation_test`` draws
    ``n_resamples`` random ones.

    Args:
        deltas: per-pair differences (condition − baseline), shape (n,), n >= 1, all finite.
        n_resamples: random sign patterns when n > ``MAX_EXACT_SIGN_FLIP_PAIRS``, >= 1.
        rng: seed or ``np.random.Generator`` for those random patterns (unused when exact).

    Returns:
        The p-value, in (0, 1].

    Raises:
        ValueError: for deltas that are empty, not 1-D or not finite, ``n_resamples`` < 1 or a bad rng.
    """
    d = _finite_1d(deltas, "deltas")
    n_resamples = positive_int(n_resamples, "n_resamples")
    gen = _bootstrap_rng(rng)
    n = d.size
    if n <= MAX_EXACT_SIGN_FLIP_PAIRS:
        # row k flips the differences whose bit is set in k; row 0 is the observed pattern
        flips = (np.arange(2 ** n)[:, None] >> np.arange(n)) & 1
        sums = (1.0 - 2.0 * flips) @ d  # the sum orders patterns as the mean does
        tol = 1e-12 * float(np.abs(d).sum())
        return float(np.mean(np.abs(sums) >= abs(sums[0]) - tol))
    from scipy import stats  # scipy is slow to import; only the statistics need it

    res = stats.permutation_test((d,), lambda x, axis: np.mean(x, axis=axis), permutation_type="samples",
                                 vectorized=True, n_resamples=n_resamples, alternative="two-sided", rng=gen)
    return float(res.pvalue)


def holm_adjust(p_values: np.ndarray | Sequence[float]) -> np.ndarray:
    """Holm–Bonferroni step-down adjusted p-values of a family of comparisons, in input order.

    Sort the m p-values ascending, multiply the k-th smallest (k = 1..m) by m − k + 1, cap at 1
    and carry the running maximum upwards (so the adjusted values keep the raw ones' order).
    Rejecting every comparison whose adjusted p is ≤ α keeps the chance of any false rejection
    in the family ≤ α, whatever the dependence between comparisons. (For the
    Benjamini–Hochberg false discovery rate use ``scipy.stats.false_discovery_control``.)

    Args:
        p_values: the family's p-values, shape (m,), m >= 1, each in [0, 1].

    Returns:
        Adjusted p-values, shape (m,), each ≥ its raw value and ≤ 1.

    Raises:
        ValueError: for an empty, non-1-D or non-finite input, or a p-value outside [0, 1].
    """
    p = _finite_1d(p_values, "p_values")
    if ((p < 0) | (p > 1)).any():
        raise ValueError(f"p_values must lie in [0, 1], got {p.tolist()}")
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return adjusted


def effect_verdict(low: float, high: float, higher_is_better: bool | None) -> str:
    """What an interval of differences (condition − baseline) says, in the metric's direction.

    Args:
        low, high: the interval's ends.
        higher_is_better: the metric's direction (``evaluate.METRICS[key].higher_is_better``);
            None where neither direction is better.

    Returns:
        ``"neutral"`` if the interval contains 0; else ``"better"`` / ``"worse"``, or
        ``"higher"`` / ``"lower"`` for a metric with no better direction.
    """
    if not (low > 0 or high < 0):
        return "neutral"
    up = low > 0
    if higher_is_better is None:
        return "higher" if up else "lower"
    return "better" if up == bool(higher_is_better) else "worse"


@dataclass(frozen=True)
class PairedEffect:
    """The effect of a condition against a baseline, paired by seed.

    Attributes:
        mean: the mean per-seed difference (condition − baseline).
        low, high: its bootstrap confidence interval.
        confidence: the interval's level (0.95).
        method: how the interval was computed (see ``MeanInterval``).
        verdict: one of ``VERDICTS`` (``effect_verdict`` of the interval, whatever the number of
            pairs; ``marked_verdict`` applies ``MIN_PAIRS_FOR_MARK``).
        p_value: two-sided p of the sign-flip test of mean 0 (``sign_flip_p_value``; exact up
            to ``MAX_EXACT_SIGN_FLIP_PAIRS`` pairs). Compare it across a family with ``holm_adjust``.
        higher_is_better: the metric's direction the verdict was read in (None: no direction).
        seeds: the paired seeds, ascending.
        deltas: the per-seed differences, in ``seeds`` order.
        dropped_seeds: seeds left out: present in only one condition, or NaN/inf in either.
    """

    mean: float
    low: float
    high: float
    confidence: float
    method: str
    verdict: str
    p_value: float
    higher_is_better: bool | None
    seeds: tuple[int, ...]
    deltas: tuple[float, ...]
    dropped_seeds: tuple[int, ...]

    @property
    def n(self) -> int:
        """The number of pairs."""
        return len(self.seeds)

    @property
    def n_dropped(self) -> int:
        """The number of seeds left out."""
        return len(self.dropped_seeds)

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies wholly above or below 0."""
        return self.low > 0 or self.high < 0

    @property
    def enough_pairs(self) -> bool:
        """Whether there are at least ``MIN_PAIRS_FOR_MARK`` pairs, the fewest a table may mark."""
        return self.n >= MIN_PAIRS_FOR_MARK

    @property
    def marked(self) -> bool:
        """Whether a table marks the effect: enough pairs and an interval that excludes 0."""
        return self.enough_pairs and self.excludes_zero

    @property
    def marked_verdict(self) -> str:
        """What a table shows: ``verdict`` with enough pairs, else ``TOO_FEW_SEEDS``."""
        return self.verdict if self.enough_pairs else TOO_FEW_SEEDS


def pair_by_seed(values: Mapping[int, float], baseline: Mapping[int, float]
                 ) -> tuple[tuple[int, ...], np.ndarray, tuple[int, ...]]:
    """Per-seed differences ``values[s] − baseline[s]`` over the seeds finite in both.

    Args:
        values, baseline: ``{seed: value}`` of the two conditions.

    Returns:
        ``(seeds, deltas, dropped_seeds)``: the paired seeds ascending, the differences
        (shape (len(seeds),); a difference within 1e-12 relative of 0 is exactly 0), and the
        seeds left out (in one condition only, or NaN/inf in either).

    Raises:
        ValueError: if either is not a mapping, or the two share no seed.
    """
    for name, m in (("values", values), ("baseline", baseline)):
        if not isinstance(m, Mapping):
            raise ValueError(f"{name} must be a mapping {{seed: value}}, got {type(m).__name__}")
    common = set(values) & set(baseline)
    if not common:
        raise ValueError(f"no common seeds: the condition has seeds {sorted(values)}, "
                         f"the baseline {sorted(baseline)}")
    seeds = tuple(s for s in sorted(common)
                  if np.isfinite(float(values[s])) and np.isfinite(float(baseline[s])))
    dropped = tuple(sorted((set(values) | set(baseline)) - set(seeds)))
    v = np.array([float(values[s]) for s in seeds], dtype=np.float64)
    b = np.array([float(baseline[s]) for s in seeds], dtype=np.float64)
    deltas = v - b
    # equal values reached by different float paths (log 8 from two histograms, say) differ by a
    # few ulps: count them as no change, or a run of such "ties" would read as a one-sided effect
    deltas[np.abs(deltas) <= 1e-12 * np.maximum(1.0, np.maximum(np.abs(v), np.abs(b)))] = 0.0
    return seeds, deltas, dropped


def paired_effect(values: Mapping[int, float], baseline: Mapping[int, float], higher_is_better: bool | None,
                  confidence: float = 0.95, n_resamples: int = 9999,
                  rng: int | np.random.Generator = 0, method: str = "BCa") -> PairedEffect:
    """The effect of one condition against a baseline, paired by seed, with a bootstrap interval.

    Runs that share a seed share initialization and data stream, so the effect is measured
    seed by seed (delta_s = value_s − baseline_s) and the bootstrap resamples those deltas.
    The same function measures luck: pair a null perturbation (λ = 1e-8, say) with λ = 0.
    The deltas also get the exact sign-flip p-value (``sign_flip_p_value``; its random
    patterns, above ``MAX_EXACT_SIGN_FLIP_PAIRS`` pairs, come after the bootstrap's from ``rng``).

    Args:
        values, baseline: ``{seed: value}`` of the condition and of the baseline.
        higher_is_better: the metric's direction (``evaluate.METRICS[key].higher_is_better``).
        confidence, n_resamples, rng, method: passed to ``bootstrap_mean_interval`` (and
            ``n_resamples``, ``rng`` to ``sign_flip_p_value``).

    Returns:
        A ``PairedEffect``.

    Raises:
        ValueError: for no common seeds, fewer than 2 seeds finite in both, or bad
            bootstrap arguments.
    """
    seeds, deltas, dropped = pair_by_seed(values, baseline)
    if len(seeds) < 2:
        raise ValueError(f"fewer than 2 pairs: {len(seeds)} seed(s) finite in both conditions "
                         f"({len(dropped)} dropped: {list(dropped)}); a bootstrap interval needs 2")
    ci = bootstrap_mean_interval(deltas, confidence, n_resamples, rng, method)
    p = sign_flip_p_value(deltas, n_resamples, rng)
    return PairedEffect(mean=ci.mean, low=ci.low, high=ci.high, confidence=ci.confidence, method=ci.method,
                        verdict=effect_verdict(ci.low, ci.high, higher_is_better), p_value=p,
                        higher_is_better=None if higher_is_better is None else bool(higher_is_better),
                        seeds=seeds, deltas=tuple(float(d) for d in deltas), dropped_seeds=dropped)


@dataclass(frozen=True)
class FamilyVerdict:
    """One comparison of a declared family, judged with the family's Holm adjustment.

    Attributes:
        p_value: the comparison's own sign-flip p (``PairedEffect.p_value``).
        p_holm: its Holm-adjusted p over the family (``holm_adjust``).
        verdict: ``TOO_FEW_SEEDS`` below ``MIN_PAIRS_FOR_MARK`` pairs; else the direction of the
            mean difference ("better" / "worse", or "higher" / "lower" for a metric with no
            direction) where ``p_holm`` ≤ α, and ``"neutral"`` where it is not.
    """

    p_value: float
    p_holm: float
    verdict: str


def family_verdicts(effects: Mapping[Hashable, PairedEffect], alpha: float = 0.05) -> dict[Hashable, FamilyVerdict]:
    """Judge a declared family of paired effects together: Holm-adjusted sign-flip p-values.

    Declare the family before looking (the comparisons a notebook's statements rest on, say):
    a comparison is then called only if its adjusted p is ≤ ``alpha``, which keeps the chance
    that *any* comparison without a real effect is called ≤ ``alpha``. The direction called is
    that of the mean difference (the bootstrap interval is not consulted). Effects of fewer
    than ``MIN_PAIRS_FOR_MARK`` pairs still count in the family's size but are never called.

    Args:
        effects: key (e.g. ``(comparison, metric)``) → ``PairedEffect``, the m >= 1 comparisons.
        alpha: the family-wise error rate, in (0, 1).

    Returns:
        key → ``FamilyVerdict``, in the order of ``effects``.

    Raises:
        ValueError: for no effects, an entry that is not a ``PairedEffect``, or alpha outside (0, 1).
    """
    if not effects:
        raise ValueError("effects is empty: declare at least one comparison of the family")
    for key, e in effects.items():
        if not isinstance(e, PairedEffect):
            raise ValueError(f"effects[{key!r}] must be a PairedEffect, got {type(e).__name__}")
    alpha = float(alpha)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    adjusted = holm_adjust([e.p_value for e in effects.values()])
    out = {}
    for (key, e), p_holm in zip(effects.items(), adjusted, strict=True):
        if not e.enough_pairs:
            verdict = TOO_FEW_SEEDS
        elif p_holm <= alpha:
            verdict = effect_verdict(e.mean, e.mean, e.higher_is_better)
        else:
            verdict = "neutral"
        out[key] = FamilyVerdict(p_value=e.p_value, p_holm=float(p_holm), verdict=verdict)
    return out
