"""Train K runs that differ only in their regularizers' strengths and seeds as one batched model.

The runs are *members* of one model (``torch.func``: ``stack_module_state`` +
``functional_call`` + ``vmap``). The optimized loss is the **sum** of the members' losses, so
member k's gradient, and therefore its Adam state, is exactly that of its own run;
``tests/test_batched.py`` checks a member against the same run trained alone with
``train.train_gan``. Both loops share their rules through ``train`` and ``regularizers``: the
seeded generators (``run_generators``), the logged row (``log_row``), which tensors the
penalty and the decay cover (``is_penalized``), the R1 penalty (``r1_penalty``) and the spectral
norm's power iteration (``power_iteration``, here on each member's own u, v buffers).

Members may differ in ``MEMBER_FIELDS``: λ_G, λ_D, R1's γ, AdamW's decay rates and the seed.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn.utils import parametrize
from tqdm.auto import tqdm

from .data import ImageDataset, Mixture, load_dataset
from .losses import discriminator_loss, generator_loss
from .regularizers import (
    SPECTRAL_NORM_ITERATIONS,
    power_iteration,
    r1_penalty,
    select_parameters,
    spectral_norm_prefixes,
    spectral_normalized,
)
from .train import (
    History,
    TrainConfig,
    build_models,
    check_probe_images,
    log_row,
    probe_row,
    run_generators,
)

#: The config fields in which the members of one batch may differ (each is a per-member tensor).
MEMBER_FIELDS = ("lambda_g", "lambda_d", "r1_gamma", "weight_decay_g", "weight_decay_d", "seed")


def _check_batchable(members: Sequence[TrainConfig]) -> TrainConfig:
    """The shared config of ``members``; raises unless they differ only in ``MEMBER_FIELDS``."""
    if not members:
        raise ValueError("no runs to train")
    unset = dict.fromkeys(MEMBER_FIELDS, 0)
    ref = members[0].replace(**unset)
    for m in members:
        if m.replace(**unset) != ref:
            raise ValueError(f"batched runs may differ only in {', '.join(MEMBER_FIELDS)}")
    return members[0]


def per_member_sq_norm(tensors: Sequence[Tensor]) -> Tensor:
    """Σ x² over each member's slice of stacked tensors.

    Args:
        tensors: stacked tensors, each of shape (K, ...).

    Returns:
        Shape (K,); the integer 0 when ``tensors`` is empty.
    """
    return sum(t.pow(2).flatten(1).sum(1) for t in tensors)


@torch.no_grad()
def decay_members(tensors: Sequence[Tensor], lr: float, rates: Tensor) -> None:
    """Decoupled weight decay of K members in place: member k's slice p_k ← p_k·(1 − lr·rate_k).

    This is what ``torch.optim.AdamW`` does to a parameter just before its Adam step, with the
    factor computed in float64 as AdamW computes it from Python floats.

    Args:
        tensors: stacked tensors, each of shape (K, ...).
        lr: the learning rate.
        rates: the members' decay rates, shape (K,).
    """
    factors = 1 - lr * rates.double()
    for t in tensors:
        t.mul_(factors.to(t.dtype).view(-1, *[1] * (t.dim() - 1)))


def _spectral_normed_state(params: dict[str, Tensor], buffers: dict[str, Tensor], prefixes: Sequence[str],
                           training: bool) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """One member's D state with torch's spectral norm applied, for the plain (unparametrized) D.

    In training mode each layer's u, v buffers take ``SPECTRAL_NORM_ITERATIONS`` power
    iterations in place, as torch's parametrization does at every forward pass.

    Args:
        params: parameters by the parametrized D's names (``<layer>.parametrizations.weight.original``).
        buffers: buffers, with each layer's ``<layer>.parametrizations.weight.0._u`` / ``._v``.
        prefixes: the spectral-normed layers (``regularizers.spectral_norm_prefixes``).
        training: run the power iteration.

    Returns:
        ``(params, buffers)`` by the plain D's names: ``<layer>.weight`` = W / σ̂.
    """
    params, buffers = dict(params), dict(buffers)
    for prefix in prefixes:
        weight = params.pop(f"{prefix}.parametrizations.weight.original")
        u = buffers.pop(f"{prefix}.parametrizations.weight.0._u")
        v = buffers.pop(f"{prefix}.parametrizations.weight.0._v")
        if training:
            new_u, new_v = power_iteration(weight, u, v, SPECTRAL_NORM_ITERATIONS)
            with torch.no_grad():
                u.copy_(new_u)
                v.copy_(new_v)
        # clones, as torch's: a later in-place update of the buffers must not reach this graph
        params[f"{prefix}.weight"] = spectral_normalized(weight, u.clone(), v.clone())
    return params, buffers


# ---------------------------------------------------------------------------------------------
# The stacked members and one training step
# ---------------------------------------------------------------------------------------------


@dataclass
class StackedGAN:
    """K members' (G, D) as stacked tensors, their optimizers and their vmapped functions.

    Attributes:
        cfg: the members' shared config (its ``MEMBER_FIELDS`` are member 0's).
        lam_g, lam_d: the members' λ_G and λ_D, shape (K,).
        g_base, d_base: stateless copies of one member's networks on the meta device
            (``functional_call`` needs only their structure); a spectral-normed D's copy is the
            plain network, to which ``v_disc`` passes W / σ̂.
        g_params, g_buffers, d_params, d_buffers: the stacked state, each tensor (K, ...).
        opt_g, opt_d: Adam over the stacked parameters.
        v_gen, v_disc: ``(params, buffers, x) -> out`` vmapped over members: (K, B, ...) → (K, B, ...).
            Like the modules they stand for, in training mode they update buffers in place: G's
            BatchNorm statistics, and a spectral-normed D's u, v (one power iteration per call).
        v_d_loss, v_g_loss: the losses vmapped over members: logits (K, B) → (K,).
        r1_gamma: the members' R1 γ, shape (K,); None when every γ is 0.
        decay_g, decay_d: the members' decoupled decay rates, float64 (K,); None when all are 0.
    """

    cfg: TrainConfig
    lam_g: Tensor
    lam_d: Tensor
    g_base: nn.Module
    d_base: nn.Module
    g_params: dict[str, Tensor]
    g_buffers: dict[str, Tensor]
    d_params: dict[str, Tensor]
    d_buffers: dict[str, Tensor]
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    v_gen: Callable[..., Tensor]
    v_disc: Callable[..., Tensor]
    v_d_loss: Callable[..., Tensor]
    v_g_loss: Callable[..., Tensor]
    r1_gamma: Tensor | None = None
    decay_g: Tensor | None = None
    decay_d: Tensor | None = None


def stack_gans(members: Sequence[TrainConfig], img_shape: tuple[int, int, int] | None = None,
               device: torch.device | str = "cpu") -> StackedGAN:
    """Build every member's (G, D) as ``train.build_models`` does, then stack them.

    Args:
        members: configs that differ only in ``MEMBER_FIELDS``.
        img_shape: (C, H, W) for image data sets; None for 2-D mixtures.
        device: where the stacked state lives.

    Returns:
        A ``StackedGAN`` whose member k starts exactly as ``train_gan(members[k])`` does.
    """
    cfg = _check_batchable(members)
    nets = [build_models(m, img_shape) for m in members]
    gens, discs = [n[0].to(device) for n in nets], [n[1].to(device) for n in nets]
    g_params, g_buffers = stack_module_state(gens)
    d_params, d_buffers = stack_module_state(discs)
    g_base, d_base = copy.deepcopy(gens[0]).to("meta"), copy.deepcopy(discs[0])
    sn_prefixes = spectral_norm_prefixes(d_params)
    for prefix in sn_prefixes:  # the plain D: v_disc hands it the normalized weights
        parametrize.remove_parametrizations(d_base.get_submodule(prefix), "weight")
    d_base = d_base.to("meta")

    def g_fwd(p: dict, b: dict, z: Tensor) -> Tensor:
        return functional_call(g_base, (p, b), (z,))

    def d_fwd(p: dict, b: dict, x: Tensor) -> Tensor:
        if sn_prefixes:
            p, b = _spectral_normed_state(p, b, sn_prefixes, d_base.training)
        return functional_call(d_base, (p, b), (x,))

    def member_tensor(name: str, dtype: torch.dtype | None = None) -> Tensor | None:
        values = [getattr(m, name) for m in members]
        return torch.tensor(values, dtype=dtype, device=device) if any(values) else None

    return StackedGAN(
        cfg=cfg,
        lam_g=torch.tensor([m.lambda_g for m in members], device=device),
        lam_d=torch.tensor([m.lambda_d for m in members], device=device),
        g_base=g_base, d_base=d_base,
        g_params=g_params, g_buffers=g_buffers, d_params=d_params, d_buffers=d_buffers,
        opt_g=torch.optim.Adam(list(g_params.values()), lr=cfg.lr_g, betas=cfg.betas),
        opt_d=torch.optim.Adam(list(d_params.values()), lr=cfg.lr_d, betas=cfg.betas),
        v_gen=vmap(g_fwd), v_disc=vmap(d_fwd),
        v_d_loss=vmap(partial(discriminator_loss, halve=cfg.halve_d_loss)),
        v_g_loss=vmap(partial(generator_loss, gen_loss=cfg.gen_loss)),
        r1_gamma=member_tensor("r1_gamma"),
        decay_g=member_tensor("weight_decay_g", torch.float64),
        decay_d=member_tensor("weight_decay_d", torch.float64),
    )


@dataclass
class StepOutputs:
    """What one batched step computed, per member.

    Attributes:
        d_adv, d_pen, g_adv, g_pen: adversarial losses and added penalties (λΣw², D's also R1), each (K,).
        d_grads, g_grads: the gradients applied, one stacked tensor (K, ...) per parameter.
        real_logits, fake_logits: D's logits in the D step, (K, B).
    """

    d_adv: Tensor
    d_pen: Tensor
    g_adv: Tensor
    g_pen: Tensor
    d_grads: tuple[Tensor, ...]
    g_grads: tuple[Tensor, ...]
    real_logits: Tensor
    fake_logits: Tensor

    def finite(self) -> Tensor:
        """Which members' regularized losses are finite: bool (K,), on the CPU."""
        return (torch.isfinite(self.d_adv + self.d_pen) & torch.isfinite(self.g_adv + self.g_pen)).cpu()


def _apply_step(opt: torch.optim.Optimizer, params: dict[str, Tensor], member_losses: Tensor,
                decay: Tensor | None = None, lr: float = 0.0, penalize: str = "all") -> tuple[Tensor, ...]:
    """Gradient of the **sum** of member losses (K,) w.r.t. the stacked params, then one step.

    Summing keeps each member's gradient its own: member k's slice of the gradient is
    ∂loss_k/∂θ_k, since no other loss depends on θ_k. With ``decay`` (K,), the tensors
    ``penalize`` covers first shrink by the members' decoupled decay (``decay_members``), so
    Adam's step then makes it AdamW's.
    """
    grads = torch.autograd.grad(member_losses.sum(), list(params.values()))
    for p, g in zip(params.values(), grads, strict=True):
        p.grad = g
    if decay is not None:
        decay_members(select_parameters(params.values(), penalize, stacked=True), lr, decay)
    opt.step()
    return grads


def stacked_step(gan: StackedGAN, real: Tensor, z_d: Tensor, z_g: Tensor) -> StepOutputs:
    """One D step then one G step of every member, as one iteration of ``train.train_gan``.

    Args:
        gan: the stacked members (updated in place).
        real: the members' real batches, (K, B, 2) or (K, B, C, H, W).
        z_d: noise of the D step's fake batch, (K, B, latent_dim).
        z_g: fresh noise of the G step, (K, B, latent_dim).

    Returns:
        The step's ``StepOutputs``.
    """
    cfg, penalize = gan.cfg, gan.cfg.penalize
    # --- D step: real batch vs. a detached fake batch; penalty on D's covered tensors, per member's λ_D ---
    if gan.r1_gamma is not None:  # R1 differentiates D's logits with respect to the real batch
        real = real.detach().requires_grad_(True)
    fake = gan.v_gen(gan.g_params, gan.g_buffers, z_d)
    real_logits = gan.v_disc(gan.d_params, gan.d_buffers, real)
    fake_logits = gan.v_disc(gan.d_params, gan.d_buffers, fake.detach())
    d_adv = gan.v_d_loss(real_logits, fake_logits)
    d_pen = gan.lam_d * per_member_sq_norm(select_parameters(gan.d_params.values(), penalize, stacked=True))
    if gan.r1_gamma is not None:
        d_pen = d_pen + r1_penalty(real_logits, real, gan.r1_gamma)
    d_grads = _apply_step(gan.opt_d, gan.d_params, d_adv + d_pen, gan.decay_d, cfg.lr_d, penalize)

    # --- G step: fresh noise, D's parameters held fixed ---
    fake = gan.v_gen(gan.g_params, gan.g_buffers, z_g)
    d_fixed = {n: p.detach() for n, p in gan.d_params.items()}
    g_adv = gan.v_g_loss(gan.v_disc(d_fixed, gan.d_buffers, fake))
    g_pen = gan.lam_g * per_member_sq_norm(select_parameters(gan.g_params.values(), penalize, stacked=True))
    g_grads = _apply_step(gan.opt_g, gan.g_params, g_adv + g_pen, gan.decay_g, cfg.lr_g, penalize)
    return StepOutputs(d_adv, d_pen, g_adv, g_pen, d_grads, g_grads, real_logits, fake_logits)


@torch.no_grad()
def _member_row(gan: StackedGAN, out: StepOutputs) -> dict[str, Tensor]:
    """The step's log row (``train.log_row``), each value (K,)."""
    return log_row(d_loss=out.d_adv, g_loss=out.g_adv, d_penalty=out.d_pen, g_penalty=out.g_pen,
                   grad_norm_d=per_member_sq_norm(out.d_grads).sqrt(),
                   grad_norm_g=per_member_sq_norm(out.g_grads).sqrt(),
                   weight_norm_d=per_member_sq_norm(list(gan.d_params.values())).sqrt(),
                   weight_norm_g=per_member_sq_norm(list(gan.g_params.values())).sqrt(),
                   real_logits=out.real_logits, fake_logits=out.fake_logits)


@torch.no_grad()
def _generate_batched(gan: StackedGAN, z: Tensor) -> Tensor:
    """Members' samples in eval mode (BatchNorm running statistics), on the CPU: (K, N, ...)."""
    gan.g_base.eval()
    try:
        # running statistics are only read in eval mode, so the buffers are not changed
        return gan.v_gen(gan.g_params, gan.g_buffers, z).float().cpu()
    finally:
        gan.g_base.train()


@torch.no_grad()
def _discriminate_batched(gan: StackedGAN, x: Tensor) -> Tensor:
    """Members' D logits on the same inputs, in eval mode: (N, ...) → (K, N), on ``x``'s device.

    As ``train.discriminate`` for one run: a spectral-normed D reads its u, v without a power iteration.
    """
    k = next(iter(gan.d_params.values())).shape[0]
    gan.d_base.eval()
    try:
        logits = gan.v_disc(gan.d_params, gan.d_buffers, x.expand(k, *x.shape))
    finally:
        gan.d_base.train()
    return logits.reshape(k, -1)


def _surface_batched(gan: StackedGAN, points: Tensor) -> Tensor:
    """Members' σ(D(x)) at the same 2-D points, in eval mode, on the CPU: (P, 2) → (K, P)."""
    return torch.sigmoid(_discriminate_batched(gan, points)).float().cpu()


# ---------------------------------------------------------------------------------------------
# Members' random draws and bookkeeping
# ---------------------------------------------------------------------------------------------


class MemberDraws:
    """The members' data batches and noise, drawn from their seeds' ``train.run_generators``.

    Members with the same seed share its draws, so each seed's streams are drawn once and
    indexed per member: member k gets exactly what ``train_gan(members[k])`` draws.

    Attributes:
        fixed_z: the members' fixed evaluation noise, (K, n_eval_samples, latent_dim).
    """

    def __init__(self, members: Sequence[TrainConfig], data: Mixture | ImageDataset, device: torch.device) -> None:
        self.cfg, self.data, self.device = members[0], data, device
        seeds = sorted({m.seed for m in members})
        self.seed_idx = torch.tensor([seeds.index(m.seed) for m in members], device=device)
        data_rngs, noise_rngs, fixed_rngs = zip(*(run_generators(s) for s in seeds), strict=True)
        self.data_rngs, self.noise_rngs = data_rngs, noise_rngs
        self.fixed_z = torch.stack([torch.randn(self.cfg.n_eval_samples, self.cfg.latent_dim, generator=r)
                                    for r in fixed_rngs]).to(device)[self.seed_idx]

    def real(self) -> Tensor:
        """The members' next real batches, (K, B, ...)."""
        return torch.stack([self.data.sample(self.cfg.batch_size, r) for r in self.data_rngs])[self.seed_idx]

    def noise(self) -> Tensor:
        """The members' next noise batches, (K, B, latent_dim)."""
        z = torch.stack([torch.randn(self.cfg.batch_size, self.cfg.latent_dim, generator=r) for r in self.noise_rngs])
        return z.to(self.device)[self.seed_idx]


def _mark_diverged(hists: list[History], alive: Tensor, ok: Tensor, step: int) -> Tensor:
    """Record ``step`` as the divergence step of each live member that is not ``ok``.

    Args:
        hists: the members' histories.
        alive: bool (K,), members still training.
        ok: bool (K,), members whose numbers at this step are finite.
        step: the step.

    Returns:
        The members still alive: ``alive & ok``.
    """
    for i in torch.nonzero(alive & ~ok).flatten().tolist():
        hists[i].diverged, hists[i].diverged_step = True, step
    return alive & ok


def _append_rows(hists: list[History], alive: Tensor, row: dict[str, Tensor], step: int) -> Tensor:
    """Append each live member's row; a member with a non-finite value diverges instead.

    Args:
        hists: the members' histories.
        alive: bool (K,), members still training.
        row: the step's ``train.log_row``, each value (K,).
        step: the step.

    Returns:
        The members still alive.
    """
    values = {k: v.double().cpu() for k, v in row.items()}
    alive = _mark_diverged(hists, alive, torch.isfinite(torch.stack(list(values.values()))).all(0), step)
    for i in torch.nonzero(alive).flatten().tolist():
        hists[i].steps.append(step)
        for key, v in values.items():
            hists[i].scalars[key].append(float(v[i]))
    return alive


# ---------------------------------------------------------------------------------------------
# The training loop
# ---------------------------------------------------------------------------------------------


@dataclass
class BatchedRuns:
    """What ``train_batched`` returns: one history per member and the members' final networks.

    Attributes:
        histories: one ``History`` per member, as ``train_gan`` would return it.
        g_params, g_buffers, d_params, d_buffers: stacked final state, each tensor (K, ...);
            use ``member_state`` to get one member's ``state_dict``-style dict.
        surfaces: per member, σ(D(x)) at ``surface_points`` at each of its evaluations (aligned
            with its ``History.sample_steps``), each (P,) on the CPU; empty lists when
            ``train_batched`` was given no points.
    """

    histories: list[History]
    g_params: dict[str, Tensor]
    g_buffers: dict[str, Tensor]
    d_params: dict[str, Tensor]
    d_buffers: dict[str, Tensor]
    surfaces: list[list[Tensor]] = field(default_factory=list)

    def member_state(self, net: str, k: int) -> dict[str, Tensor]:
        """Member ``k``'s parameters and buffers of ``net`` ("g" or "d"), detached, on the CPU."""
        if net not in ("g", "d"):
            raise ValueError(f"net must be 'g' or 'd', got {net!r}")
        params, buffers = (self.g_params, self.g_buffers) if net == "g" else (self.d_params, self.d_buffers)
        return {n: t[k].detach().cpu().clone() for n, t in {**params, **buffers}.items()}


def train_batched(
    members: Sequence[TrainConfig],
    data: Mixture | ImageDataset | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    desc: str = "sweep",
    surface_points: Tensor | None = None,
    probe_images: dict[str, Tensor] | None = None,
) -> BatchedRuns:
    """Train K runs that differ only in ``MEMBER_FIELDS`` (λ_G, λ_D, γ, decay rates, seed) as one vmapped model.

    Each member uses exactly the initialisation, data batches and noise of ``train_gan`` with
    its config (runs with the same seed share those draws, so they are made once per seed).
    The optimized loss is the sum over members, so every member's gradients and Adam state are
    its own. A member that hits NaN/inf is marked diverged at that step; the others go on.

    Args:
        members: the runs' configs (``SweepConfig.members()`` or a part of it).
        data: the data set; loaded from the configs' ``dataset`` when None.
        device: where to train.
        progress: show a tqdm bar.
        desc: the bar's label.
        surface_points: 2-D points, (P, 2), at which each member's σ(D(x)) is kept at every
            evaluation (D's decision surface over training); None: not kept.
        probe_images: named batches of real images (N, C, H, W) or points (N, 2), e.g.
            ``{"train": ..., "held_out": ...}``, on which each member's D (in eval mode) is read
            at every evaluation into its ``History.probes`` (``train.probe_row``), as
            ``train.train_gan`` does; None: not read.

    Returns:
        A ``BatchedRuns``: the members' histories, in order, their final networks, and their
        surfaces at ``surface_points`` when given.
    """
    cfg = _check_batchable(members)
    device = torch.device(device)
    if data is None:
        data = load_dataset(cfg.dataset)
    if surface_points is not None and (not isinstance(data, Mixture) or surface_points.ndim != 2
                                       or surface_points.shape[1] != 2):
        raise ValueError(f"surface_points must be (P, 2) points on a 2-D data set, got shape "
                         f"{tuple(surface_points.shape)} on {cfg.dataset!r}")
    check_probe_images(probe_images, data)
    data = data.to(device)
    gan = stack_gans(members, None if isinstance(data, Mixture) else data.img_shape, device)
    draws = MemberDraws(members, data, device)

    k = len(members)
    hists = [History(config=m.to_dict()) for m in members]
    surfaces: list[list[Tensor]] = [[] for _ in members]
    alive = torch.ones(k, dtype=torch.bool)
    start = time.perf_counter()
    bar = tqdm(range(1, cfg.steps + 1), disable=not progress, desc=f"{desc} ({k} runs)", leave=False)
    for step in bar:
        out = stacked_step(gan, draws.real(), draws.noise(), draws.noise())
        alive = _mark_diverged(hists, alive, out.finite(), step)
        if not alive.any():
            break
        if step % cfg.log_every == 0 or step == 1:
            alive = _append_rows(hists, alive, _member_row(gan, out), step)
        if step % cfg.eval_every == 0 or step == cfg.steps:
            samples = _generate_batched(gan, draws.fixed_z)
            probs = None if surface_points is None else _surface_batched(gan, surface_points.to(device))
            probes = None if probe_images is None else {
                name: probe_row(_discriminate_batched(gan, x.to(device))) for name, x in probe_images.items()}
            for i in torch.nonzero(alive).flatten().tolist():
                hists[i].sample_steps.append(step)
                hists[i].samples.append(samples[i])
                if probs is not None:
                    surfaces[i].append(probs[i])
                if probes is not None:
                    hists[i].append_probes(probes, member=i)
    bar.close()
    elapsed = time.perf_counter() - start
    for h in hists:
        h.wall_time_s = elapsed / k  # the batch's time, shared equally
    return BatchedRuns(hists, gan.g_params, gan.g_buffers, gan.d_params, gan.d_buffers, surfaces)
