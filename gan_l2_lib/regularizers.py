"""The L2 penalty Σ p² and the helpers that decide which parameters it covers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from .checks import nonnegative_float

#: Which parameters the penalty covers: every tensor, or weight matrices only (``is_penalized``).
PENALIZE_CHOICES = ("all", "weights")


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


def is_penalized(tensor: torch.Tensor, penalize: str = "all", stacked: bool = False) -> bool:
    """The one rule for which tensors the L2 penalty (and decoupled decay) covers.

    Args:
        tensor: a parameter, shape (...), or a stack of K members' parameters, shape (K, ...).
        penalize: ``"all"`` covers every tensor; ``"weights"`` only weight matrices and conv
            kernels (``dim() >= 2`` per member), leaving out biases and BatchNorm scales and
            shifts, as nanoGPT does for weight decay.
        stacked: the tensor carries a leading member dimension (``torch.func.stack_module_state``).

    Returns:
        True when the tensor is penalized.

    Raises:
        ValueError: if ``penalize`` is not one of ``PENALIZE_CHOICES``.
    """
    if penalize not in PENALIZE_CHOICES:
        raise ValueError(f"penalize must be one of {PENALIZE_CHOICES}, got {penalize!r}")
    return penalize == "all" or tensor.dim() - int(stacked) >= 2


def select_parameters(
    module_or_params: nn.Module | Iterable[torch.Tensor], penalize: str = "all", stacked: bool = False
) -> list[torch.Tensor]:
    """Return the tensors an L2 penalty with this ``penalize`` rule covers (see ``is_penalized``).

    Args:
        module_or_params: a module (its ``.parameters()`` are used) or an iterable of tensors.
        penalize: ``"all"`` or ``"weights"``.
        stacked: the tensors are stacks of K members' parameters, shape (K, ...).

    Returns:
        The selected tensors, in their original order.

    Raises:
        ValueError: if ``penalize`` is not one of ``"all"``, ``"weights"``, or an element is
            not a tensor.
    """
    if penalize not in PENALIZE_CHOICES:
        raise ValueError(f"penalize must be one of {PENALIZE_CHOICES}, got {penalize!r}")
    if isinstance(module_or_params, nn.Module):
        params = list(module_or_params.parameters())
    elif isinstance(module_or_params, torch.Tensor):
        params = [module_or_params]
    else:
        params = list(module_or_params)
    for p in params:
        if not isinstance(p, torch.Tensor):
            raise ValueError(f"expected tensors or an nn.Module, got an element of type {type(p).__name__}")
    return [p for p in params if is_penalized(p, penalize, stacked)]


def l2_penalty(module_or_params: nn.Module | Iterable[torch.Tensor], penalize: str = "all") -> torch.Tensor:
    """Sum of squares Σ p² over the selected parameters (no λ, no ½).

    This is the squared Euclidean norm of all selected parameters seen as one long vector,
    so its gradient is exactly ``2 p``. It is *not* ``torch.norm`` (the unsquared norm).

    Args:
        module_or_params: a module or an iterable of tensors.
        penalize: ``"all"`` or ``"weights"`` (``dim() >= 2`` only), see ``is_penalized``.

    Returns:
        A scalar tensor (0-dim), differentiable; ``0.0`` if nothing is selected.
    """
    params = select_parameters(module_or_params, penalize)
    if not params:
        return torch.zeros(())
    # A Python sum of per-tensor sums keeps autograd simple and works for any device mix.
    return sum(p.pow(2).sum() for p in params)


def l2_norm(module_or_params: nn.Module | Iterable[torch.Tensor], penalize: str = "all") -> torch.Tensor:
    """Unsquared Euclidean norm ‖p‖ = sqrt(Σ p²) of the selected parameters as one vector.

    This is what a "fixed" ``torch.norm(list(params))`` would compute: its gradient is
    ``p / ‖p‖``, a pull of constant length, a different regularizer from λ Σ p².

    Args:
        module_or_params: a module or an iterable of tensors.
        penalize: ``"all"`` or ``"weights"``.

    Returns:
        A scalar tensor (0-dim).
    """
    params = select_parameters(module_or_params, penalize)
    if not params:
        return torch.zeros(())
    # vector_norm has gradient 0 at w = 0, where sqrt(Σ p²) would give 0/0 = NaN
    return torch.linalg.vector_norm(torch.cat([p.flatten() for p in params]))


@dataclass(frozen=True)
class PenaltyCoverage:
    """How many parameters a ``penalize`` rule puts under the penalty."""

    penalize: str
    n_tensors: int
    n_elements: int
    total_tensors: int
    total_elements: int

    def __str__(self) -> str:
        return (
            f"penalize={self.penalize!r}: penalizes {self.n_tensors}/{self.total_tensors} tensors, "
            f"{self.n_elements:,}/{self.total_elements:,} parameters"
        )


def penalty_coverage(module: nn.Module, penalize: str = "all") -> PenaltyCoverage:
    """Count the tensors and scalars a ``penalize`` rule covers in ``module``.

    Args:
        module: the network.
        penalize: ``"all"`` or ``"weights"``.

    Returns:
        A ``PenaltyCoverage`` (printing it gives a one-line summary).
    """
    all_params = list(module.parameters())
    chosen = select_parameters(all_params, penalize)
    return PenaltyCoverage(
        penalize=penalize,
        n_tensors=len(chosen),
        n_elements=sum(p.numel() for p in chosen),
        total_tensors=len(all_params),
        total_elements=sum(p.numel() for p in all_params),
    )
