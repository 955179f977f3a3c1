"""Drawing only: every function takes computed data (tensors, dataclasses) and returns a Figure.

Shared by all notebooks. Functions are grouped by the notebook topic that introduced them;
add new ones in a section of their own.
"""

from __future__ import annotations

import matplotlib

matplotlib.use(matplotlib.get_backend())  # keep the notebook's backend; headless CI uses Agg

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def _to_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


# --- data sets (notebook 00) -------------------------------------------------------------


def plot_mixture(mixture, samples=None, ax=None, title: str | None = None) -> Figure:
    """Scatter samples of a 2-D mixture with its mode centres marked.

    Args:
        mixture: a ``data.Mixture``.
        samples: (N, 2) points; drawn from the mixture elsewhere. None draws only centres.
        ax: an axes to draw on; a new figure when None.
        title: the axes title (defaults to the mixture's name and σ).

    Returns:
        The figure.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
    else:
        fig = ax.figure
    if samples is not None:
        pts = _to_numpy(samples)
        ax.scatter(pts[:, 0], pts[:, 1], s=3, alpha=0.4, label="samples")
    c = _to_numpy(mixture.centers)
    ax.scatter(c[:, 0], c[:, 1], marker="x", color="red", s=40, label="mode centres")
    ax.set_aspect("equal")
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    ax.set_title(title or f"{mixture.name}: {mixture.n_modes} modes, σ = {mixture.std}")
    ax.legend(loc="upper right", fontsize=8)
    return fig


def plot_image_grid(images, nrow: int = 8, ax=None, title: str | None = None) -> Figure:
    """Show images (N, C, H, W) in [-1, 1] as one grid (torchvision.utils.make_grid).

    Args:
        images: tensor (N, C, H, W) in [-1, 1]; C is 1 or 3.
        nrow: images per row.
        ax: an axes to draw on; a new figure when None.
        title: the axes title.

    Returns:
        The figure.
    """
    from torchvision.utils import make_grid

    imgs = torch.as_tensor(images).detach().cpu().float()
    grid = make_grid(imgs, nrow=nrow, normalize=True, value_range=(-1, 1), pad_value=1.0)
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 5))
    else:
        fig = ax.figure
    ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig
