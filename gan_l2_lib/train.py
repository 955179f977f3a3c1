"""Train a (G, D) pair with the L2-regularized GAN losses; returns plain data.

One step is the source article's alternation: a discriminator step on a real and a fake
batch, then a generator step on a fresh noise batch. L2 penalties (``lambda_g``/``lambda_d``)
are added to the losses; decoupled weight decay (``weight_decay_g``/``weight_decay_d``, AdamW)
is a separate mechanism and off by default. D's regularizer can instead be the R1 gradient
penalty or spectral normalization (``d_regularizer``).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .checks import nonnegative_int, positive_float, positive_int
from .data import DATASET_NAMES, MIXTURE_NAMES, ImageDataset, Mixture, load_dataset
from .files import atomic_torch_save, stable_hash
from .losses import GEN_LOSS_CHOICES, regularized_discriminator_loss, regularized_generator_loss
from .models import MLPDiscriminator, MLPGenerator, ToyDiscriminator, ToyGenerator
from .regularizers import (
    D_REGULARIZER_CHOICES,
    PENALIZE_CHOICES,
    l2_penalty,
    select_parameters,
    spectral_normalize,
    validate_coef,
)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run. Defaults are the source article's setup.

    Attributes:
        dataset: a name from ``data.DATASET_NAMES``.
        steps: number of (D step, G step) pairs.
        batch_size: real and fake batch size.
        latent_dim: size of z.
        lr_g, lr_d: Adam learning rates.
        betas: Adam's (β₁, β₂).
        lambda_g, lambda_d: L2 penalty coefficients λ_G, λ_D (added to the losses).
        d_regularizer: what regularizes D, one of ``regularizers.D_REGULARIZER_CHOICES``:
            ``"l2"`` (λ_D Σ w², strength ``lambda_d``), ``"r1"`` (the gradient penalty
            (γ/2)·E‖∇ₓ D(x)‖² on real data, strength ``r1_gamma``) or ``"spectral_norm"``
            (torch's spectral norm on every D layer, no strength). The strength of a regularizer
            not chosen must be 0.
        r1_gamma: γ of the R1 penalty (``d_regularizer="r1"``); 0 = none.
        penalize: which parameters the penalty and the decay cover, ``"all"`` or ``"weights"``
            (``regularizers.is_penalized``).
        weight_decay_g, weight_decay_d: decoupled (AdamW) decay rates, 0 = plain Adam.
        gen_loss: ``"nonsaturating"`` (the article's) or ``"minimax"``.
        halve_d_loss: reproduce the article's (real + fake) / 2.
        toy_hidden: hidden width of the 2-D MLPs (mixtures only).
        log_every: record scalars every this many steps.
        eval_every: keep samples from the fixed noise batch every this many steps.
        n_eval_samples: size of the fixed noise batch.
        seed: seeds model init, data draws and noise.
    """

    dataset: str = "mnist5k"
    steps: int = 10_000
    batch_size: int = 64
    latent_dim: int = 100
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    lambda_g: float = 0.0
    lambda_d: float = 0.0
    d_regularizer: str = "l2"
    r1_gamma: float = 0.0
    penalize: str = "all"
    weight_decay_g: float = 0.0
    weight_decay_d: float = 0.0
    gen_loss: str = "nonsaturating"
    halve_d_loss: bool = False
    toy_hidden: int = 128
    log_every: int = 50
    eval_every: int = 1000
    n_eval_samples: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.dataset not in DATASET_NAMES:
            raise ValueError(f"unknown data set {self.dataset!r}; valid names are: {', '.join(DATASET_NAMES)}")
        for name in ("steps", "batch_size", "latent_dim", "toy_hidden", "log_every", "eval_every", "n_eval_samples"):
            object.__setattr__(self, name, positive_int(getattr(self, name), name))
        for name in ("lambda_g", "lambda_d", "r1_gamma", "weight_decay_g", "weight_decay_d"):
            validate_coef(getattr(self, name), name)
        if self.d_regularizer not in D_REGULARIZER_CHOICES:
            raise ValueError(f"d_regularizer must be one of {D_REGULARIZER_CHOICES}, got {self.d_regularizer!r}")
        for name, owner in (("lambda_d", "l2"), ("r1_gamma", "r1")):
            if getattr(self, name) != 0 and self.d_regularizer != owner:
                raise ValueError(f"{name} is the strength of d_regularizer={owner!r}; with "
                                 f"d_regularizer={self.d_regularizer!r} it must be 0, got {getattr(self, name)!r}")
        for name in ("lr_g", "lr_d"):
            positive_float(getattr(self, name), name)
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        if self.penalize not in PENALIZE_CHOICES:
            raise ValueError(f"penalize must be one of {PENALIZE_CHOICES}, got {self.penalize!r}")
        if self.gen_loss not in GEN_LOSS_CHOICES:
            raise ValueError(f"gen_loss must be one of {GEN_LOSS_CHOICES}, got {self.gen_loss!r}")
        object.__setattr__(self, "seed", nonnegative_int(self.seed, "seed"))
        # tuples survive JSON as lists; normalise so equal configs compare and hash equal
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))

    @classmethod
    def preset(cls, dataset: str = "mnist5k", quick: bool = False, **overrides) -> TrainConfig:
        """A sensible config for ``dataset``; ``quick=True`` makes a CI-sized run.

        Image sets use the source article's setup (batch 64, latent 100, Adam 2e-4). The 2-D
        mixtures use the same optimizer with small MLPs, batch 256 and latent 8.
        """
        if dataset in MIXTURE_NAMES:
            base = dict(dataset=dataset, steps=20_000, batch_size=256, latent_dim=8,
                        log_every=50, eval_every=1000, n_eval_samples=2500)
            if quick:
                base.update(steps=1000, eval_every=250, log_every=10)
        else:
            base = dict(dataset=dataset, steps=10_000, log_every=50, eval_every=1000, n_eval_samples=64)
            if quick:
                base.update(steps=300, eval_every=100, log_every=10)
        base.update(overrides)
        return cls(**base)

    @classmethod
    def quick(cls, dataset: str = "mnist5k", **overrides) -> TrainConfig:
        """The CI-sized preset for ``dataset`` (a few hundred to a thousand steps)."""
        return cls.preset(dataset, quick=True, **overrides)

    def replace(self, **changes) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain JSON-able dict of the fields; those of ``OMITTED_AT_DEFAULT`` only when not at their defaults."""
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        for name, default in OMITTED_AT_DEFAULT.items():
            if d[name] == default:
                del d[name]  # so the dict, the config hash and every run key stay as before the field existed
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """The config of a ``to_dict`` dict (a field it leaves out takes its default)."""
        d = dict(d)
        d["betas"] = tuple(d["betas"])
        return cls(**d)

    def config_hash(self) -> str:
        """Short stable hash of the config (for cache keys)."""
        return stable_hash(self.to_dict(), 16)


#: Fields added after run keys were first shipped: ``to_dict`` leaves them out while they hold
#: these defaults, so every earlier config keeps its dict, hash and run key.
OMITTED_AT_DEFAULT = {"d_regularizer": "l2", "r1_gamma": 0.0}


def pick_device(prefer_cuda: bool = True) -> torch.device:
    """``cuda`` when available and wanted, else ``cpu``. Call once and pass the result down."""
    return torch.device("cuda" if prefer_cuda and torch.cuda.is_available() else "cpu")


def build_models(cfg: TrainConfig, img_shape: tuple[int, int, int] | None = None) -> tuple[nn.Module, nn.Module]:
    """Make a freshly initialised (G, D) for ``cfg``, seeded by ``cfg.seed``.

    Args:
        cfg: the run config.
        img_shape: (C, H, W) for image data sets; ignored for 2-D mixtures.

    Returns:
        ``(generator, discriminator)`` on the CPU; D's layers carry torch's spectral norm when
        ``cfg.d_regularizer == "spectral_norm"`` (its u, v drawn after the weights, from the same seed).
    """
    # fork_rng keeps model init from touching (or depending on) the caller's global RNG state
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        if cfg.dataset in MIXTURE_NAMES:
            gen_net, disc_net = ToyGenerator(cfg.latent_dim, cfg.toy_hidden), ToyDiscriminator(cfg.toy_hidden)
        elif img_shape is None:
            raise ValueError(f"img_shape is needed to build the networks for image data set {cfg.dataset!r}")
        else:
            gen_net, disc_net = MLPGenerator(cfg.latent_dim, img_shape), MLPDiscriminator(img_shape)
        if cfg.d_regularizer == "spectral_norm":
            spectral_normalize(disc_net)
        return gen_net, disc_net


def make_optimizer(module: nn.Module, lr: float, betas: tuple[float, float], weight_decay: float,
                   penalize: str) -> torch.optim.Optimizer:
    """Adam when ``weight_decay == 0``; AdamW with decoupled decay on the selected tensors otherwise.

    The decayed tensors are those the L2 penalty would cover (``regularizers.is_penalized``).

    Never uses Adam's own ``weight_decay`` argument (that is a coupled L2 term, another mechanism).
    """
    if weight_decay == 0:
        return torch.optim.Adam(module.parameters(), lr=lr, betas=betas)
    params = list(module.parameters())
    decay = select_parameters(params, penalize)
    decay_ids = {id(p) for p in decay}
    no_decay = [p for p in params if id(p) not in decay_ids]
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return torch.optim.AdamW(groups, lr=lr, betas=betas)


def run_generators(seed: int) -> tuple[torch.Generator, torch.Generator, torch.Generator]:
    """The CPU random generators of a run: data draws, training noise, and the fixed evaluation noise.

    Seeded ``seed * 3 + 1``, ``+ 2`` and ``+ 3``, so no two streams of any two seeds coincide.
    ``train_gan`` and ``batched.train_batched`` both draw from these, which is what makes a
    batched member the same run as one trained alone.

    Args:
        seed: the run's seed (``TrainConfig.seed``).

    Returns:
        ``(data_gen, noise_gen, fixed_z_gen)``.
    """
    return tuple(torch.Generator().manual_seed(seed * 3 + i) for i in (1, 2, 3))


SCALAR_KEYS = ("d_loss", "g_loss", "d_penalty", "g_penalty", "grad_norm_d", "grad_norm_g",
               "weight_norm_d", "weight_norm_g", "d_real", "d_fake")


def log_row(
    *, d_loss: Tensor, g_loss: Tensor, d_penalty: Tensor, g_penalty: Tensor, grad_norm_d: Tensor,
    grad_norm_g: Tensor, weight_norm_d: Tensor, weight_norm_g: Tensor, real_logits: Tensor, fake_logits: Tensor,
) -> dict[str, Tensor]:
    """One logged row of a step, keyed by ``SCALAR_KEYS`` (see ``History``), for one run or K members.

    Args:
        d_loss, g_loss: the adversarial losses, shape () for one run or (K,) for K stacked members.
        d_penalty, g_penalty: the added penalties (λΣw², or D's R1 term), same shape.
        grad_norm_d, grad_norm_g: gradient norms of the regularized losses, same shape.
        weight_norm_d, weight_norm_g: ‖w‖ of all of a network's parameters, same shape.
        real_logits, fake_logits: D's logits in the D step, (N,) or (K, N); the row keeps the
            mean probability over the last dimension.

    Returns:
        ``{key: detached tensor}`` in ``SCALAR_KEYS`` order, each of shape () or (K,).
    """
    row = {
        "d_loss": d_loss, "g_loss": g_loss, "d_penalty": d_penalty, "g_penalty": g_penalty,
        "grad_norm_d": grad_norm_d, "grad_norm_g": grad_norm_g,
        "weight_norm_d": weight_norm_d, "weight_norm_g": weight_norm_g,
        "d_real": torch.sigmoid(real_logits).mean(-1), "d_fake": torch.sigmoid(fake_logits).mean(-1),
    }
    return {k: row[k].detach() for k in SCALAR_KEYS}


PROBE_KEYS = ("mean_logit", "mean_prob", "real_accuracy")


@torch.no_grad()
def probe_row(logits: Tensor) -> dict[str, Tensor]:
    """What D says about a fixed set of real images at one evaluation, for one run or K members.

    Args:
        logits: D's logits on the images, (N,) for one run or (K, N) for K stacked members.

    Returns:
        ``{key: tensor}`` in ``PROBE_KEYS`` order, each () or (K,): ``mean_logit`` the mean
        logit, ``mean_prob`` the mean σ(logit) = D(x), ``real_accuracy`` the fraction of
        images with D(x) > 0.5 (called real), all as float64 on the CPU.
    """
    logits = logits.detach().double()
    row = {"mean_logit": logits.mean(-1), "mean_prob": torch.sigmoid(logits).mean(-1),
           "real_accuracy": (logits > 0).double().mean(-1)}
    return {k: row[k].cpu() for k in PROBE_KEYS}


def check_probe_images(probe_images: dict[str, Tensor] | None, data: Mixture | ImageDataset) -> None:
    """Raise unless ``probe_images`` maps names to (N, ...) batches shaped like ``data``'s samples.

    Raises:
        ValueError: for an empty dict, a name that is not a non-empty string, or a batch that
            is empty or not shaped (N, *data's sample shape).
    """
    if probe_images is None:
        return
    if not probe_images:
        raise ValueError("probe_images is empty: give None or at least one named batch of real images")
    shape = (2,) if isinstance(data, Mixture) else tuple(data.img_shape)
    for name, x in probe_images.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"probe_images keys must be non-empty strings, got {name!r}")
        if not isinstance(x, Tensor) or x.dim() != len(shape) + 1 or tuple(x.shape[1:]) != shape or not len(x):
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"probe_images[{name!r}] must have shape (N, {', '.join(map(str, shape))}) "
                             f"with N >= 1, got {got}")


@dataclass
class History:
    """What a run recorded. Plain data: lists of floats and CPU tensors.

    Attributes:
        config: the run's ``TrainConfig.to_dict()``.
        steps: the step (1-based) of each logged row.
        scalars: for each key in ``SCALAR_KEYS`` a list aligned with ``steps``:
            d_loss / g_loss the adversarial losses; d_penalty / g_penalty the added λΣw² (D's
            also the R1 term (γ/2)·E‖∇ₓ D(x)‖² when ``d_regularizer="r1"``);
            grad_norm_* the total gradient norm of the regularized loss; weight_norm_* = ‖w‖;
            d_real / d_fake the mean D(x) and D(G(z)) (probabilities) in the D step.
        sample_steps: the steps at which fixed-noise samples were kept.
        samples: CPU tensors, (n_eval_samples, 2) or (n_eval_samples, C, H, W).
        diverged: True when a NaN/inf stopped the run.
        diverged_step: the step it happened at, else None.
        wall_time_s: seconds spent training.
        probes: D on fixed sets of real images at every evaluation (aligned with
            ``sample_steps``; D in eval mode): ``{probe name: {key: list}}`` for each key in
            ``PROBE_KEYS`` (``probe_row``); empty when the run was given no ``probe_images``.
    """

    config: dict
    steps: list[int] = field(default_factory=list)
    scalars: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in SCALAR_KEYS})
    sample_steps: list[int] = field(default_factory=list)
    samples: list[Tensor] = field(default_factory=list)
    diverged: bool = False
    diverged_step: int | None = None
    wall_time_s: float = 0.0
    probes: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def append_probes(self, rows: dict[str, dict[str, Tensor]], member: int | None = None) -> None:
        """Append one evaluation's ``probe_row`` per probe name (member ``member``'s entry when batched)."""
        for name, row in rows.items():
            curves = self.probes.setdefault(name, {k: [] for k in PROBE_KEYS})
            for k, v in row.items():
                curves[k].append(float(v if member is None else v[member]))

    def probe_array(self, name: str, key: str) -> np.ndarray:
        """One probe curve as a float64 array aligned with ``sample_steps``."""
        if name not in self.probes or key not in PROBE_KEYS:
            raise ValueError(f"no probe curve ({name!r}, {key!r}); probes: {', '.join(self.probes) or 'none'}, "
                             f"keys: {', '.join(PROBE_KEYS)}")
        return np.asarray(self.probes[name][key], dtype=np.float64)

    def array(self, key: str) -> np.ndarray:
        """One logged scalar as a float64 array aligned with ``steps``."""
        if key not in self.scalars:
            raise ValueError(f"unknown key {key!r}; recorded keys are {', '.join(self.scalars)}")
        return np.asarray(self.scalars[key], dtype=np.float64)

    def to_state(self) -> dict:
        """A dict of plain types and tensors that ``torch.load(weights_only=True)`` accepts."""
        state = {
            "config_json": json.dumps(self.config, sort_keys=True),
            "steps": torch.tensor(self.steps, dtype=torch.int64),
            "scalars": {k: torch.tensor(v, dtype=torch.float64) for k, v in self.scalars.items()},
            "sample_steps": torch.tensor(self.sample_steps, dtype=torch.int64),
            "samples": list(self.samples),
            "diverged": self.diverged,
            "diverged_step": -1 if self.diverged_step is None else self.diverged_step,
            "wall_time_s": self.wall_time_s,
        }
        if self.probes:  # only when kept, so a state without probes is as before they existed
            state["probes"] = {n: {k: torch.tensor(v, dtype=torch.float64) for k, v in c.items()}
                               for n, c in self.probes.items()}
        return state

    @classmethod
    def from_state(cls, state: dict) -> History:
        return cls(
            config=json.loads(state["config_json"]),
            steps=state["steps"].tolist(),
            scalars={k: v.tolist() for k, v in state["scalars"].items()},
            sample_steps=state["sample_steps"].tolist(),
            samples=list(state["samples"]),
            diverged=bool(state["diverged"]),
            diverged_step=None if state["diverged_step"] < 0 else int(state["diverged_step"]),
            wall_time_s=float(state["wall_time_s"]),
            probes={n: {k: v.tolist() for k, v in c.items()} for n, c in state.get("probes", {}).items()},
        )


@dataclass
class TrainResult:
    """A finished (or diverged) run: its networks, optimizers and history."""

    generator: nn.Module
    discriminator: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    history: History

    @property
    def config(self) -> TrainConfig:
        return TrainConfig.from_dict(self.history.config)


def _grad_norm(module: nn.Module) -> Tensor:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.sqrt(sum(g.pow(2).sum() for g in grads))


def _all_finite(*values: Tensor) -> bool:
    return bool(torch.isfinite(torch.stack([v.detach().float() for v in values])).all())


def train_gan(
    cfg: TrainConfig,
    data: Mixture | ImageDataset | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    on_log: Callable[[History], None] | None = None,
    on_log_every: int = 0,
    probe_images: dict[str, Tensor] | None = None,
) -> TrainResult:
    """Train a GAN with the L2-regularized losses of ``cfg``.

    Args:
        cfg: the run config (``TrainConfig`` or one of its presets).
        data: the data set; loaded from ``cfg.dataset`` when None (pass it in to reuse it).
        device: where to train; noise and data draws come from CPU generators so a run is
            the same on any device up to floating-point rounding.
        progress: show a tqdm bar.
        on_log: optional callback called with the history every ``on_log_every`` steps
            (e.g. a live plot in a notebook); 0 means only at the end.
        probe_images: named batches of real images (N, C, H, W) or points (N, 2), e.g.
            ``{"train": ..., "held_out": ...}``, on which D (in eval mode) is read at every
            evaluation into ``history.probes`` (``probe_row``); None: not read.

    Returns:
        A ``TrainResult``. A run that hits NaN/inf stops there with ``history.diverged``
        set and ``history.diverged_step`` the step; it does not raise.
    """
    device = torch.device(device)
    if data is None:
        data = load_dataset(cfg.dataset)
    expected_2d = cfg.dataset in MIXTURE_NAMES
    if expected_2d != isinstance(data, Mixture):
        raise ValueError(f"data does not match cfg.dataset={cfg.dataset!r}")
    check_probe_images(probe_images, data)
    data = data.to(device)
    img_shape = None if isinstance(data, Mixture) else data.img_shape
    gen_net, disc_net = build_models(cfg, img_shape)
    gen_net, disc_net = gen_net.to(device), disc_net.to(device)
    opt_g = make_optimizer(gen_net, cfg.lr_g, cfg.betas, cfg.weight_decay_g, cfg.penalize)
    opt_d = make_optimizer(disc_net, cfg.lr_d, cfg.betas, cfg.weight_decay_d, cfg.penalize)

    data_rng, noise_rng, fixed_z_rng = run_generators(cfg.seed)
    fixed_z = torch.randn(cfg.n_eval_samples, cfg.latent_dim, generator=fixed_z_rng).to(device)

    hist = History(config=cfg.to_dict())
    r1 = cfg.d_regularizer == "r1" and cfg.r1_gamma > 0
    start = time.perf_counter()
    bar = tqdm(range(1, cfg.steps + 1), disable=not progress, desc=f"train {cfg.dataset}", leave=False)
    for step in bar:
        # --- discriminator step: real batch vs. a detached fake batch ---
        real = data.sample(cfg.batch_size, data_rng)
        if r1:  # R1 differentiates D's logits with respect to the real batch
            real = real.detach().requires_grad_(True)
        z = torch.randn(cfg.batch_size, cfg.latent_dim, generator=noise_rng).to(device)
        fake = gen_net(z)
        real_logits, fake_logits = disc_net(real), disc_net(fake.detach())
        d_out = regularized_discriminator_loss(real_logits, fake_logits, disc_net, cfg.lambda_d,
                                               cfg.penalize, cfg.halve_d_loss, r1_gamma=cfg.r1_gamma, real=real)
        opt_d.zero_grad(set_to_none=True)
        d_out.total.backward()
        log_now = step % cfg.log_every == 0 or step == 1
        grad_d = _grad_norm(disc_net) if log_now else None
        opt_d.step()

        # --- generator step: fresh noise; D's parameters frozen so no gradient is spent on them ---
        z = torch.randn(cfg.batch_size, cfg.latent_dim, generator=noise_rng).to(device)
        disc_net.requires_grad_(False)
        g_out = regularized_generator_loss(disc_net(gen_net(z)), gen_net, cfg.lambda_g,
                                           cfg.penalize, cfg.gen_loss)
        opt_g.zero_grad(set_to_none=True)
        g_out.total.backward()
        disc_net.requires_grad_(True)
        grad_g = _grad_norm(gen_net) if log_now else None
        opt_g.step()

        if not _all_finite(d_out.total, g_out.total):
            hist.diverged, hist.diverged_step = True, step
            break
        if log_now:
            with torch.no_grad():
                row = log_row(d_loss=d_out.adversarial, g_loss=g_out.adversarial, d_penalty=d_out.penalty,
                              g_penalty=g_out.penalty, grad_norm_d=grad_d, grad_norm_g=grad_g,
                              weight_norm_d=l2_penalty(disc_net).sqrt(), weight_norm_g=l2_penalty(gen_net).sqrt(),
                              real_logits=real_logits, fake_logits=fake_logits)
            values = {k: float(v) for k, v in row.items()}
            if not np.isfinite(list(values.values())).all():
                hist.diverged, hist.diverged_step = True, step
                break
            hist.steps.append(step)
            for k, v in values.items():
                hist.scalars[k].append(v)
            bar.set_postfix(d=f"{values['d_loss']:.3f}", g=f"{values['g_loss']:.3f}", refresh=False)
        if step % cfg.eval_every == 0 or step == cfg.steps:
            hist.sample_steps.append(step)
            hist.samples.append(generate(gen_net, fixed_z))
            if probe_images is not None:
                hist.append_probes({name: probe_row(discriminate(disc_net, x.to(device)))
                                    for name, x in probe_images.items()})
        if on_log is not None and on_log_every > 0 and step % on_log_every == 0:
            on_log(hist)
    bar.close()
    hist.wall_time_s = time.perf_counter() - start
    if on_log is not None:
        on_log(hist)
    return TrainResult(gen_net, disc_net, opt_g, opt_d, hist)


@torch.no_grad()
def generate(generator: nn.Module, z: Tensor) -> Tensor:
    """Samples G(z) in eval mode (BatchNorm uses running statistics), returned on the CPU.

    Args:
        generator: the generator.
        z: noise of shape (N, latent_dim).

    Returns:
        (N, 2) points or (N, C, H, W) images, float32 on the CPU.
    """
    was_training = generator.training
    generator.eval()
    try:
        return generator(z).float().cpu()
    finally:
        generator.train(was_training)


@torch.no_grad()
def discriminate(discriminator: nn.Module, x: Tensor) -> Tensor:
    """D's logits in eval mode (a spectral-normed D reads its u, v without a power iteration).

    Args:
        discriminator: the discriminator.
        x: images (N, C, H, W) or points (N, 2).

    Returns:
        Logits of shape (N,), on ``x``'s device.
    """
    was_training = discriminator.training
    discriminator.eval()
    try:
        return discriminator(x).reshape(len(x))
    finally:
        discriminator.train(was_training)


def save_checkpoint(result: TrainResult, path: str | Path) -> None:
    """Save G, D, both optimizers and the history with ``torch.save`` (tensors and plain types only)."""
    state = {
        "generator": result.generator.state_dict(),
        "discriminator": result.discriminator.state_dict(),
        "opt_g": result.opt_g.state_dict(),
        "opt_d": result.opt_d.state_dict(),
        "history": result.history.to_state(),
        "img_shape": list(getattr(result.generator, "img_shape", ())),
    }
    atomic_torch_save(state, path)  # a reader never sees a half-written checkpoint


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> TrainResult:
    """Load a checkpoint written by ``save_checkpoint`` with ``weights_only=True`` (no pickle code).

    Returns:
        A ``TrainResult`` whose networks and optimizers are rebuilt from the stored config.
    """
    state = torch.load(Path(path), map_location=device, weights_only=True)
    hist = History.from_state(state["history"])
    cfg = TrainConfig.from_dict(hist.config)
    img_shape = tuple(state["img_shape"]) if state["img_shape"] else None
    gen_net, disc_net = build_models(cfg, img_shape)
    gen_net.load_state_dict(state["generator"])
    disc_net.load_state_dict(state["discriminator"])
    gen_net, disc_net = gen_net.to(device), disc_net.to(device)
    opt_g = make_optimizer(gen_net, cfg.lr_g, cfg.betas, cfg.weight_decay_g, cfg.penalize)
    opt_d = make_optimizer(disc_net, cfg.lr_d, cfg.betas, cfg.weight_decay_d, cfg.penalize)
    opt_g.load_state_dict(state["opt_g"])
    opt_d.load_state_dict(state["opt_d"])
    return TrainResult(gen_net, disc_net, opt_g, opt_d, hist)
