"""GAN losses computed from discriminator logits, plain and with the L2 (or D's R1) penalty.

Convention (documented once, used everywhere): the discriminator loss is the *sum*
    L_D = -E[log D(x)] - E[log(1 - D(G(z)))] + λ_D Σ w_D²
exactly as the formula is written. The source article divides the two adversarial terms by 2,
which doubles λ_D's weight relative to the adversarial part; ``halve=True`` reproduces it.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from .regularizers import is_penalized, l2_penalty, r1_penalty, validate_coef

GEN_LOSS_CHOICES = ("nonsaturating", "minimax")


class RegularizedLoss(NamedTuple):
    """A loss split into the part that is optimized and the parts it is made of."""

    total: torch.Tensor  # adversarial + penalty, the scalar to call .backward() on
    adversarial: torch.Tensor  # the GAN term alone
    penalty: torch.Tensor  # λ Σ w² (or D's R1 term (γ/2)·E‖∇ₓ D(x)‖²), already multiplied by λ (γ/2)


def _check_logits(logits: torch.Tensor, name: str) -> torch.Tensor:
    """Return logits as a 1-D tensor of shape (N,), accepting (N,) or (N, 1)."""
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor of shape (N,) or (N, 1)")
    if logits.dim() == 2 and logits.shape[1] == 1:
        logits = logits.squeeze(1)
    if logits.dim() != 1 or logits.shape[0] == 0:
        raise ValueError(f"{name} must have shape (N,) or (N, 1) with N >= 1, got {tuple(logits.shape)}")
    return logits


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, halve: bool = False) -> torch.Tensor:
    """Discriminator loss -E[log D(x)] - E[log(1 - D(G(z)))] with D = sigmoid(logit).

    Uses ``binary_cross_entropy_with_logits`` so that log σ never sees a rounded 0 or 1.

    Args:
        real_logits: D's logits on real data, shape (N,) or (N, 1).
        fake_logits: D's logits on generated data, shape (M,) or (M, 1).
        halve: if True, return (real + fake) / 2 as the source article does.

    Returns:
        A scalar tensor.
    """
    real_logits = _check_logits(real_logits, "real_logits")
    fake_logits = _check_logits(fake_logits, "fake_logits")
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    loss = real + fake
    return loss / 2 if halve else loss


def generator_loss(fake_logits: torch.Tensor, gen_loss: str = "nonsaturating") -> torch.Tensor:
    """Generator loss from D's logits on G(z).

    Args:
        fake_logits: shape (M,) or (M, 1).
        gen_loss: ``"nonsaturating"`` gives -E[log D(G(z))] (the source article's choice);
            ``"minimax"`` gives E[log(1 - D(G(z)))], the value function's own term.

    Returns:
        A scalar tensor.
    """
    if gen_loss not in GEN_LOSS_CHOICES:
        raise ValueError(f"gen_loss must be one of {GEN_LOSS_CHOICES}, got {gen_loss!r}")
    fake_logits = _check_logits(fake_logits, "fake_logits")
    if gen_loss == "nonsaturating":
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    # log(1 - σ(l)) = -softplus(l)
    return -F.softplus(fake_logits).mean()


def regularized_discriminator_loss(
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    discriminator: nn.Module,
    lambda_d: float,
    penalize: str = "all",
    halve: bool = False,
    *,
    r1_gamma: float = 0.0,
    real: torch.Tensor | None = None,
) -> RegularizedLoss:
    """L_D plus λ_D Σ w_D² over D's selected parameters, plus the R1 penalty when γ > 0.

    Args:
        real_logits: shape (N,) or (N, 1); (N,) computed from ``real`` when ``r1_gamma > 0``.
        fake_logits: shape (M,) or (M, 1).
        discriminator: the network whose weights are penalized.
        lambda_d: λ_D >= 0.
        penalize: ``"all"`` or ``"weights"`` (see ``regularizers.is_penalized``).
        halve: reproduce the source article's (real + fake) / 2 on the adversarial part.
        r1_gamma: γ >= 0 of the R1 penalty (γ/2)·E‖∇ₓ D(x)‖² on real data
            (``regularizers.r1_penalty``); 0: none.
        real: the real batch, (N, ...) with ``requires_grad``; needed when ``r1_gamma > 0``.

    Returns:
        ``RegularizedLoss(total, adversarial, penalty)``, the penalty being the sum of both terms.

    Raises:
        ValueError: for a negative or non-finite λ_D or γ, or ``r1_gamma > 0`` without ``real``.
    """
    lambda_d = validate_coef(lambda_d, "lambda_d")
    r1_gamma = validate_coef(r1_gamma, "r1_gamma")
    if r1_gamma > 0 and real is None:
        raise ValueError("r1_gamma > 0 needs real: the real batch (requires_grad) that real_logits came from")
    adv = discriminator_loss(real_logits, fake_logits, halve=halve)
    pen = lambda_d * l2_penalty(discriminator, penalize) if lambda_d > 0 else adv.new_zeros(())
    if r1_gamma > 0:
        pen = pen + r1_penalty(real_logits, real, r1_gamma)
    return RegularizedLoss(adv + pen, adv, pen)


def regularized_generator_loss(
    fake_logits: torch.Tensor,
    generator: nn.Module,
    lambda_g: float,
    penalize: str = "all",
    gen_loss: str = "nonsaturating",
) -> RegularizedLoss:
    """L_G plus λ_G Σ w_G² over G's selected parameters.

    Args:
        fake_logits: D's logits on G(z), shape (M,) or (M, 1).
        generator: the network whose weights are penalized.
        lambda_g: λ_G >= 0.
        penalize: ``"all"`` or ``"weights"`` (see ``regularizers.is_penalized``).
        gen_loss: ``"nonsaturating"`` or ``"minimax"``.

    Returns:
        ``RegularizedLoss(total, adversarial, penalty)``.
    """
    lambda_g = validate_coef(lambda_g, "lambda_g")
    adv = generator_loss(fake_logits, gen_loss=gen_loss)
    pen = lambda_g * l2_penalty(generator, penalize) if lambda_g > 0 else adv.new_zeros(())
    return RegularizedLoss(adv + pen, adv, pen)


def regularized_discriminator_loss_along(
    discriminator: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    lambda_d: float,
    directions: torch.Tensor,
    scales: torch.Tensor,
    penalize: str = "all",
    center: torch.Tensor | None = None,
) -> torch.Tensor:
    """L_D + λ_D Σw² of ``discriminator``'s architecture at the parameters w = center + t·d.

    A loss landscape along lines: the value for every direction d and every scale t, with
    the penalty covering the tensors ``regularizers.is_penalized`` selects. The module's own
    parameters are read for their shapes only and are not changed.

    Args:
        discriminator: the network (its architecture and buffers are used).
        real: a batch of real inputs, shape (N, ...) as the network accepts.
        fake: a batch of generated inputs, shape (M, ...).
        lambda_d: λ_D >= 0.
        directions: shape (K, P), P = the number of scalar parameters, in ``parameters()``
            order (as ``torch.nn.utils.parameters_to_vector`` flattens them).
        scales: shape (S,), the values of t.
        penalize: ``"all"`` or ``"weights"``.
        center: shape (P,), the point all lines pass through; default all parameters 0.

    Returns:
        Shape (K, S), dtype of ``directions``: the penalized loss at each point.
    """
    lambda_d = validate_coef(lambda_d, "lambda_d")
    named = list(discriminator.named_parameters())
    n_params = sum(p.numel() for _, p in named)
    if directions.dim() != 2 or directions.shape[1] != n_params:
        raise ValueError(f"directions must have shape (K, {n_params}), got {tuple(directions.shape)}")
    if scales.dim() != 1:
        raise ValueError(f"scales must have shape (S,), got {tuple(scales.shape)}")
    if center is None:
        center = directions.new_zeros(n_params)
    elif center.shape != (n_params,):
        raise ValueError(f"center must have shape ({n_params},), got {tuple(center.shape)}")
    penalized = torch.cat([torch.full((p.numel(),), is_penalized(p, penalize)) for _, p in named])
    out = directions.new_empty(directions.shape[0], scales.shape[0])
    with torch.no_grad():
        for k, direction in enumerate(directions):
            for s, t in enumerate(scales):
                flat = center + t * direction
                params, start = {}, 0
                for name, p in named:
                    params[name] = flat[start:start + p.numel()].view_as(p)
                    start += p.numel()
                adv = discriminator_loss(functional_call(discriminator, params, (real,)),
                                         functional_call(discriminator, params, (fake,)))
                out[k, s] = adv + lambda_d * (flat[penalized] ** 2).sum()
    return out
