"""Networks: the source article's MLP generator and discriminator, and small 2-D MLPs.

Every discriminator returns a **logit** of shape (N,); the sigmoid lives in the loss
(``losses.py``), where ``binary_cross_entropy_with_logits`` keeps it numerically safe.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from .checks import positive_int


def _check_shape(img_shape: tuple[int, ...]) -> tuple[int, int, int]:
    shape = tuple(img_shape)
    if len(shape) != 3 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
        raise ValueError(f"img_shape must be (channels, height, width) of positive ints, got {img_shape!r}")
    return shape  # type: ignore[return-value]


class MLPGenerator(nn.Module):
    """The source article's generator: z → 256 → 512 → 1024 → C·H·W, Tanh output.

    Each hidden block is Linear → LeakyReLU(0.2) → BatchNorm1d, in that order, as in the
    article. For ``img_shape=(1, 28, 28)`` it has 1,489,936 parameters.

    Args:
        latent_dim: size of z.
        img_shape: (C, H, W) of the images it makes.
    """

    def __init__(self, latent_dim: int = 100, img_shape: tuple[int, int, int] = (1, 28, 28)) -> None:
        super().__init__()
        self.latent_dim = positive_int(latent_dim, "latent_dim")
        self.img_shape = _check_shape(img_shape)
        layers: list[nn.Module] = []
        width_in = latent_dim
        for width in (256, 512, 1024):
            layers += [nn.Linear(width_in, width), nn.LeakyReLU(0.2), nn.BatchNorm1d(width)]
            width_in = width
        layers += [nn.Linear(width_in, math.prod(self.img_shape)), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """Map noise (N, latent_dim) to images (N, C, H, W) in [-1, 1]."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        return self.model(z).view(z.shape[0], *self.img_shape)


class MLPDiscriminator(nn.Module):
    """The source article's discriminator: C·H·W → 512 → 256 → 1, returning a logit.

    Hidden layers use LeakyReLU(0.2). The article's final Sigmoid is left out on purpose:
    the loss applies it. For ``img_shape=(1, 28, 28)`` it has 533,505 parameters.

    Args:
        img_shape: (C, H, W) of the images it judges.
    """

    def __init__(self, img_shape: tuple[int, int, int] = (1, 28, 28)) -> None:
        super().__init__()
        self.img_shape = _check_shape(img_shape)
        self.model = nn.Sequential(
            nn.Linear(math.prod(self.img_shape), 512),
            nn.LeakyReLU(0.2),
            nn.Linear(512, 256),
            nn.LeakyReLU(0.2),
            nn.Linear(256, 1),
        )

    def forward(self, img: Tensor) -> Tensor:
        """Map images (N, C, H, W) or flat (N, C·H·W) to logits (N,)."""
        flat = img.reshape(img.shape[0], -1)
        if flat.shape[1] != math.prod(self.img_shape):
            raise ValueError(
                f"expected images with {math.prod(self.img_shape)} values each "
                f"(shape {self.img_shape}), got {tuple(img.shape)}"
            )
        return self.model(flat).squeeze(1)


def _mlp(width_in: int, hidden: int, n_hidden: int, width_out: int, act: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(n_hidden):
        layers += [nn.Linear(width_in, hidden), act()]
        width_in = hidden
    layers.append(nn.Linear(width_in, width_out))
    return nn.Sequential(*layers)


class ToyGenerator(nn.Module):
    """Small ReLU MLP generator for 2-D mixtures: z (N, latent_dim) → points (N, 2).

    Args:
        latent_dim: size of z.
        hidden: width of each hidden layer.
        n_hidden: number of hidden layers.
    """

    def __init__(self, latent_dim: int = 8, hidden: int = 128, n_hidden: int = 2) -> None:
        super().__init__()
        self.latent_dim = positive_int(latent_dim, "latent_dim")
        hidden, n_hidden = positive_int(hidden, "hidden"), positive_int(n_hidden, "n_hidden")
        self.model = _mlp(latent_dim, hidden, n_hidden, 2, nn.ReLU)

    def forward(self, z: Tensor) -> Tensor:
        """Map noise (N, latent_dim) to points (N, 2)."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        return self.model(z)


class ToyDiscriminator(nn.Module):
    """Small ReLU MLP discriminator for 2-D points: (N, 2) → logits (N,).

    Args:
        hidden: width of each hidden layer.
        n_hidden: number of hidden layers.
    """

    def __init__(self, hidden: int = 128, n_hidden: int = 2) -> None:
        super().__init__()
        hidden, n_hidden = positive_int(hidden, "hidden"), positive_int(n_hidden, "n_hidden")
        self.model = _mlp(2, hidden, n_hidden, 1, nn.ReLU)

    def forward(self, x: Tensor) -> Tensor:
        """Map points (N, 2) to logits (N,)."""
        if x.dim() != 2 or x.shape[1] != 2:
            raise ValueError(f"x must have shape (N, 2), got {tuple(x.shape)}")
        return self.model(x).squeeze(1)


def count_parameters(module: nn.Module) -> int:
    """Number of scalar parameters in ``module``."""
    return sum(p.numel() for p in module.parameters())
