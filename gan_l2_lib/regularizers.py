"""The L2 penalty Σ p² and the helpers that decide which parameters it covers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from .checks import nonnegative_float

INCLUDE_CHOICES = ("all", "weights")


def validate_coef(value: float, name: str = "l2_coef") -> float:
    """Check that a penalty coefficient is a finite number >= 0 and return it as float.

    Args:
        value: the coefficient (λ_G, λ_D, a weight-decay rate, ...).
        name: how the coefficient is called in the error message.

    Returns:
        ``float(value)``.

    Raises:
        ValueError: if ``value`` is not a real number (or a one-element tensor), is NaN or
            infinite, or is negative.
    """
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = float(value)
    return nonnegative_float(value, name)


def select_parameters(
    module_or_params: nn.Module | Iterable[torch.Tensor], include: str = "all"
) -> list[torch.Tensor]:
    """Return the tensors an L2 penalty with this ``include`` rule covers.

    Args:
        module_or_params: a module (its ``.parameters()`` are used) or an iterable of tensors.
        include: ``"all"`` keeps every tensor; ``"weights"`` keeps only tensors with
            ``dim() >= 2`` (linear/conv weight matrices), leaving out biases and BatchNorm
            scales and shifts, as nanoGPT does for weight decay.

    Returns:
        The selected tensors, in their original order.

    Raises:
        ValueError: if ``include`` is not one of ``"all"``, ``"weights"``, or an element is
            not a tensor.
    """
    if include not in INCLUDE_CHOICES:
        raise ValueError(f"include must be one of {INCLUDE_CHOICES}, got {include!r}")
    if isinstance(module_or_params, nn.Module):
        params = list(module_or_params.parameters())
    elif isinstance(module_or_params, torch.Tensor):
        params = [module_or_params]
    else:
        params = list(module_or_params)
    for p in params:
        if not isinstance(p, torch.Tensor):
            raise ValueError(f"expected tensors or an nn.Module, got an element of type {type(p).__name__}")
    if include == "weights":
        params = [p for p in params if p.dim() >= 2]
    return params


def l2_penalty(module_or_params: nn.Module | Iterable[torch.Tensor], include: str = "all") -> torch.Tensor:
    """Sum of squares Σ p² over the selected parameters (no λ, no ½).

    This is the squared Euclidean norm of all selected parameters seen as one long vector,
    so its gradient is exactly ``2 p``. It is *not* ``torch.norm`` (the unsquared norm).

    Args:
        module_or_params: a module or an iterable of tensors.
        include: ``"all"`` or ``"weights"`` (``dim() >= 2`` only), see ``select_parameters``.

    Returns:
        A scalar tensor (0-dim), differentiable; ``0.0`` if nothing is selected.
    """
    params = select_parameters(module_or_params, include)
    if not params:
        return torch.zeros(())
    # A Python sum of per-tensor sums keeps autograd simple and works for any device mix.
    return sum(p.pow(2).sum() for p in params)


def l2_norm(module_or_params: nn.Module | Iterable[torch.Tensor], include: str = "all") -> torch.Tensor:
    """Unsquared Euclidean norm ‖p‖ = sqrt(Σ p²) of the selected parameters as one vector.

    This is what a "fixed" ``torch.norm(list(params))`` would compute: its gradient is
    ``p / ‖p‖``, a pull of constant length, a different regularizer from λ Σ p².

    Args:
        module_or_params: a module or an iterable of tensors.
        include: ``"all"`` or ``"weights"``.

    Returns:
        A scalar tensor (0-dim).
    """
    params = select_parameters(module_or_params, include)
    if not params:
        return torch.zeros(())
    # vector_norm has gradient 0 at w = 0, where sqrt(Σ p²) would give 0/0 = NaN
    return torch.linalg.vector_norm(torch.cat([p.flatten() for p in params]))


@dataclass(frozen=True)
class PenaltyCoverage:
    """How many parameters an ``include`` rule puts under the penalty."""

    include: str
    n_tensors: int
    n_elements: int
    total_tensors: int
    total_elements: int

    def __str__(self) -> str:
        return (
            f"include={self.include!r}: penalizes {self.n_tensors}/{self.total_tensors} tensors, "
            f"{self.n_elements:,}/{self.total_elements:,} parameters"
        )


def penalty_coverage(module: nn.Module, include: str = "all") -> PenaltyCoverage:
    """Count the tensors and scalars an ``include`` rule covers in ``module``.

    Args:
        module: the network.
        include: ``"all"`` or ``"weights"``.

    Returns:
        A ``PenaltyCoverage`` (printing it gives a one-line summary).
    """
    all_params = list(module.parameters())
    chosen = select_parameters(all_params, include)
    return PenaltyCoverage(
        include=include,
        n_tensors=len(chosen),
        n_elements=sum(p.numel() for p in chosen),
        total_tensors=len(all_params),
        total_elements=sum(p.numel() for p in all_params),
    )
