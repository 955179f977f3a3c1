"""D's and G's regularizers: the L2 penalty Σ p² (and the rule for which tensors it covers), the
R1 gradient penalty, and spectral normalization (torch's parametrization and a functional twin).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from .checks import nonnegative_float

#: Which parameters the penalty covers: every tensor, or weight matrices only (``is_penalized``).
PENALIZE_CHOICES = ("all", "weights")
#: What regularizes the discriminator (``TrainConfig.d_regularizer``), each with its own strength:
#: ``"l2"`` the penalty λ_D Σ w² (``lambda_d``; λ_D = 0 is no regularization), ``"r1"`` the
#: gradient penalty (γ/2)·E‖∇ₓ D(x)‖² on real data (``r1_gamma``), ``"spectral_norm"`` every
#: weight matrix divided by its top singular value (no strength).
D_REGULARIZER_CHOICES = ("l2", "r1", "spectral_norm")
#: Power iterations per forward pass of a spectral-normed layer in training (torch's default).
SPECTRAL_NORM_ITERATIONS = 1
#: The eps of torch's spectral norm (``F.normalize``'s floor on a vector's length).
SPECTRAL_NORM_EPS = 1e-12


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


# ---------------------------------------------------------------------------------------------
# R1: the gradient penalty on real data
# ---------------------------------------------------------------------------------------------


def r1_penalty(real_logits: Tensor, real: Tensor, gamma: float | Tensor) -> Tensor:
    """The R1 gradient penalty (γ/2)·E_x ‖∇ₓ D(x)‖² on real data, differentiable (double backward).

    D(x) is the logit. The gradient of the summed logits gives every sample's own ∇ₓ D(x_i)
    (and every member's, for stacked members), because no logit depends on another sample:
    true for the project's discriminators, which have no BatchNorm.

    Args:
        real_logits: D's logits on ``real``, shape (N,) for one run or (K, N) for K members.
        real: the real batch the logits were computed from, with ``requires_grad``; shape
            (N, ...) or (K, N, ...).
        gamma: γ >= 0, a float, or a tensor of shape (K,) with one γ per member.

    Returns:
        Shape () for one run, (K,) for members.

    Raises:
        ValueError: if ``real`` does not require grad, the shapes do not match, or a float γ
            is negative or not finite.
    """
    if not isinstance(gamma, Tensor):
        gamma = validate_coef(gamma, "r1_gamma")
    if not isinstance(real, Tensor) or not real.requires_grad:
        raise ValueError("real must be a tensor with requires_grad=True from which real_logits were computed")
    if real_logits.dim() not in (1, 2) or real.shape[:real_logits.dim()] != real_logits.shape:
        raise ValueError(f"real_logits must have shape (N,) or (K, N) matching real's leading dimensions, "
                         f"got {tuple(real_logits.shape)} for real of shape {tuple(real.shape)}")
    (grads,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    sq_norms = grads.pow(2).flatten(real_logits.dim()).sum(-1)  # ‖∇ₓ D(x_i)‖², like real_logits
    return gamma / 2 * sq_norms.mean(-1)


# ---------------------------------------------------------------------------------------------
# Spectral normalization: torch's parametrization, and the same computation as plain functions
# ---------------------------------------------------------------------------------------------


def spectral_normalize(module: nn.Module, n_power_iterations: int = SPECTRAL_NORM_ITERATIONS) -> nn.Module:
    """Put torch's spectral norm on the weight of every ``nn.Linear`` in ``module`` (in place).

    Each layer's weight becomes W / σ̂(W), σ̂ the top singular value estimated by power
    iteration: ``n_power_iterations`` steps at every forward pass in training mode, none in eval
    mode. Its u, v vectors are buffers (``<layer>.parametrizations.weight.0._u`` / ``._v``),
    drawn from the global RNG when this is called; W is stored as
    ``<layer>.parametrizations.weight.original``.

    Args:
        module: the network (a discriminator).
        n_power_iterations: power iterations per forward pass, >= 1.

    Returns:
        ``module`` itself.

    Raises:
        ValueError: if ``module`` has no ``nn.Linear`` layer or ``n_power_iterations`` < 1.
    """
    if isinstance(n_power_iterations, bool) or not isinstance(n_power_iterations, int) or n_power_iterations < 1:
        raise ValueError(f"n_power_iterations must be a positive integer, got {n_power_iterations!r}")
    layers = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise ValueError(f"spectral normalization needs nn.Linear layers; {type(module).__name__} has none")
    for layer in layers:
        spectral_norm(layer, n_power_iterations=n_power_iterations, eps=SPECTRAL_NORM_EPS)
    return module


def spectral_norm_prefixes(names: Iterable[str]) -> list[str]:
    """The layers that carry torch's spectral norm, from a state's parameter names.

    Args:
        names: parameter (or state) names, e.g. ``"model.0.parametrizations.weight.original"``.

    Returns:
        The layers' prefixes (``"model.0"``), in order.
    """
    suffix = ".parametrizations.weight.original"
    return [n[: -len(suffix)] for n in names if n.endswith(suffix)]


def is_spectral_normed(module: nn.Module) -> bool:
    """True when some weight of ``module`` is spectral-normed by ``spectral_normalize``."""
    return any(parametrize.is_parametrized(m, "weight") for m in module.modules())


@torch.no_grad()
def power_iteration(weight: Tensor, u: Tensor, v: Tensor, n_power_iterations: int,
                    eps: float = SPECTRAL_NORM_EPS) -> tuple[Tensor, Tensor]:
    """``n_power_iterations`` steps u ← W v / ‖W v‖, v ← Wᵀ u / ‖Wᵀ u‖, as torch's spectral norm does.

    A pure function (it returns new vectors), so it can run under ``torch.func.vmap`` with one
    (u, v) per member. No gradient flows through u and v.

    Args:
        weight: W, shape (out, in).
        u: shape (out,), unit length.
        v: shape (in,), unit length.
        n_power_iterations: the number of steps, >= 0.
        eps: floor on the norms, as in ``F.normalize``.

    Returns:
        ``(u, v)``, new tensors of the same shapes.
    """
    for _ in range(n_power_iterations):
        u = F.normalize(torch.mv(weight, v), dim=0, eps=eps)
        v = F.normalize(torch.mv(weight.H, u), dim=0, eps=eps)
    return u, v


def spectral_normalized(weight: Tensor, u: Tensor, v: Tensor) -> Tensor:
    """W / σ̂ with σ̂ = uᵀ W v, differentiable in W (u and v are constants), as torch computes it.

    Args:
        weight: W, shape (out, in).
        u, v: the power iteration's vectors, shapes (out,) and (in,).

    Returns:
        Shape (out, in).
    """
    return weight / torch.vdot(u, torch.mv(weight, v))
