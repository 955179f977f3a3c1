"""Sweeps over λ_G × λ_D × seeds: the grid, a resumable per-run cache, and the results.

The runs of a sweep are trained in batches by ``batched.train_batched`` (one vmapped model,
each member exactly its own run). Each finished run is written to its own ``.npz`` file
(``allow_pickle=False``) holding the schema version and a hash of its config; files are written
to a temporary name and renamed, so an interrupted sweep never leaves a corrupt file and a
restart skips finished runs. The command line (``python -m gan_l2_lib sweep``) is ``cli.main``.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .batched import train_batched
from .checks import positive_int
from .classifier import ClassifierConfig, load_or_train_classifier
from .data import (
    MIXTURE_NAMES,
    ImageDataset,
    Mixture,
    dataset_facts,
    default_cache_dir,
    load_dataset,
)
from .engine import check_engine, run_tasks, subnormals_flushed
from .evaluate import (
    LEGACY_KEYS,
    METRICS,
    coverage_key,
    decision_surface,
    evaluate_run,
    metrics_for,
    overfitting_probes,
    surface_extent,
    surface_points,
)
from .files import atomic_write_bytes, stable_hash
from .metrics import PairedEffect, pair_by_seed, paired_effect
from .regularizers import validate_coef
from .train import SCALAR_KEYS, History, TrainConfig

#: Grid points per axis of D's surface kept at every evaluation (``SweepConfig.snapshots``):
#: coarser than the final surface's ``SURFACE_RES``, as 40 of them ship per run.
SNAPSHOT_RES = 32
#: The training code's version, hashed by every run key: bump it when a change to the training
#: step changes results (``tests/test_batched.py``'s fingerprint test fails then), so every key
#: changes and no file made by the old step is reused; then re-make the shipped results
#: (``python -m gan_l2_lib reproduce``).
RUN_KEY_VERSION = 1
#: The config hash of the classifier that scored the runs keyed before the classifier entered the
#: key, per classifier data set: a key hashes the scoring classifier's config hash only when it
#: differs from this, so those runs keep their names and a run scored by another classifier gets
#: another key (a file scored by another classifier is then missing, not silently reused).
KEYLESS_CLASSIFIER = {"mnist5k": "387367f1d5c35865", "digits8": "7d04cf7060ab8a32"}
#: The run-file format written now; schema 1 files (classes covered stored as "modes_covered"
#: on digit sets) still load, renamed on the way in.
SCHEMA_VERSION = 2
READABLE_SCHEMAS = (1, 2)
DEFAULT_LAMBDAS = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)
#: Snapshots the quick (CI-sized) default sweeps keep at every evaluation: points of 2-D data
#: (with D's surface), images of digit sets (a 4 × 4 grid).
QUICK_SNAPSHOTS = {"2d": 100, "images": 16}


def shipped_results_dir() -> Path:
    """The folder of sweep results that ship with the package (full-mode default sweeps)."""
    return Path(__file__).resolve().parent / "results"


def default_sweep_cache_dir() -> Path:
    """Where a user's own sweeps are cached: ``~/.cache/gan_l2/sweeps``."""
    return default_cache_dir() / "sweeps"


def _lambda_tuple(values: Sequence[float], name: str) -> tuple[float, ...]:
    if isinstance(values, (int, float)):
        values = (values,)
    vals = tuple(validate_coef(v, name) for v in values)
    if not vals:
        raise ValueError(f"{name} needs at least one value")
    if len(set(vals)) != len(vals):
        raise ValueError(f"{name} has repeated values: {vals}")
    return vals


@dataclass(frozen=True)
class SweepConfig:
    """A grid of runs: every (λ_G, λ_D, seed) combination on top of a base ``TrainConfig``.

    Attributes:
        base: the shared training config; its ``lambda_g``, ``lambda_d`` and ``seed`` are
            replaced member by member (its D regularizer, R1 γ and AdamW decay rates are every
            member's).
        lambda_g, lambda_d: the λ values (0 allowed; log-spaced by convention).
        seeds: the seeds.
        eval_last: metrics are summarized over this many final evaluations.
        n_stored_samples: generated samples kept per run in the cache (last evaluation).
        snapshots: fixed-noise samples kept at *every* evaluation (float16 points, or 8-bit
            images), and for 2-D data D's decision surface at every evaluation (8 bits per
            point): training can be replayed. 0 (the default): only the last evaluation's.
        diagonal: pair ``lambda_g[i]`` with ``lambda_d[i]`` (a 1-D sweep along λ_G = λ_D, say)
            instead of taking every combination.
    """

    base: TrainConfig
    lambda_g: tuple[float, ...] = DEFAULT_LAMBDAS
    lambda_d: tuple[float, ...] = DEFAULT_LAMBDAS
    seeds: tuple[int, ...] = (0, 1, 2)
    eval_last: int = 3
    n_stored_samples: int = 500
    diagonal: bool = False
    snapshots: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.base, TrainConfig):
            raise ValueError(f"base must be a TrainConfig, got {type(self.base).__name__}")
        object.__setattr__(self, "lambda_g", _lambda_tuple(self.lambda_g, "lambda_g"))
        object.__setattr__(self, "lambda_d", _lambda_tuple(self.lambda_d, "lambda_d"))
        seeds = tuple(self.seeds)
        if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
            raise ValueError(f"seeds must be integers >= 0 (at least one), got {self.seeds!r}")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds has repeated values: {seeds}")
        object.__setattr__(self, "seeds", seeds)
        if self.diagonal and len(self.lambda_g) != len(self.lambda_d):
            raise ValueError(f"a diagonal sweep pairs lambda_g with lambda_d: they need the same length, "
                             f"got {len(self.lambda_g)} and {len(self.lambda_d)}")
        for name in ("eval_last", "n_stored_samples"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if isinstance(self.snapshots, bool) or not isinstance(self.snapshots, int) or self.snapshots < 0:
            raise ValueError(f"snapshots must be an integer >= 0 (0: no snapshots), got {self.snapshots!r}")
        self.members()  # every member is a valid config (e.g. λ_D = 0 unless D's regularizer is L2)

    @classmethod
    def default(cls, dataset: str = "ring8", quick: bool = False) -> SweepConfig:
        """The default sweep for a data set (what ships with the package in full mode).

        2-D mixtures (the sweeps notebook 06's verdicts rest on): λ_G × λ_D ∈ {0, 1e-4, 1e-3, 1e-2,
        1e-1}² × 10 seeds, batch 100, ``EVIDENCE_STEPS`` steps with an evaluation every 500; a run's
        value is its mean over the last quarter of its evaluations, and every evaluation keeps 100
        samples and D's surface (``snapshots``) so training can be replayed. Image sets (the source
        article's networks, so far costlier): a 1-D sweep along λ_G = λ_D ∈ {0, 1e-4, 1e-3, 1e-2}
        × 3 seeds, 5,000 steps. ``quick=True`` shrinks everything to CI size and keeps snapshots at
        every evaluation (``QUICK_SNAPSHOTS``), so the λ lab can replay a quick sweep.
        """
        if dataset in MIXTURE_NAMES:
            steps = EVIDENCE_STEPS[dataset]
            base = TrainConfig.preset(dataset, batch_size=100, steps=steps, log_every=100,
                                      eval_every=500, n_eval_samples=1000)
            if quick:
                return cls(base.replace(steps=300, log_every=20, eval_every=100, n_eval_samples=500),
                           lambda_g=(0.0, 1e-2), lambda_d=(0.0, 1e-2), seeds=(0,), n_stored_samples=200,
                           snapshots=QUICK_SNAPSHOTS["2d"])
            return cls(base, seeds=tuple(range(10)), eval_last=steps // 500 // 4, n_stored_samples=500,
                       snapshots=100)
        base = TrainConfig.preset(dataset, steps=5000, log_every=50, eval_every=500, n_eval_samples=500)
        if quick:
            return cls(base.replace(steps=100, log_every=10, eval_every=50, n_eval_samples=100),
                       lambda_g=(0.0, 1e-2), lambda_d=(0.0, 1e-2), seeds=(0,), n_stored_samples=16, diagonal=True,
                       snapshots=QUICK_SNAPSHOTS["images"])
        lams = (0.0, 1e-4, 1e-3, 1e-2)
        return cls(base, lambda_g=lams, lambda_d=lams, seeds=(0, 1, 2), n_stored_samples=64, diagonal=True)

    def members(self) -> list[TrainConfig]:
        """Every run of the grid, ordered λ_G-major, then λ_D, then seed."""
        pairs = zip(self.lambda_g, self.lambda_d, strict=True) if self.diagonal else \
            ((g, d) for g in self.lambda_g for d in self.lambda_d)
        return [self.base.replace(lambda_g=g, lambda_d=d, seed=s) for g, d in pairs for s in self.seeds]

    def to_dict(self) -> dict:
        return {"base": self.base.to_dict(), "lambda_g": list(self.lambda_g), "lambda_d": list(self.lambda_d),
                "seeds": list(self.seeds), "eval_last": self.eval_last, "n_stored_samples": self.n_stored_samples,
                "diagonal": self.diagonal, "snapshots": self.snapshots}


def one_penalty_sweep(sweep: SweepConfig, lam: float = 1e-2) -> SweepConfig:
    """λ_G, λ_D ∈ {0, ``lam``} as a full 2 × 2 grid on a sweep's base: one penalty at a time.

    Args:
        sweep: the sweep whose base config, seeds, ``eval_last`` and ``n_stored_samples`` are kept
            (e.g. an image set's diagonal default sweep).
        lam: the penalty's value.

    Returns:
        The 2 × 2 ``SweepConfig`` (its (0, 0) and (``lam``, ``lam``) runs are the diagonal's ends).
    """
    return SweepConfig(sweep.base, lambda_g=(0.0, lam), lambda_d=(0.0, lam), seeds=sweep.seeds,
                       eval_last=sweep.eval_last, n_stored_samples=sweep.n_stored_samples, snapshots=sweep.snapshots)


#: The λ of the source article (on both networks).
ARTICLE_LAMBDA = 1e-4
#: The null perturbation: a penalty too small to matter except through float rounding and chaos.
NULL_LAMBDA = 1e-8
#: Training steps of the evidence sweeps: long enough for the unpenalized baselines' mode
#: counts to level off on the 2-core CPU budget (``benchmarks/results/plateau``).
EVIDENCE_STEPS = {"ring8": 20_000, "grid25": 12_000}
#: Generated samples per evaluation of the quality-aware stacked-MNIST sweep: enough for a
#: perfect generator to hit all 1,000 triples (1000·(1 − 0.999^10000) ≈ 999.95).
STACKED_EVAL_SAMPLES = 10_000


def evidence_sweeps() -> dict[str, SweepConfig]:
    """The controls beside the mixtures' default sweeps that notebook 06's verdicts rest on.

    Each shares its base, seeds and evaluation plan with ``SweepConfig.default(mixture)`` (10 seeds,
    an evaluation every 500 steps, the last quarter averaged, snapshots at every evaluation):

    - ``"<mixture>_null"``: λ_G = λ_D = ``NULL_LAMBDA`` on the same base and seeds, paired with the
      grid's (0, 0) cell it measures seed-to-seed luck;
    - ``"ring8_article"``: the source article's loss (D's loss halved, ``halve_d_loss``) at
      λ_G = λ_D ∈ {0, ``ARTICLE_LAMBDA``};
    - ``"ring8_b256"``: the sensitivity check, λ_G = λ_D ∈ {0, ``ARTICLE_LAMBDA``} at batch 256
      and 30,000 steps;
    - ``"stacked_mnist_quality"``: quality-aware stacked MNIST (notebook 06's statement 13): the
      default stacked_mnist base (5,000 steps, an evaluation every 500) with
      ``STACKED_EVAL_SAMPLES`` samples per evaluation, so triples read confidently in all three
      channels (``metrics.CONFIDENT``) are counted from 10,000 samples; λ_G = 0, λ_D ∈ {0,
      ``ARTICLE_LAMBDA``, 1e-3}, 5 seeds, the last quarter (2 of 10 evaluations) averaged,
      16 snapshot images per evaluation. Measured with 1 thread on the 2-core development CPU
      while another sweep shared it: a training step of all 15 members batched takes 1.83 s
      (122 ms per member-step; 103 ms in batches of 5, like the shipped stacked_mnist runs'
      105 ms in batches of 6), one evaluation ≈ 7 s per run (generating 10,000 images 1.9 s,
      classifying their 30,000 channels 4.7–5.8 s). So ≈ 2.2 h of training in batches of 5
      (2.5 h as one batch) plus 150 evaluations ≈ 0.3 h: **about 2.5 hours**. Run it with
      ``max_batch=5``: a member keeps its 10 evaluations of 10,000 float32 images (0.94 GB)
      until they are scored, 14 GB for one batch of 15. For scale: real stacked digits are read
      confidently in 78 % of 10,000 samples (999 triples), the shipped 5,000-step generators in
      0–8 % of their 64 stored samples, so a run's confident count rests on a few hundred samples.

    Measured training cost of the mixtures' sweeps on that CPU (1 thread, batches of 125, evaluations
    and snapshots included): about 680 member-steps per CPU-second, so ring8's 250 runs × 20,000
    steps take about 2 CPU-hours, grid25's 250 × 12,000 about 1.2.

    Returns:
        ``{name: SweepConfig}``.
    """
    out = {}
    for name in EVIDENCE_STEPS:
        grid = SweepConfig.default(name)
        out[f"{name}_null"] = dataclasses.replace(grid, lambda_g=(NULL_LAMBDA,), lambda_d=(NULL_LAMBDA,))
    ring8 = SweepConfig.default("ring8")
    pair = (0.0, ARTICLE_LAMBDA)
    out["ring8_article"] = dataclasses.replace(ring8, base=ring8.base.replace(halve_d_loss=True),
                                               lambda_g=pair, lambda_d=pair, diagonal=True)
    long = ring8.base.replace(batch_size=256, steps=30_000)
    out["ring8_b256"] = dataclasses.replace(ring8, base=long, lambda_g=pair, lambda_d=pair, diagonal=True,
                                            eval_last=30_000 // 500 // 4)
    stacked = SweepConfig.default("stacked_mnist").base.replace(n_eval_samples=STACKED_EVAL_SAMPLES)
    out["stacked_mnist_quality"] = SweepConfig(
        stacked, lambda_g=(0.0,), lambda_d=(0.0, ARTICLE_LAMBDA, 1e-3), seeds=tuple(range(5)),
        eval_last=stacked.steps // stacked.eval_every // 4, n_stored_samples=64, snapshots=16)
    return out


#: Strengths of the alternatives to L2 on D that ``regularizer_sweeps`` compares: three around each
#: method's usual setting (R1's γ; AdamW's decoupled decay of D, whose per-step shrink is lr · rate).
R1_GAMMAS = (0.1, 1.0, 10.0)
ADAMW_DECAYS = (1e-2, 1e-1, 1.0)


def regularizer_sweeps() -> dict[str, SweepConfig]:
    """The alternatives to L2 on D on ring8's default harness: one sweep per method and strength.

    Each is one cell (λ_G = λ_D = 0) of ``SweepConfig.default("ring8")`` with its base's D
    regularizer changed, the same ten seeds (same initial weights and data stream, so every run
    pairs with the grid's unpenalized run of its seed) and the same evaluations and snapshots.
    L2 on D itself is the grid's bottom row (λ_D ∈ {1e-4, 1e-3, 1e-2}), so it is not repeated.

    - ``"ring8_r1_<γ>"``: R1, (γ/2)·E‖∇ₓ D(x)‖² on real data, γ ∈ ``R1_GAMMAS``;
    - ``"ring8_spectral_norm"``: every linear layer of D spectrally normalized (no strength);
    - ``"ring8_adamw_<rate>"``: AdamW's decoupled decay on D's parameters, rate ∈ ``ADAMW_DECAYS``.

    Returns:
        ``{name: SweepConfig}``.
    """
    ring8 = SweepConfig.default("ring8")
    one = {"lambda_g": (0.0,), "lambda_d": (0.0,)}
    out = {}
    for gamma in R1_GAMMAS:
        out[f"ring8_r1_{gamma:g}"] = dataclasses.replace(
            ring8, base=ring8.base.replace(d_regularizer="r1", r1_gamma=gamma), **one)
    out["ring8_spectral_norm"] = dataclasses.replace(ring8, base=ring8.base.replace(d_regularizer="spectral_norm"),
                                                     **one)
    for rate in ADAMW_DECAYS:
        out[f"ring8_adamw_{rate:g}"] = dataclasses.replace(ring8, base=ring8.base.replace(weight_decay_d=rate), **one)
    return out


#: Strengths of the alternatives on quality-aware stacked MNIST (the CPU budget allowed five
#: sweeps of three runs): R1's γ at and below the usual image setting (Mescheder et al. 2018 use
#: γ = 10); AdamW's rate 1 only, whose decay alone shrinks D by e⁻¹ in 5,000 steps (rate 0.1:
#: by 10 %, 0.01: by 1 %, too little to act in this budget; on ring8 rate 0.01 did nothing).
STACKED_R1_GAMMAS = (1.0, 10.0)
STACKED_ADAMW_DECAYS = (1.0,)


def stacked_regularizer_sweeps() -> dict[str, SweepConfig]:
    """The alternatives to L2 on D on quality-aware stacked MNIST: one sweep per method and strength.

    Each is ``evidence_sweeps()["stacked_mnist_quality"]`` (5,000 steps, 10,000 samples per
    evaluation, the last quarter averaged) at λ_G = λ_D = 0 with its base's D regularizer changed,
    on that sweep's first three seeds, so every run pairs by seed with its unpenalized run (L2 on
    D at 1e-4 and 1e-3 is that sweep's other two rows):

    - ``"stacked_mnist_r1_<γ>"``: R1, γ ∈ ``STACKED_R1_GAMMAS``;
    - ``"stacked_mnist_spectral_norm"``: every linear layer of D spectrally normalized;
    - ``"stacked_mnist_adamw_<rate>"``: AdamW's decoupled decay on D, rate ∈ ``STACKED_ADAMW_DECAYS``;
    - ``"stacked_mnist_null"``: L2 on D at ``NULL_LAMBDA`` (the null control: how far seed-to-seed
      luck alone moves each metric when paired with the unpenalized runs).

    Measured on the 2-core development CPU (1 thread, 3 members batched, 30 steps): 78–105 ms per
    member-step for every method, so about 26 CPU-minutes per sweep of 3 runs including
    evaluations; three sweeps at a time beside helper sessions took about an hour each.

    Returns:
        ``{name: SweepConfig}``.
    """
    quality = evidence_sweeps()["stacked_mnist_quality"]
    one = {"lambda_g": (0.0,), "lambda_d": (0.0,), "seeds": (0, 1, 2)}
    out = {}
    for gamma in STACKED_R1_GAMMAS:
        out[f"stacked_mnist_r1_{gamma:g}"] = dataclasses.replace(
            quality, base=quality.base.replace(d_regularizer="r1", r1_gamma=gamma), **one)
    out["stacked_mnist_spectral_norm"] = dataclasses.replace(
        quality, base=quality.base.replace(d_regularizer="spectral_norm"), **one)
    for rate in STACKED_ADAMW_DECAYS:
        out[f"stacked_mnist_adamw_{rate:g}"] = dataclasses.replace(
            quality, base=quality.base.replace(weight_decay_d=rate), **one)
    out["stacked_mnist_null"] = dataclasses.replace(quality, **(one | {"lambda_d": (NULL_LAMBDA,)}))
    return out


def overfitting_sweeps() -> dict[str, SweepConfig]:
    """Does L2 on D stop D from overfitting? The article's networks on 1,000 training digits.

    The base is the digit sets' default (5,000 steps, an evaluation every 500 on 500 samples) on
    ``mnist5k_train1k`` (100 images per class; the rest of mnist5k is held out and never shown to
    D or G), so every evaluation also reads D on training and held-out images (its gap); 3 seeds,
    the last quarter (2 of 10 evaluations) averaged, 16 snapshot images per evaluation.

    - ``"mnist1k_l2_d"``: λ_G = 0, λ_D ∈ {0, 1e-4, 1e-3, 1e-2} (L2 on D alone);
    - ``"mnist1k_article"``: λ_G = λ_D = ``ARTICLE_LAMBDA`` (the article's setting, both networks);
    - ``"mnist1k_null"``: λ_G = 0, λ_D = ``NULL_LAMBDA``: paired with ``mnist1k_l2_d``'s λ = 0 runs it
      measures how far seed-to-seed luck alone moves each metric.

    Measured on the 2-core development CPU (1 thread, other sweeps sharing it): about 7.5 minutes
    per run in batches of 12 (``mnist1k_l2_d``: 5,457 s wall for its 12 runs).

    Returns:
        ``{name: SweepConfig}``.
    """
    base = SweepConfig.default("mnist5k").base.replace(dataset="mnist5k_train1k")
    common = {"seeds": (0, 1, 2), "eval_last": base.steps // base.eval_every // 4, "n_stored_samples": 64,
              "snapshots": 16}
    return {"mnist1k_l2_d": SweepConfig(base, lambda_g=(0.0,), lambda_d=(0.0, ARTICLE_LAMBDA, 1e-3, 1e-2), **common),
            "mnist1k_article": SweepConfig(base, lambda_g=(ARTICLE_LAMBDA,), lambda_d=(ARTICLE_LAMBDA,), **common),
            "mnist1k_null": SweepConfig(base, lambda_g=(0.0,), lambda_d=(NULL_LAMBDA,), **common)}


#: Adam's β₁ of the failing baseline (PyTorch's default; the article and every other sweep use 0.5).
UNSTABLE_BETA1 = 0.9
#: Steps of the failing-baseline sweeps: its failure is steady from about step 2,000 on
#: (``benchmarks/failing_setting_search.py``), and a 10,000-step grid fits the CPU budget.
UNSTABLE_STEPS = 10_000


def stability_sweeps() -> dict[str, SweepConfig]:
    """A baseline that really fails, and whether L2 rescues it: ring8 with Adam's β₁ = 0.9.

    ``benchmarks/failing_setting_search.py`` trained the unpenalized ring8 GAN under harsher
    settings (3 seeds, 8,000 steps; the record in ``benchmarks/results/failing_setting_search.json``
    holds the four that were run: the default, β₁ = 0.9, learning rate 1e-3 with β₁ 0.5 and 0.9 —
    the script's D-only learning rate and minimax settings were not run): with β₁ = 0.9, at either
    learning rate, almost no sample reached a mode in any seed, G's samples a wide cloud. Both sweeps keep ring8's default harness
    (batch 100, an evaluation every 500 steps, the last quarter averaged, snapshots) and its ten
    seeds, at ``UNSTABLE_STEPS`` steps:

    - ``"ring8_beta1_0.9"``: λ_G ∈ {0, 1e-4, 1e-2} × λ_D ∈ {0, 1e-4, 1e-3, 1e-2}: L2 on D, on G,
      and on both, against the failing baseline;
    - ``"ring8_beta1_0.9_null"``: λ_G = λ_D = ``NULL_LAMBDA``, paired with the grid's λ = 0 cell.

    Returns:
        ``{name: SweepConfig}``.
    """
    ring8 = SweepConfig.default("ring8")
    base = ring8.base.replace(betas=(UNSTABLE_BETA1, 0.999), steps=UNSTABLE_STEPS)
    grid = dataclasses.replace(ring8, base=base, lambda_g=(0.0, ARTICLE_LAMBDA, 1e-2),
                               lambda_d=(0.0, ARTICLE_LAMBDA, 1e-3, 1e-2),
                               eval_last=UNSTABLE_STEPS // base.eval_every // 4)
    return {"ring8_beta1_0.9": grid,
            "ring8_beta1_0.9_null": dataclasses.replace(grid, lambda_g=(NULL_LAMBDA,), lambda_d=(NULL_LAMBDA,))}


def named_sweeps() -> dict[str, SweepConfig]:
    """Every sweep the command line can run by name: the evidence, regularizer, overfitting and stability sweeps."""
    return (evidence_sweeps() | regularizer_sweeps() | stacked_regularizer_sweeps() | overfitting_sweeps()
            | stability_sweeps())


#: The evidence sweeps that ship: every sweep of ``evidence_sweeps``.
SHIPPED_EVIDENCE = ("ring8_null", "grid25_null", "ring8_article", "ring8_b256", "stacked_mnist_quality")

#: The alternatives to L2 on D that ship (notebook 07): every sweep of ``regularizer_sweeps`` and
#: ``stacked_regularizer_sweeps``.
SHIPPED_REGULARIZERS = (*regularizer_sweeps(), *stacked_regularizer_sweeps())

#: The overfitting and stability sweeps that ship (notebook 08): every sweep of
#: ``overfitting_sweeps`` and ``stability_sweeps``.
SHIPPED_OVERFITTING = tuple(overfitting_sweeps())
SHIPPED_STABILITY = tuple(stability_sweeps())


def shipped_sweeps() -> dict[str, SweepConfig]:
    """Every sweep whose runs ship in ``shipped_results_dir()``, by name: what the notebooks read.

    ``"<dataset>"`` is ``SweepConfig.default(dataset)`` (notebooks 04 and 05),
    ``"ring8_quick"`` the quick ring8 sweep (05's fallback, re-made in CI),
    ``"mnist5k_quick"`` and ``"stacked_mnist_quick"`` the quick image sweeps (04's fallback; trained
    one member per batch, ``max_batch=1``, so CI re-makes a member alone and compares it),
    ``"<image set>_one_penalty"`` the 2 × 2 grid of ``one_penalty_sweep`` (06's statement 13), and
    the controls of ``evidence_sweeps`` named in ``SHIPPED_EVIDENCE``, and the alternatives to L2
    on D of ``regularizer_sweeps`` and ``stacked_regularizer_sweeps`` named in ``SHIPPED_REGULARIZERS`` (notebook 07), and the
    overfitting and stability sweeps named in ``SHIPPED_OVERFITTING`` and ``SHIPPED_STABILITY``
    (notebook 08).
    Every shipped file belongs to one of them; ``tests/test_shipped_results.py`` checks both ways.

    Returns:
        ``{name: SweepConfig}``.
    """
    sweeps = {name: SweepConfig.default(name) for name in ("ring8", "grid25", "mnist5k", "stacked_mnist")}
    for name in ("ring8", "mnist5k", "stacked_mnist"):
        sweeps[f"{name}_quick"] = SweepConfig.default(name, quick=True)
    for name in ("mnist5k", "stacked_mnist"):
        sweeps[f"{name}_one_penalty"] = one_penalty_sweep(sweeps[name])
    evidence = evidence_sweeps()
    sweeps.update({name: evidence[name] for name in SHIPPED_EVIDENCE})
    alternatives = regularizer_sweeps() | stacked_regularizer_sweeps()
    sweeps.update({name: alternatives[name] for name in SHIPPED_REGULARIZERS})
    overfitting = overfitting_sweeps()
    sweeps.update({name: overfitting[name] for name in SHIPPED_OVERFITTING})
    stability = stability_sweeps()
    sweeps.update({name: stability[name] for name in SHIPPED_STABILITY})
    return sweeps


def scoring_classifier_hash(dataset: str, classifier=None) -> str | None:
    """The config hash of the classifier that scores ``dataset``'s runs: ``classifier``'s, else the
    preset's (``ClassifierConfig.preset``); None for a 2-D mixture (scored without one)."""
    if dataset_facts(dataset).is_2d:
        return None
    return (classifier.config if classifier is not None else ClassifierConfig.preset(dataset)).config_hash()


def run_key(cfg: TrainConfig, sweep: SweepConfig, classifier_hash: str | None = None) -> str:
    """Hash identifying one run's cache file: what changes its results, and what is stored.

    It hashes the training version (``RUN_KEY_VERSION``), the config, the stored sweep fields
    and, for image data, the scoring classifier's config hash when it differs from
    ``KEYLESS_CLASSIFIER`` (so runs keyed before keep their names).

    Args:
        cfg, sweep: the run and its sweep.
        classifier_hash: the scoring classifier's config hash (None: the preset's).
    """
    stored = {"schema": RUN_KEY_VERSION, "config": cfg.to_dict(), "eval_last": sweep.eval_last,
              "n_stored_samples": sweep.n_stored_samples}
    if sweep.snapshots:  # hashed only when kept, so runs without snapshots keep their keys
        stored["snapshots"] = sweep.snapshots
    if not dataset_facts(cfg.dataset).is_2d:
        scorer = classifier_hash or scoring_classifier_hash(cfg.dataset)
        if scorer != KEYLESS_CLASSIFIER.get(dataset_facts(cfg.dataset).classifier):
            stored["classifier"] = scorer
    return stable_hash(stored, 20)


def run_path(cfg: TrainConfig, sweep: SweepConfig, cache_dir: str | Path, classifier_hash: str | None = None) -> Path:
    """``cache_dir/<dataset>/lg<λ_G>_ld<λ_D>_s<seed>_<hash>.npz`` (readable and unique; see ``run_key``)."""
    name = f"{_run_stem(cfg)}_{run_key(cfg, sweep, classifier_hash)}.npz"
    return Path(cache_dir) / cfg.dataset / name


def _run_stem(cfg: TrainConfig) -> str:
    return f"lg{cfg.lambda_g:g}_ld{cfg.lambda_d:g}_s{cfg.seed}"


# ---------------------------------------------------------------------------------------------
# Per-run records: metrics, cache files
# ---------------------------------------------------------------------------------------------


@dataclass
class RunRecord:
    """One finished run as stored in the cache: curves, a few samples, metrics. No models.

    Attributes:
        config: the run's ``TrainConfig``.
        key: its cache hash (``run_key``).
        steps, scalars: the logged history (see ``train.History``).
        eval_steps: evaluation steps; ``curves`` maps metric names to arrays over them.
        samples: generated samples at the last evaluation, (n, 2) points or (n, C, H, W) in [-1, 1].
        surface: for 2-D data, σ(D(x)) at the last evaluation on a grid, (R, R), and
            ``surface_extent`` = (x_min, x_max, y_min, y_max); None for images.
        summary: scalar metrics (summarized over the last ``eval_last`` evaluations, plus
            stability numbers); NaN where undefined.
        diverged, diverged_step, wall_time_s: as in ``History``.
        classifier_hash: the config hash of the classifier that scored its image metrics (None for
            2-D data, and in files written before it was stored).
        eval_last, n_stored_samples: the sweep fields its key hashes besides the config (see
            ``run_key``); None for a file written before they were stored.
        snapshots: the sweep's ``snapshots`` (also hashed by the key when > 0).
        snapshot_samples: the first ``snapshots`` fixed-noise samples at every evaluation,
            (E, n, 2) or (E, n, C, H, W) aligned with ``eval_steps``; None without snapshots.
        snapshot_surfaces: for 2-D data, σ(D(x)) at every evaluation on a ``SNAPSHOT_RES`` grid
            over ``surface_extent``, (E, R, R) in [0, 1] (stored with 8 bits); None without
            snapshots or for images.
    """

    config: TrainConfig
    key: str
    steps: np.ndarray
    scalars: dict[str, np.ndarray]
    eval_steps: np.ndarray
    curves: dict[str, np.ndarray]
    samples: np.ndarray
    surface: np.ndarray | None
    surface_extent: tuple[float, float, float, float] | None
    summary: dict[str, float]
    diverged: bool
    diverged_step: int | None
    wall_time_s: float
    eval_last: int | None = None
    n_stored_samples: int | None = None
    classifier_hash: str | None = None
    snapshots: int = 0
    snapshot_samples: np.ndarray | None = None
    snapshot_surfaces: np.ndarray | None = None


def _to_record(cfg: TrainConfig, sweep: SweepConfig, hist: History, data, surface, extent,
               classifier, surfaces: list | None = None) -> RunRecord:
    curves, summary = evaluate_run(hist, data, sweep.eval_last, classifier)
    snap_samples = snap_surfaces = None
    if sweep.snapshots and hist.samples:
        snap_samples = torch.stack([x[: sweep.snapshots] for x in hist.samples]).numpy()
        if surfaces:
            snap_surfaces = torch.stack(surfaces).reshape(len(surfaces), SNAPSHOT_RES, SNAPSHOT_RES).numpy()
    if hist.samples:
        samples = hist.samples[-1][: sweep.n_stored_samples].numpy()
    else:
        shape = (0, 2) if isinstance(data, Mixture) else (0, *data.img_shape)
        samples = np.zeros(shape, dtype=np.float32)
    scorer = classifier.config.config_hash() if classifier is not None else None
    return RunRecord(
        config=cfg, key=run_key(cfg, sweep, scorer),
        steps=np.asarray(hist.steps, dtype=np.int64),
        scalars={k: hist.array(k) for k in SCALAR_KEYS},
        eval_steps=np.asarray(hist.sample_steps, dtype=np.int64),
        curves=curves, samples=samples, surface=surface, surface_extent=extent, summary=summary,
        diverged=hist.diverged, diverged_step=hist.diverged_step, wall_time_s=hist.wall_time_s,
        eval_last=sweep.eval_last, n_stored_samples=sweep.n_stored_samples,
        classifier_hash=scorer,
        snapshots=sweep.snapshots, snapshot_samples=snap_samples, snapshot_surfaces=snap_surfaces,
    )


def record_from_history(cfg: TrainConfig, history: History, data, classifier=None, snapshots: int = 16,
                        n_stored_samples: int = 64, eval_last: int = 1) -> RunRecord:
    """A run trained outside a sweep (``train_gan``) as a ``RunRecord``, so it can be replayed.

    Its metric curves are computed as a sweep's would be (``evaluate_run``), and the first
    ``snapshots`` fixed-noise samples of every evaluation in ``history.samples`` become
    ``snapshot_samples``. ``history`` keeps no discriminator, so a 2-D run gets no decision
    surfaces (its replay shows the samples only). The key is that of the same run in a
    one-member sweep with these fields.

    Args:
        cfg: the run's ``TrainConfig``.
        history: its ``train.History`` (E evaluations in ``samples`` / ``sample_steps``).
        data: the data set it was trained on.
        classifier: a ``classifier.TrainedClassifier`` for image data (None: no class metrics).
        snapshots: samples kept per evaluation, >= 1.
        n_stored_samples: samples kept from the last evaluation (``RunRecord.samples``).
        eval_last: how many final evaluations the summary averages, 1 … E.

    Returns:
        The record: ``snapshot_samples`` (E, n, C, H, W) or (E, n, 2), n = min(snapshots, samples
        per evaluation).

    Raises:
        ValueError: if the history has no evaluation, or ``snapshots``, ``n_stored_samples`` or
            ``eval_last`` is not a positive integer (``eval_last`` at most E).
    """
    if not isinstance(history, History) or not history.samples:
        raise ValueError("history has no evaluation with samples: nothing to record (train with eval_every <= steps)")
    snapshots = positive_int(snapshots, "snapshots")
    n_stored_samples = positive_int(n_stored_samples, "n_stored_samples")
    eval_last = positive_int(eval_last, "eval_last")
    if eval_last > len(history.samples):
        raise ValueError(f"eval_last must be at most the run's {len(history.samples)} evaluations, got {eval_last}")
    sweep = SweepConfig(cfg, lambda_g=(cfg.lambda_g,), lambda_d=(cfg.lambda_d,), seeds=(cfg.seed,),
                        eval_last=eval_last, n_stored_samples=n_stored_samples, snapshots=snapshots)
    return _to_record(cfg, sweep, history, data, None, None, classifier)


def save_record(record: RunRecord, path: str | Path) -> None:
    """Write a run atomically: a temporary file in the same folder, then a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "schema_version": SCHEMA_VERSION, "key": record.key, "config": record.config.to_dict(),
        "summary": record.summary, "diverged": record.diverged, "diverged_step": record.diverged_step,
        "wall_time_s": record.wall_time_s, "surface_extent": record.surface_extent,
        "curve_names": sorted(record.curves),
    }
    if record.eval_last is not None and record.n_stored_samples is not None:
        # what the key hashes besides the config, so a file alone says how to re-make it
        meta["sweep"] = {"eval_last": record.eval_last, "n_stored_samples": record.n_stored_samples}
        if record.snapshots:
            meta["sweep"]["snapshots"] = record.snapshots
    if record.classifier_hash is not None:
        meta["classifier"] = record.classifier_hash  # a run scored by another classifier is stale
    arrays = {
        "meta": np.array(json.dumps(meta, sort_keys=True)),
        "steps": record.steps, "eval_steps": record.eval_steps,
        **{f"scalar_{k}": v.astype(np.float32) for k, v in record.scalars.items()},
        **{f"curve_{k}": v.astype(np.float32) for k, v in record.curves.items()},
    }
    arrays.update(_encode_samples(record.samples, "samples"))
    if record.surface is not None:
        arrays["surface"] = record.surface.astype(np.float16)
    if record.snapshot_samples is not None:
        arrays.update(_encode_samples(record.snapshot_samples, "snapshot_samples"))
    if record.snapshot_surfaces is not None:  # a probability: 8 bits are plenty for a picture
        arrays["snapshot_surfaces_u8"] = np.round(np.clip(record.snapshot_surfaces, 0, 1) * 255).astype(np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def _encode_samples(samples: np.ndarray, name: str) -> dict[str, np.ndarray]:
    """2-D points as float16 under ``name``; images (ndim > 2 past the batch) as 8 bits under ``name_u8``."""
    if samples.shape[-1] == 2 and samples.ndim in (2, 3):
        return {name: samples.astype(np.float16)}
    # images: 8 bits are plenty for a picture in [-1, 1]
    return {f"{name}_u8": np.round((np.clip(samples, -1, 1) + 1) * 127.5).astype(np.uint8)}


def _decode_samples(arrays: dict[str, np.ndarray], name: str) -> np.ndarray | None:
    if name in arrays:
        return arrays[name].astype(np.float32)
    if f"{name}_u8" in arrays:
        return arrays[f"{name}_u8"].astype(np.float32) / 127.5 - 1.0
    return None


def load_record(path: str | Path, expected_key: str | None = None) -> RunRecord:
    """Read a run file written by ``save_record`` (``allow_pickle=False``).

    Files written before the meta held ``"sweep"`` load with ``eval_last`` and
    ``n_stored_samples`` None.

    Raises:
        ValueError: if the file is unreadable, of another schema version, or its key differs
            from ``expected_key``.
    """
    try:
        with np.load(Path(path), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays.pop("meta")))
    except Exception as exc:  # truncated zip, bad JSON, missing member ...
        raise ValueError(f"unreadable run file {path}: {type(exc).__name__}: {exc}") from exc
    version = meta.get("schema_version") if isinstance(meta, dict) else None
    if version not in READABLE_SCHEMAS:
        raise ValueError(f"{path} has schema {version}, expected one of {READABLE_SCHEMAS}")
    if expected_key is not None and meta.get("key") != expected_key:
        raise ValueError(f"{path} holds run {meta.get('key')}, expected {expected_key}")
    try:
        return _decode_record(meta, arrays)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:  # an entry missing or malformed
        raise ValueError(f"unreadable run file {path}: {type(exc).__name__}: {exc}") from exc


def _decode_record(meta: dict, arrays: dict[str, np.ndarray]) -> RunRecord:
    samples = _decode_samples(arrays, "samples")
    if samples is None:
        raise KeyError("samples")
    snap_surfaces = arrays.get("snapshot_surfaces_u8")
    extent = meta["surface_extent"]
    config = TrainConfig.from_dict(meta["config"])
    # schema 1 stored some metrics under another key (classes covered as "modes_covered")
    renames = LEGACY_KEYS.get(dataset_facts(config.dataset).kind, {}) if meta["schema_version"] == 1 else {}
    summary = {renames.get(k, k): (float("nan") if v is None else float(v)) for k, v in meta["summary"].items()}
    curves = {renames.get(k, k): arrays[f"curve_{k}"].astype(np.float64) for k in meta["curve_names"]}
    return RunRecord(
        config=config, key=meta["key"],
        steps=arrays["steps"], scalars={k: arrays[f"scalar_{k}"].astype(np.float64) for k in SCALAR_KEYS},
        eval_steps=arrays["eval_steps"],
        curves=curves,
        samples=samples, surface=arrays["surface"].astype(np.float32) if "surface" in arrays else None,
        surface_extent=tuple(extent) if extent else None,
        summary=summary,
        diverged=bool(meta["diverged"]), diverged_step=meta["diverged_step"],
        wall_time_s=float(meta["wall_time_s"]),
        eval_last=meta.get("sweep", {}).get("eval_last"),
        n_stored_samples=meta.get("sweep", {}).get("n_stored_samples"),
        classifier_hash=meta.get("classifier"),
        snapshots=int(meta.get("sweep", {}).get("snapshots", 0)),
        snapshot_samples=_decode_samples(arrays, "snapshot_samples"),
        snapshot_surfaces=None if snap_surfaces is None else snap_surfaces.astype(np.float32) / 255.0,
    )


def _try_load(path: Path, key: str, classifier_hash: str | None = None) -> tuple[RunRecord | None, str]:
    """The record at ``path``, or None and why not (a missing, corrupt or stale file is re-trained)."""
    if not path.exists():
        others = sorted(p.name for p in path.parent.glob(f"{path.name.rsplit('_', 1)[0]}_*.npz"))
        if others:  # the same run under another key: made by another training version, config or classifier
            return None, (f"{path.name} is missing; stale file(s) for the same run with another key: "
                          f"{', '.join(others)} (made by another training version (RUN_KEY_VERSION), stored "
                          "fields or classifier)")
        return None, f"{path.name} is missing"
    try:
        record = load_record(path, key)
    except ValueError as exc:
        return None, f"{path.name} is unreadable or stale: {exc}"
    if classifier_hash is not None and record.classifier_hash not in (None, classifier_hash):
        return None, (f"{path.name} is stale: scored by classifier {record.classifier_hash}, "
                      f"expected {classifier_hash}")
    return record, ""


# ---------------------------------------------------------------------------------------------
# Running a sweep
# ---------------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    """All runs of a sweep, loaded from the cache, with grid views for maps."""

    config: SweepConfig
    records: list[RunRecord]
    trained: int  # how many runs this call trained (the rest came from the cache)
    wall_time_s: float

    def record(self, lambda_g: float, lambda_d: float, seed: int) -> RunRecord:
        """The run at one grid point."""
        for r in self.records:
            c = r.config
            if math.isclose(c.lambda_g, lambda_g) and math.isclose(c.lambda_d, lambda_d) and c.seed == seed:
                return r
        raise ValueError(f"no run with lambda_g={lambda_g}, lambda_d={lambda_d}, seed={seed} in this sweep; "
                         f"grid: lambda_g {self.config.lambda_g}, lambda_d {self.config.lambda_d}, "
                         f"seeds {self.config.seeds}")

    def summary_keys(self) -> set[str]:
        """The summary metrics one may ask for: those the runs recorded and every metric of the data set.

        A run file written before a metric existed (``evaluate.METRICS``) lacks it; asking for
        it gives NaN for that run instead of an error.
        """
        recorded = set().union(*(r.summary for r in self.records)) if self.records else set()
        return recorded | set(metrics_for(self.config.base.dataset))

    def grid(self, metric: str, seed: int | None = None) -> np.ndarray:
        """A summary metric over the (λ_G, λ_D) grid: shape (len(lambda_g), len(lambda_d)).

        Args:
            metric: one of ``summary_keys()`` (e.g. ``"modes_covered"``, ``"diverged"``); a run
                that did not record it counts as NaN.
            seed: one seed, or None for the mean over seeds (NaNs ignored).

        Raises:
            ValueError: for a metric that is neither recorded nor defined for the data set.
        """
        names = self.summary_keys()
        if metric not in names:
            raise ValueError(f"unknown metric {metric!r}; available: {', '.join(sorted(names))}")
        seeds = self.config.seeds if seed is None else (seed,)
        out = np.full((len(self.config.lambda_g), len(self.config.lambda_d)), np.nan)
        for i, g in enumerate(self.config.lambda_g):
            for j, d in enumerate(self.config.lambda_d):
                if self.config.diagonal and i != j:
                    continue  # a diagonal sweep has no run off the diagonal
                vals = [self.record(g, d, s).summary.get(metric, np.nan) for s in seeds]
                vals = [v for v in vals if np.isfinite(v)]
                out[i, j] = np.mean(vals) if vals else np.nan
        return out

    def table(self) -> list[dict]:
        """One row per (λ_G, λ_D): seed-averaged summary metrics (for printing)."""
        rows = []
        metrics = sorted(set().union(*(r.summary for r in self.records)))
        for i, g in enumerate(self.config.lambda_g):
            for j, d in enumerate(self.config.lambda_d):
                if self.config.diagonal and i != j:
                    continue
                row = {"lambda_g": g, "lambda_d": d}
                for m in metrics:
                    row[m] = float(self.grid(m)[i, j])
                rows.append(row)
        return rows

    def records_at(self, lambda_g: float, lambda_d: float) -> list[RunRecord]:
        """The runs at one grid point, one per seed, in ``config.seeds`` order."""
        return [self.record(lambda_g, lambda_d, s) for s in self.config.seeds]

    def seed_values(self, metric: str, lambda_g: float, lambda_d: float, last: int = 1) -> np.ndarray:
        """One number per seed at a grid point: a summary metric, else a logged scalar.

        Args:
            metric: a key of the records' ``summary`` (``"modes_covered"``, ``"diverged"``, ...)
                or of their logged ``scalars`` (``"weight_norm_d"``, ``"grad_norm_g"``, ...).
            lambda_g, lambda_d: the grid point.
            last: for a logged scalar, the mean over its last ``last`` logs (1: the final
                value). Summary metrics are already averaged over the sweep's ``eval_last``
                evaluations and ignore it.

        Returns:
            Shape (len(config.seeds),), in seed order; NaN where a run has no such summary value.

        Raises:
            ValueError: for an unknown key, a point off the grid, or ``last`` < 1.
        """
        if isinstance(last, bool) or not isinstance(last, int) or last < 1:
            raise ValueError(f"last must be a positive integer, got {last!r}")
        summary_keys = self.summary_keys()
        if metric not in summary_keys and metric not in SCALAR_KEYS:
            raise ValueError(f"unknown metric {metric!r}; summary metrics: {', '.join(sorted(summary_keys))}; "
                             f"logged scalars: {', '.join(SCALAR_KEYS)}")
        recs = self.records_at(lambda_g, lambda_d)
        if metric in summary_keys:
            return np.array([r.summary.get(metric, np.nan) for r in recs], dtype=np.float64)
        return np.array([r.scalars[metric][-last:].mean() for r in recs], dtype=np.float64)

    def values_by_seed(self, metric: str, lambda_g: float, lambda_d: float, last: int = 1) -> dict[int, float]:
        """``seed_values`` keyed by seed: ``{seed: value}`` (NaN kept), what ``metrics.paired_effect`` pairs."""
        values = self.seed_values(metric, lambda_g, lambda_d, last)
        return {s: float(v) for s, v in zip(self.config.seeds, values, strict=True)}

    def mean(self, metric: str, lambda_g: float, lambda_d: float, last: int = 1) -> float:
        """The seed mean of ``seed_values`` (NaNs ignored; NaN if no seed has a value).

        For a summary metric this is the map's cell: ``grid(metric)[i, j]``.
        """
        vals = [v for v in self.seed_values(metric, lambda_g, lambda_d, last) if np.isfinite(v)]
        return float(np.mean(vals)) if vals else float("nan")

    def map_drift(self, metric: str, n: int = 3) -> np.ndarray:
        """How much a map cell still moves: |seed mean of the last n evaluations − of the n before|.

        Args:
            metric: a key of the records' ``curves`` (one value per evaluation).
            n: evaluations per window.

        Returns:
            Shape (len(lambda_g), len(lambda_d)), like ``grid``; NaN off a diagonal sweep's
            diagonal and where the runs have fewer than 2·n evaluations.

        Raises:
            ValueError: for a metric without curves or ``n`` < 1.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        names = set().union(*(r.curves for r in self.records))
        if metric not in names:
            raise ValueError(f"no curves of {metric!r}; available: {', '.join(sorted(names))}")

        def finite_mean(values) -> float:
            values = np.asarray(values, dtype=np.float64)
            values = values[np.isfinite(values)]
            return float(values.mean()) if values.size else float("nan")

        out = np.full((len(self.config.lambda_g), len(self.config.lambda_d)), np.nan)
        for i, g in enumerate(self.config.lambda_g):
            for j, d in enumerate(self.config.lambda_d):
                if self.config.diagonal and i != j:
                    continue
                curves = [r.curves.get(metric, np.array([])) for r in self.records_at(g, d)]
                if min(len(c) for c in curves) < 2 * n:
                    continue
                last = finite_mean([finite_mean(c[-n:]) for c in curves])
                before = finite_mean([finite_mean(c[-2 * n:-n]) for c in curves])
                out[i, j] = abs(last - before)
        return out


def run_sweep(
    sweep: SweepConfig,
    cache_dir: str | Path | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    max_batch: int | None = None,
    classifier=None,
    train_missing: bool = True,
    members: Sequence[TrainConfig] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
) -> SweepResult:
    """Train every run of ``sweep`` that is not cached yet, then load them all.

    Runs are trained in batches of at most ``max_batch`` members; each batch's runs are
    written as soon as it finishes, so an interrupted sweep loses at most one batch. By
    default the batches run here, one after another; with ``workers`` or ``scheduler`` they
    run as tasks on a Dask cluster (``engine.run_tasks``), each worker loading the data set
    by name, and this process writes each batch's records as it arrives. A batch's records
    do not depend on where it ran (same ``max_batch``, same records, bit for bit).

    Args:
        sweep: the grid.
        cache_dir: where run files live; default ``default_sweep_cache_dir()``.
        device: where to train (on the workers too, when a cluster is used).
        progress: show progress bars (with a cluster: one bar over batches).
        max_batch: members per batched model (None: all missing runs at once).
        classifier: a ``classifier.TrainedClassifier`` for image metrics (None: loaded or trained
            with the default config when the data set is an image set); sent to the workers.
        train_missing: when False, missing runs raise instead of being trained.
        members: an explicit list of runs instead of the whole grid (an irregular set, such as
            shipped runs being re-made): each is ``sweep.base`` with its own λ_G, λ_D and seed.
            None: ``sweep.members()``.
        workers: train on a local Dask cluster of this many single-threaded worker processes
            (a script that uses it needs the ``if __name__ == "__main__":`` guard: workers are
            started with ``spawn``, which imports the main script again).
        scheduler: train on the running Dask cluster at this address (``"tcp://host:8786"``;
            its workers need this package, the same version). Excludes ``workers``.

    Returns:
        A ``SweepResult`` with every run's record (the ``members`` given, in order, if any).

    Raises:
        ValueError: for missing runs with ``train_missing=False``, a bad ``workers`` or
            ``scheduler`` (both given, workers < 1), a scheduler that cannot be reached, or a
            member that differs from ``sweep.base`` in more than λ_G, λ_D and seed.
    """
    check_engine(workers, scheduler)
    if max_batch is not None:
        max_batch = positive_int(max_batch, "max_batch")
    cache_dir = Path(cache_dir) if cache_dir is not None else default_sweep_cache_dir()
    start = time.perf_counter()
    members = sweep.members() if members is None else _check_members(members, sweep)
    scorer = scoring_classifier_hash(sweep.base.dataset, classifier)  # None for 2-D data
    paths = [run_path(m, sweep, cache_dir, scorer) for m in members]
    keys = [run_key(m, sweep, scorer) for m in members]
    tried = [_try_load(p, k, scorer) for p, k in zip(paths, keys, strict=True)]
    loaded = [r for r, _ in tried]
    missing = [i for i, r in enumerate(loaded) if r is None]
    if missing and not train_missing:
        why = "; ".join(tried[i][1] for i in missing[:3]) + ("; ..." if len(missing) > 3 else "")
        raise ValueError(f"{len(missing)} of {len(members)} runs are not in {cache_dir / sweep.base.dataset}: {why}")
    if missing:
        name = sweep.base.dataset
        if classifier is None and not dataset_facts(name).is_2d:
            classifier = load_or_train_classifier(ClassifierConfig.preset(name))
        size = len(missing) if max_batch is None else max_batch
        chunks = [missing[i:i + size] for i in range(0, len(missing), size)]

        def save(n: int, records: list[RunRecord]) -> None:
            for i, rec in zip(chunks[n], records, strict=True):
                save_record(rec, paths[i])
                # read back: a fresh result then equals the same sweep loaded later (the file
                # stores samples and surfaces in float16, images in 8 bits)
                loaded[i] = load_record(paths[i], keys[i])

        if workers is None and scheduler is None:
            data = load_dataset(name)
            for n, chunk in enumerate(tqdm(chunks, disable=not progress or len(chunks) == 1, desc="batches")):
                with subnormals_flushed():  # as on a worker: the same records wherever a batch runs
                    records = train_chunk([members[i] for i in chunk], sweep, data, device, classifier, progress,
                                          desc=f"{name} batch {n + 1}")
                save(n, records)
        else:
            tasks = [([members[i] for i in chunk], sweep, device, classifier) for chunk in chunks]
            run_tasks(_train_chunk_by_name, tasks, save, workers=workers, scheduler=scheduler,
                      progress=progress, desc=f"{name} batches")
    return SweepResult(sweep, loaded, trained=len(missing), wall_time_s=time.perf_counter() - start)


def _check_members(members: Sequence[TrainConfig], sweep: SweepConfig) -> list[TrainConfig]:
    members = list(members)
    if not members:
        raise ValueError("members is empty: give at least one run (or None for the whole grid)")
    for m in members:
        if not isinstance(m, TrainConfig):
            raise ValueError(f"members must be TrainConfigs, got {type(m).__name__}")
        if m.replace(lambda_g=sweep.base.lambda_g, lambda_d=sweep.base.lambda_d, seed=sweep.base.seed) != sweep.base:
            raise ValueError(f"member (lambda_g={m.lambda_g}, lambda_d={m.lambda_d}, seed={m.seed}) differs from "
                             "the sweep's base config in more than lambda_g, lambda_d and seed")
    return members


@functools.lru_cache(maxsize=1)
def _dataset(name: str) -> Mixture | ImageDataset:
    """A data set loaded once per (worker) process."""
    return load_dataset(name)


def _train_chunk_by_name(members: Sequence[TrainConfig], sweep: SweepConfig, device: torch.device | str,
                         classifier) -> list[RunRecord]:
    """``train_chunk`` as a cluster task: the worker loads the data set by name.

    The name, not the data, travels: a worker needs no file from this machine, the data is
    exactly what the serial path loads, and a restarted worker just loads it again
    (stacked_mnist is 94 MB pickled, loaded in ~2 s).
    """
    return train_chunk(members, sweep, _dataset(sweep.base.dataset), device, classifier)


def train_chunk(members: Sequence[TrainConfig], sweep: SweepConfig, data: Mixture | ImageDataset,
                device: torch.device | str = "cpu", classifier=None, progress: bool = False,
                desc: str = "batch") -> list[RunRecord]:
    """Train one batch of a sweep's runs as one batched model and evaluate them; writes nothing.

    Args:
        members: the batch's runs (from ``sweep.members()``).
        sweep: their sweep (what a record stores: ``eval_last``, ``n_stored_samples``).
        data: the data set.
        device: where to train.
        classifier: a ``classifier.TrainedClassifier`` for image metrics, or None.
        progress: show a progress bar.
        desc: the bar's label.

    Returns:
        One ``RunRecord`` per member, in order.
    """
    points = None
    if sweep.snapshots and isinstance(data, Mixture):
        points = surface_points(surface_extent(data), SNAPSHOT_RES)
    # D read on training and held-out images at every evaluation, on data sets that have them
    # (only those: every other run trains and records exactly as before)
    runs = train_batched(members, data, device, progress, desc=desc, surface_points=points,
                         probe_images=overfitting_probes(data))
    records = []
    for j, (cfg, hist) in enumerate(zip(members, runs.histories, strict=True)):
        surface, extent = None, None
        if isinstance(data, Mixture) and hist.samples and not hist.diverged:
            extent = surface_extent(data)
            surface = decision_surface(cfg, runs.member_state("d", j), extent)
        records.append(_to_record(cfg, sweep, hist, data, surface, extent, classifier,
                                  runs.surfaces[j] if points is not None else None))
    return records


def load_sweep(
    sweep: SweepConfig,
    fallback: SweepConfig | None = None,
    cache_dir: str | Path | None = None,
    train_missing_fallback: bool = True,
    classifier=None,
    progress: bool = False,
) -> tuple[SweepResult, str]:
    """Load a sweep that ships with the package, else from the cache, else a (smaller) fallback.

    The order: ``sweep`` shipped, ``sweep`` in ``cache_dir``, then ``fallback`` shipped,
    ``fallback`` in ``cache_dir``, and last ``fallback`` trained into ``cache_dir``. Only the
    fallback is ever trained (the full sweeps take hours). ``result.config`` says which sweep
    was loaded.

    Args:
        sweep: the sweep wanted (usually ``SweepConfig.default(name)``).
        fallback: what to use when ``sweep`` is not found (usually the quick preset); None: none.
        cache_dir: the user's cache; default ``default_sweep_cache_dir()``.
        train_missing_fallback: train the fallback's missing runs (False: raise instead).
        classifier: passed to ``run_sweep`` when the fallback is trained (image sets).
        progress: show progress bars while training.

    Returns:
        ``(result, source)``, source ``"shipped"``, ``"cache"`` or ``"trained"``.

    Raises:
        ValueError: if a config is not a ``SweepConfig``, or nothing could be loaded or trained.
    """
    for name, cfg in (("sweep", sweep), ("fallback", fallback)):
        if not isinstance(cfg, SweepConfig) and not (name == "fallback" and cfg is None):
            raise ValueError(f"{name} must be a SweepConfig{' or None' * (name == 'fallback')}, "
                             f"got {type(cfg).__name__}")
    cache_dir = Path(cache_dir) if cache_dir is not None else default_sweep_cache_dir()
    folders = (("shipped", shipped_results_dir()), ("cache", cache_dir))
    for cfg in (sweep,) if fallback is None else (sweep, fallback):
        for source, folder in folders:
            try:
                return run_sweep(cfg, folder, progress=progress, train_missing=False), source
            except ValueError:
                continue  # not (all) there
    if fallback is None or not train_missing_fallback:
        where = f"{shipped_results_dir()} (shipped) or {cache_dir} (cache)"
        if fallback is None:
            raise ValueError(f"the sweep is not complete in {where}, and there is no fallback")
        raise ValueError(f"neither the sweep nor its fallback is complete in {where}, and "
                         "train_missing_fallback=False forbids training the fallback")
    return run_sweep(fallback, cache_dir, progress=progress, classifier=classifier), "trained"


def point_sweep(sweep: SweepConfig, lambda_g: float, lambda_d: float, seed: int,
                steps: int | None = None) -> SweepConfig:
    """One (λ_G, λ_D, seed) run on a sweep's base config, ``steps`` long (e.g. a point off its grid).

    The logging and evaluation intervals are scaled with the steps, so the run logs as many
    rows and evaluates as many times as the sweep's runs; ``eval_last`` and
    ``n_stored_samples`` are the sweep's.

    Args:
        sweep: the sweep whose base config the run shares.
        lambda_g, lambda_d: the penalties, ≥ 0 (any value, not only grid values).
        seed: the run's seed, an integer ≥ 0.
        steps: training steps, ≥ 1 (None: the sweep's own).

    Returns:
        A one-member ``SweepConfig`` (train or load it with ``run_sweep``).

    Raises:
        ValueError: for a negative or non-finite λ, a seed that is not an integer ≥ 0, or
            steps that are not a positive integer.
    """
    lambda_g, lambda_d = validate_coef(lambda_g, "lambda_g"), validate_coef(lambda_d, "lambda_d")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    base = sweep.base
    steps = base.steps if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    steps = int(steps)
    scale = steps / base.steps  # keep the number of logged rows and evaluations
    base = base.replace(steps=steps, log_every=max(1, round(base.log_every * scale)),
                        eval_every=max(1, min(steps, round(base.eval_every * scale))))
    return SweepConfig(base, lambda_g=(lambda_g,), lambda_d=(lambda_d,), seeds=(int(seed),),
                       eval_last=sweep.eval_last, n_stored_samples=sweep.n_stored_samples, snapshots=sweep.snapshots)


# ---------------------------------------------------------------------------------------------
# Paired effects: a cell against a baseline cell, seed by seed
# ---------------------------------------------------------------------------------------------


def _cell_index(result: SweepResult, cell: tuple[float, float], what: str) -> tuple[int, int]:
    """The (row, column) of a (λ_G, λ_D) cell that has runs in ``result``, else a ValueError."""
    try:
        g, d = (float(v) for v in cell)
    except (TypeError, ValueError):
        raise ValueError(f"{what} cell must be a (lambda_g, lambda_d) pair, got {cell!r}") from None
    cfg = result.config
    rows = [i for i, v in enumerate(cfg.lambda_g) if math.isclose(v, g, rel_tol=1e-9, abs_tol=0.0)]
    cols = [j for j, v in enumerate(cfg.lambda_d) if math.isclose(v, d, rel_tol=1e-9, abs_tol=0.0)]
    if not rows or not cols or (cfg.diagonal and rows[0] != cols[0]):
        kind = "the diagonal of" if cfg.diagonal else "the grid"
        raise ValueError(f"{what} cell (lambda_g, lambda_d) = ({g:g}, {d:g}) is not in {kind} "
                         f"lambda_g {cfg.lambda_g} x lambda_d {cfg.lambda_d}")
    return rows[0], cols[0]


def _direction(result: SweepResult, metric: str) -> bool | None:
    """A metric's better direction from ``evaluate.METRICS`` (None for logged scalars), checking the key."""
    summary_keys = set().union(*(r.summary for r in result.records))
    if metric not in summary_keys and metric not in SCALAR_KEYS:
        raise ValueError(f"unknown metric {metric!r}; summary metrics: {', '.join(sorted(summary_keys))}; "
                         f"logged scalars: {', '.join(SCALAR_KEYS)}")
    return METRICS[metric].higher_is_better if metric in METRICS else None


def _check_pairable(result: SweepResult, baseline_result: SweepResult) -> None:
    for name, r in (("result", result), ("baseline_result", baseline_result)):
        if not isinstance(r, SweepResult):
            raise ValueError(f"{name} must be a SweepResult, got {type(r).__name__}")
    a, b = result.config.base.dataset, baseline_result.config.base.dataset
    if a != b:
        raise ValueError(f"cannot pair runs on {a} with runs on {b}: the data sets differ")
    if not set(result.config.seeds) & set(baseline_result.config.seeds):
        raise ValueError(f"no common seeds: the sweep has seeds {list(result.config.seeds)}, "
                         f"the baseline's sweep {list(baseline_result.config.seeds)}")


def cell_effect(result: SweepResult, metric: str, cell: tuple[float, float],
                baseline: tuple[float, float] = (0.0, 0.0), baseline_result: SweepResult | None = None,
                last: int = 1, confidence: float = 0.95, n_resamples: int = 9999,
                rng: int | np.random.Generator = 0, method: str = "BCa") -> PairedEffect:
    """The effect of one (λ_G, λ_D) cell against a baseline cell, paired by seed.

    The baseline cell may live in another sweep with the same seeds: a null control pairs
    a λ_G = λ_D = 1e-8 sweep's cell with the main grid's λ = 0 cell and so measures how far
    seed-to-seed luck alone moves a metric.

    Args:
        result: the sweep holding ``cell``.
        metric: a summary metric (direction from ``evaluate.METRICS``) or a logged scalar
            (no direction: verdicts "higher" / "lower").
        cell: the condition's (λ_G, λ_D).
        baseline: the baseline's (λ_G, λ_D).
        baseline_result: the sweep holding ``baseline``; None: ``result``.
        last: for a logged scalar, the mean over its last ``last`` logs (see ``seed_values``).
        confidence, n_resamples, rng, method: the bootstrap's (see ``metrics.bootstrap_mean_interval``).

    Returns:
        A ``metrics.PairedEffect`` (seeds missing or NaN in either cell are dropped and listed).

    Raises:
        ValueError: for an unknown metric, a cell or baseline not in its grid, sweeps on
            different data sets or without a common seed, or fewer than 2 pairs.
    """
    baseline_result = result if baseline_result is None else baseline_result
    _check_pairable(result, baseline_result)
    higher_is_better = _direction(result, metric)
    _direction(baseline_result, metric)
    i, j = _cell_index(result, cell, "the")
    bi, bj = _cell_index(baseline_result, baseline, "the baseline")
    values = result.values_by_seed(metric, result.config.lambda_g[i], result.config.lambda_d[j], last)
    base = baseline_result.values_by_seed(metric, baseline_result.config.lambda_g[bi],
                                          baseline_result.config.lambda_d[bj], last)
    return paired_effect(values, base, higher_is_better, confidence, n_resamples, rng, method)


def plateau_effect(result: SweepResult, metric: str, cell: tuple[float, float] = (0.0, 0.0),
                   window: int | None = None, confidence: float = 0.95, n_resamples: int = 9999,
                   rng: int | np.random.Generator = 0, method: str = "BCa") -> PairedEffect:
    """Is a cell still moving? Its last window of evaluations against the window before, paired by seed.

    Each seed's value is its curve's mean over the last ``window`` evaluations (what the maps
    show) minus the mean over the ``window`` before them. An interval that contains 0 says the
    cell has levelled off as far as its seeds can tell; one that excludes 0 says it is still
    moving (its verdict says in which direction, as for any effect).

    Args:
        result: the sweep.
        metric: a key of the records' ``curves`` (direction from ``evaluate.METRICS``).
        cell: the (λ_G, λ_D) cell, by default the unpenalized baseline.
        window: evaluations per window; None: the sweep's ``eval_last``.
        confidence, n_resamples, rng, method: the bootstrap's (see ``metrics.bootstrap_mean_interval``).

    Returns:
        A ``metrics.PairedEffect`` of (last window − window before); a seed whose run stopped
        (diverged) before two windows, or whose windows hold no finite value, is dropped.

    Raises:
        ValueError: for a metric without curves, a cell not in the grid, a window < 1, or fewer
            than 2 seeds with both windows.
    """
    window = result.config.eval_last if window is None else positive_int(window, "window")
    if metric not in set().union(*(r.curves for r in result.records)):
        raise ValueError(f"{metric!r} has no curves in this sweep; curves: "
                         f"{', '.join(sorted(set().union(*(r.curves for r in result.records))))}")
    i, j = _cell_index(result, cell, "the")
    g, d = result.config.lambda_g[i], result.config.lambda_d[j]
    late, early = {}, {}
    for rec in result.records_at(g, d):
        c = rec.curves.get(metric, np.array([]))
        if len(c) >= 2 * window and np.isfinite(c[-window:]).any() and np.isfinite(c[-2 * window:-window]).any():
            late[rec.config.seed] = float(np.nanmean(c[-window:]))
            early[rec.config.seed] = float(np.nanmean(c[-2 * window:-window]))
        else:  # listed among the dropped seeds of the effect
            late[rec.config.seed] = float("nan")
    if len(early) < 2:
        n_evals = max(len(r.eval_steps) for r in result.records_at(g, d))
        raise ValueError(f"fewer than 2 seeds at λ_G = {g:g}, λ_D = {d:g} have two windows of {window} "
                         f"evaluations with values ({n_evals} evaluations per run)")
    return paired_effect(late, early, _direction(result, metric), confidence, n_resamples, rng, method)


#: D's decision surface counts as flat (D dead: it says the same everywhere) below this range.
DEAD_SURFACE_RANGE = 1e-3


def dead_d_fraction(result: SweepResult, tol: float = DEAD_SURFACE_RANGE) -> np.ndarray:
    """Share of seeds per grid cell whose discriminator ended dead: a flat decision surface.

    A dead D (notebook 03's w = 0 minimum of the penalized loss) gives G no gradient, so G freezes;
    its metrics then look steady and sometimes "better" for the wrong reason. The maps mark it.

    Args:
        result: a sweep of 2-D data (records with ``surface``, D(x) on the plotting grid).
        tol: the largest max − min of D's final surface that still counts as flat.

    Returns:
        Shape (len(lambda_g), len(lambda_d)): the share of a cell's seeds with a flat surface;
        NaN for a cell without surfaces (image data, diverged runs, or a diagonal's empty cells).

    Raises:
        ValueError: for a negative ``tol``.
    """
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0 (a range of D(x)), got {tol!r}")
    lg, ld = result.config.lambda_g, result.config.lambda_d
    out = np.full((len(lg), len(ld)), np.nan)
    for i, g in enumerate(lg):
        for j, d in enumerate(ld):
            flat = [float(np.ptp(r.surface)) < tol for r in result.records_at(g, d) if r.surface is not None
                    and np.size(r.surface)]
            if flat:
                out[i, j] = float(np.mean(flat))
    return out


#: A run whose generator covers at most this many modes (classes, triples) has collapsed.
COLLAPSED_MODES = 1


def collapsed_fraction(result: SweepResult, most: float = COLLAPSED_MODES) -> np.ndarray:
    """Share of seeds per grid cell whose generator ended collapsed: at most ``most`` modes covered.

    A collapsed G puts its samples precisely on one mode, so its high-quality fraction is high
    and a map where bright means good would reward it; the maps mark it. A run's coverage is its
    reported value (``evaluate.coverage_key``: modes, or digit classes), the mean over the last
    evaluations, so "≤ 1" means at most one mode hit on average (0: no sample on any mode).

    Args:
        result: a sweep.
        most: the largest coverage that still counts as collapsed.

    Returns:
        Shape (len(lambda_g), len(lambda_d)): the share of a cell's seeds with coverage ≤ ``most``;
        NaN for a cell without a coverage value (a diagonal's empty cells, diverged runs).

    Raises:
        ValueError: for a negative or NaN ``most``.
    """
    if not most >= 0:
        raise ValueError(f"most must be >= 0 (a number of modes), got {most!r}")
    key = coverage_key(result.config.base.dataset)
    lg, ld = result.config.lambda_g, result.config.lambda_d
    cells: dict[tuple[int, int], list[bool]] = {}
    for r in result.records:  # by record, not by cell: a diagonal sweep has no off-diagonal runs
        v = float(r.summary.get(key, np.nan))
        if np.isfinite(v):
            cell = tuple(next(k for k, x in enumerate(axis) if math.isclose(x, lam))
                         for axis, lam in ((lg, r.config.lambda_g), (ld, r.config.lambda_d)))
            cells.setdefault(cell, []).append(v <= most)
    out = np.full((len(lg), len(ld)), np.nan)
    for (i, j), hits in cells.items():
        out[i, j] = float(np.mean(hits))
    return out


@dataclass(frozen=True, eq=False)
class EffectGrid:
    """The paired effects of every cell of a sweep against one baseline cell, shaped like its map.

    Attributes:
        metric: the metric.
        baseline: the baseline's (λ_G, λ_D).
        baseline_index: the baseline's (row, column) in this grid when it is one of its own
            cells (its effect is 0 by construction), else None (a baseline from another sweep).
        lambda_g, lambda_d: the grid's λ values (rows, columns).
        mean, low, high: the mean per-seed difference and its interval, shape
            (len(lambda_g), len(lambda_d)); NaN where a cell has no run or fewer than 2 pairs.
        verdict: ``metrics.VERDICTS`` per cell, same shape; "" where there is no effect.
        n: pairs per cell, same shape (0 where there is no run).
        effects: every computed ``PairedEffect`` by (λ_G, λ_D).
    """

    metric: str
    baseline: tuple[float, float]
    baseline_index: tuple[int, int] | None
    lambda_g: tuple[float, ...]
    lambda_d: tuple[float, ...]
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    verdict: np.ndarray
    n: np.ndarray
    effects: dict[tuple[float, float], PairedEffect]

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.lambda_g), len(self.lambda_d))


def effect_grid(result: SweepResult, metric: str, baseline: tuple[float, float] = (0.0, 0.0),
                baseline_result: SweepResult | None = None, last: int = 1, confidence: float = 0.95,
                n_resamples: int = 9999, rng: int | np.random.Generator = 0, method: str = "BCa") -> EffectGrid:
    """``cell_effect`` of every cell of a sweep against one baseline cell (default λ_G = λ_D = 0).

    Every cell's bootstrap starts from the same ``rng`` seed (an integer), so a cell's
    interval does not depend on which other cells were computed.

    Args:
        result: the sweep.
        metric, baseline, baseline_result, last, confidence, n_resamples, method: as in ``cell_effect``.
        rng: an integer seed (one fresh generator per cell) or a ``np.random.Generator``
            (advanced cell by cell, λ_G-major).

    Returns:
        An ``EffectGrid``; cells with fewer than 2 pairs (e.g. every seed NaN) get NaN and "".

    Raises:
        ValueError: for an unknown metric, a baseline not in its grid, or sweeps on different
            data sets or without a common seed.
    """
    baseline_result = result if baseline_result is None else baseline_result
    _check_pairable(result, baseline_result)
    higher_is_better = _direction(result, metric)
    _direction(baseline_result, metric)
    bi, bj = _cell_index(baseline_result, baseline, "the baseline")
    bcfg = baseline_result.config
    base = baseline_result.values_by_seed(metric, bcfg.lambda_g[bi], bcfg.lambda_d[bj], last)
    cfg = result.config
    shape = (len(cfg.lambda_g), len(cfg.lambda_d))
    mean, low, high = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    verdict, n = np.full(shape, "", dtype=object), np.zeros(shape, dtype=np.int64)
    effects = {}
    for i, g in enumerate(cfg.lambda_g):
        for j, d in enumerate(cfg.lambda_d):
            if cfg.diagonal and i != j:
                continue  # no run off the diagonal
            values = result.values_by_seed(metric, g, d, last)
            seeds, _, _ = pair_by_seed(values, base)
            n[i, j] = len(seeds)
            if len(seeds) < 2:
                continue
            eff = paired_effect(values, base, higher_is_better, confidence, n_resamples, rng, method)
            mean[i, j], low[i, j], high[i, j], verdict[i, j] = eff.mean, eff.low, eff.high, eff.verdict
            effects[(g, d)] = eff
    own = (bi, bj) if baseline_result is result else None
    return EffectGrid(metric=metric, baseline=(float(bcfg.lambda_g[bi]), float(bcfg.lambda_d[bj])),
                      baseline_index=own, lambda_g=cfg.lambda_g, lambda_d=cfg.lambda_d, mean=mean, low=low,
                      high=high, verdict=verdict, n=n, effects=effects)
