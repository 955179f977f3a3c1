"""Stateless figures: every function takes computed data (tensors, dataclasses) and draws it.

Each function returns a ``matplotlib.figure.Figure`` (or draws on a given axes) and keeps no
state between calls. Sections by subject: data sets; penalty and losses; Dirac-GAN; training
curves and digit metrics; sweep maps and curves; training replay (a run's snapshots as
frames, as a strip of an image run's sample grids, and as an animated GIF). The slider
canvases that redraw in place live in ``live_figures``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib.colors
import matplotlib.lines
import matplotlib.patches
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.animation import PillowWriter
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogFormatter, LogLocator, NullLocator

from .data import dataset_facts, make_mixture
from .evaluate import (
    colour_range,
    coverage_key,
    format_value,
    lambda_label,
    map_metrics,
    unit_label,
)
from .evaluate import metric as metric_info
from .sweep import DEAD_SURFACE_RANGE

#: Distances below this are drawn at it (double precision resolves no less).
DIRAC_DISTANCE_FLOOR = 1e-16
#: The one start/end convention of every figure that draws a trajectory (notebook 01's optimizer
#: paths, notebook 03's Dirac-GAN runs and its explorer): a square where a run starts, a dot where
#: it ends, both named "start" and "end" in the legend (``start_end_handles``).
START_MARKER = "s"
END_MARKER = "o"
_STEP_LABEL = "training step (one D update + one G update)"


def _to_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _new_or_given(ax, figsize):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def start_end_handles(color="0.25") -> list:
    """Legend entries "start" (``START_MARKER``) and "end" (``END_MARKER``) for trajectory figures."""
    return [matplotlib.lines.Line2D([], [], marker=m, ls="none", ms=6, color=color, mec="black", label=label)
            for m, label in ((START_MARKER, "start"), (END_MARKER, "end"))]


def _plain_log_ticks(ax) -> None:
    """Plain y tick labels ("45", "0.2", not "4.5×10¹") on a log axis spanning a few decades at most."""
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    lo, hi = ax.get_ylim()
    if hi < 10 * lo:  # less than a decade: label the minor ticks too, or hardly any tick is labelled
        ax.yaxis.set_minor_formatter(plain)
        ax.tick_params(axis="y", which="minor", labelsize=7)
    else:
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))


# --- data sets -----------------------------------------------------------------------------


def plot_mixture(mixture, samples=None, ax=None, title: str | None = None, zoom_mode: int | None = None,
                 threshold: float = 3.0) -> Figure:
    """Scatter samples of a 2-D mixture with its mode centres marked, optionally one mode magnified.

    The centres are small thin crosses drawn over the samples, so a tight blob (ring8's σ = 0.01)
    stays visible around its centre instead of hiding under it.

    Args:
        mixture: a ``data.Mixture``.
        samples: (N, 2) points; drawn from the mixture elsewhere. None draws only centres.
        ax: an axes to draw on; a new figure when None.
        title: the axes title (defaults to the mixture's name and σ).
        zoom_mode: index of a mode to magnify in an inset at the middle of the axes (the empty
            hole of a ring), ±5σ around its centre, with the circle of radius ``threshold``·σ;
            None: no inset.
        threshold: the radius of that circle in units of σ (the high-quality cut of
            ``metrics.mode_stats``).

    Returns:
        The figure.

    Raises:
        ValueError: when ``zoom_mode`` is not the index of a mode.
    """
    if zoom_mode is not None and not 0 <= zoom_mode < mixture.n_modes:
        raise ValueError(f"zoom_mode must be a mode index in [0, {mixture.n_modes}), got {zoom_mode}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
    else:
        fig = ax.figure
    pts = None if samples is None else _to_numpy(samples)
    c = _to_numpy(mixture.centers)

    def draw(target, size: float, marker_size: float) -> None:
        if pts is not None:
            target.scatter(pts[:, 0], pts[:, 1], s=size, alpha=0.4, color="C0", lw=0, label="samples")
        target.scatter(c[:, 0], c[:, 1], marker="+", color="red", s=marker_size, lw=0.7, label="mode centres")

    draw(ax, 3, 10)
    ax.set_aspect("equal")
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    ax.set_title(title or f"{mixture.name}: {mixture.n_modes} modes, σ = {mixture.std}")
    if zoom_mode is not None:
        inset = ax.inset_axes([0.32, 0.32, 0.36, 0.36])
        draw(inset, 6, 40)
        half = 5 * mixture.std
        x0, y0 = c[zoom_mode]
        inset.add_patch(matplotlib.patches.Circle((x0, y0), threshold * mixture.std, fill=False, color="black",
                                                  ls="--", lw=0.8, label=f"{threshold:g}σ: high quality"))
        inset.set_xlim(x0 - half, x0 + half)
        inset.set_ylim(y0 - half, y0 + half)
        inset.set_aspect("equal")
        inset.set_xticks([])
        inset.set_yticks([])
        inset.set_title(f"mode {zoom_mode} magnified (±5σ)", fontsize=7, pad=2)
        ax.indicate_inset_zoom(inset, edgecolor="0.3")
    # below the axes, so the legend never hides a mode
    handles, labels = ax.get_legend_handles_labels()
    if zoom_mode is not None:
        handles.append(matplotlib.lines.Line2D([], [], color="black", ls="--", lw=0.8))
        labels.append(f"{threshold:g}σ circle (inset): high quality")
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=8,
              frameon=False, markerscale=2.5)
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


def image_grid_array(samples: np.ndarray, n_show: int, ncol: int) -> np.ndarray:
    """Up to ``n_show`` images as one picture, white cells where there are fewer (fast, numpy only).

    Args:
        samples: (n, C, H, W) in [-1, 1], C 1 or 3.
        n_show: cells of the grid (rows: ``ceil(n_show / ncol)``).
        ncol: cells per row.

    Returns:
        (rows·(H+1)+1, ncol·(W+1)+1, 3) float32 in [0, 1], one white pixel between images.
    """
    c, h, w = samples.shape[1:]
    nrow = -(-n_show // ncol)
    grid = np.ones((nrow * (h + 1) + 1, ncol * (w + 1) + 1, 3), dtype=np.float32)
    imgs = (np.clip(samples[:n_show], -1, 1) + 1) / 2
    for k, img in enumerate(imgs):
        r, q = divmod(k, ncol)
        y, x = 1 + r * (h + 1), 1 + q * (w + 1)
        grid[y:y + h, x:x + w] = np.repeat(img, 3, 0).transpose(1, 2, 0) if c == 1 else img.transpose(1, 2, 0)
    return grid


def square_grid_size(n: int, most: int = 64) -> tuple[int, int]:
    """``(n_show, ncol)`` of a square grid for ``n`` images, at most ``most``: the same shape for any n it holds."""
    ncol = int(np.ceil(np.sqrt(max(1, min(n, most)))))
    return ncol * ncol, ncol


# --- penalty and losses --------------------------------------------------------------------


def _mark_nonfinite(ax, x: np.ndarray, y: np.ndarray, color, label: str) -> None:
    """Shade the x ranges where y is inf/NaN (a line cannot show them) and name them in the legend."""
    bad = ~np.isfinite(y)
    if not bad.any():
        return
    # contiguous runs of bad points: starts where bad switches on, ends where it switches off
    edges = np.diff(np.concatenate([[0], bad.astype(int), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    for k, (i0, i1) in enumerate(zip(starts, ends, strict=True)):
        ax.axvspan(x[i0], x[i1], color=color, alpha=0.15, lw=0,
                   label=f"{label}: inf/NaN here" if k == 0 else None)


def plot_weight_trajectories(trajectories: dict, loss_grid=None, points: dict | None = None,
                             distances: dict | None = None, title: str = "Optimizer paths",
                             distance_label: str = "distance to the minimizer of L + λΣw²",
                             log_steps: bool = False) -> Figure:
    """Paths of a two-weight model under several optimizers, optionally with distances to a target.

    Args:
        trajectories: label → weights of shape (T + 1, 2), the start included.
        loss_grid: optional ``(W1, W2, Z)`` meshgrid arrays and loss values, drawn as contours.
        points: label → ``(w1, w2)`` marked with a star (e.g. a minimizer).
        distances: label → shape (T + 1,) distance of each step to a reference point; drawn
            against the step on a log axis in a second panel. None draws only the paths.
        title: the figure title.
        distance_label: what the distances measure (the second panel's y label).
        log_steps: draw the step axis on a log scale too (for long runs).

    Returns:
        The figure.
    """
    ncols = 1 if distances is None else 2
    fig, axes = plt.subplots(1, ncols, figsize=(5.2 * ncols, 4.6), squeeze=False)
    ax = axes[0, 0]
    if loss_grid is not None:
        w1, w2, z = (_to_numpy(a) for a in loss_grid)
        cs = ax.contour(w1, w2, z, levels=12, colors="0.7", linewidths=0.7)
        ax.clabel(cs, fontsize=6, fmt="%.2g")
    for label, traj in trajectories.items():
        t = _to_numpy(traj)
        ax.plot(t[:, 0], t[:, 1], "-", lw=1.5, label=label)
        # zorder 3: an end on a marked point (a star) stays visible, a dot inside the star
        ax.plot(t[-1, 0], t[-1, 1], END_MARKER, ms=6, color=ax.lines[-1].get_color(), mec="black", zorder=3)
    first = _to_numpy(next(iter(trajectories.values())))
    ax.plot(first[0, 0], first[0, 1], START_MARKER, ms=6, color="0.25", mec="black", zorder=3)
    for label, (p1, p2) in (points or {}).items():
        ax.plot(float(p1), float(p2), "*", ms=13, mec="k", label=label)
    ax.set_xlabel("weight w₁")
    ax.set_ylabel("weight w₂")
    ax.set_title("Paths in weight space")
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + start_end_handles(), fontsize=7, loc="best")
    if distances is not None:
        ax = axes[0, 1]
        for label, dist in distances.items():
            d = _to_numpy(dist)
            steps = np.arange(len(d))
            if log_steps:  # step 0 cannot sit on a log axis
                steps, d = steps[1:], d[1:]
            ax.semilogy(steps, np.maximum(d, 1e-16), label=label)
        if log_steps:
            ax.set_xscale("log")
        ax.set_xlabel("optimizer step" + (" (log scale)" if log_steps else ""))
        ax.set_ylabel(f"{distance_label} (log scale)")
        ax.set_title("Which optimizer solves the penalized problem?")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_penalty_vs_norm(norms, values: dict, grad_lengths: dict, markers: dict | None = None,
                         log: bool = False, title: str = "Squared vs. unsquared L2 penalty") -> Figure:
    """Two panels against the weight norm ‖w‖: penalty values and the lengths of their gradients.

    Args:
        norms: shape (K,) values of ‖w‖ on the x axis.
        values: label → shape (K,) penalty values.
        grad_lengths: label → shape (K,) ‖∇ penalty‖ (same labels as ``values``).
        markers: label → a norm drawn as a dotted vertical line (e.g. a network at init).
        log: use logarithmic x and y axes (norms must then be > 0).
        title: the figure title.

    Returns:
        The figure.
    """
    r = _to_numpy(norms)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, series, ylabel, sub in (
        (axes[0], values, "penalty value (added to the loss)", "Penalty"),
        (axes[1], grad_lengths, "gradient length ‖∇ penalty‖", "Pull on the weights"),
    ):
        for label, y in series.items():
            ax.plot(r, _to_numpy(y), lw=2, label=label)
        for k, (label, x0) in enumerate((markers or {}).items()):
            ax.axvline(float(x0), ls=":", color=f"C{k + 2}", label=label)
        if log:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlabel("weight norm ‖w‖ = sqrt(Σw²)" + (" (log scale)" if log else ""))
        ax.set_ylabel(ylabel + (" (log scale)" if log else ""))
        ax.set_title(sub)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_discriminators_1d(x, p_data, p_g, d_star, fits: dict, slopes: dict | None = None,
                           d_star_slope=None, title: str = "Optimal discriminator",
                           slope_label: str = "slope dD/dx (per unit of x)", star_slope_label: str = "dD*/dx",
                           slope_title: str = "Slopes dD/dx") -> Figure:
    """The 1-D densities, D*(x) and fitted discriminators, and optionally a signal per fit.

    Args:
        x: shape (K,) grid.
        p_data, p_g: shape (K,) densities of the real and generated data.
        d_star: shape (K,) the optimal discriminator p_data / (p_data + p_g).
        fits: label → shape (K,) fitted D(x) (e.g. one per λ_D).
        slopes: label → shape (K,) a derivative of each fit (same labels), e.g. dD/dx or the
            non-saturating generator's push (1 - D) dℓ/dx; adds a third panel.
        d_star_slope: shape (K,) the same quantity for D*, drawn dashed in that panel.
        title: the figure title.
        slope_label: the third panel's y label (say what is drawn, with its unit).
        star_slope_label: the legend entry of ``d_star_slope``.
        slope_title: the third panel's title.

    Returns:
        The figure.
    """
    xs = _to_numpy(x)
    ncols = 2 if slopes is None else 3
    fig, axes = plt.subplots(1, ncols, figsize=(4.6 * ncols, 4), sharex=True)
    ax = axes[0]
    ax.fill_between(xs, _to_numpy(p_data), alpha=0.4, label="p_data (real)")
    ax.fill_between(xs, _to_numpy(p_g), alpha=0.4, label="p_g (generated)")
    ax.set_ylabel("density")
    ax.set_title("The two distributions")
    colors = plt.cm.viridis(np.linspace(0.0, 0.9, max(len(fits), 1)))
    ax = axes[1]
    ax.plot(xs, _to_numpy(d_star), "k--", lw=2.5, zorder=5, label="D* = p_data/(p_data+p_g)")
    for c, (label, y) in zip(colors, fits.items(), strict=False):
        ax.plot(xs, _to_numpy(y), color=c, lw=1.6, label=label)
    ax.axhline(0.5, color="0.6", lw=0.8)
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("D(x) = probability 'real'")
    ax.set_title("Discriminators")
    if slopes is not None:
        ax = axes[2]
        if d_star_slope is not None:
            ax.plot(xs, _to_numpy(d_star_slope), "k--", lw=2.5, zorder=5, label=star_slope_label)
        for c, (label, y) in zip(colors, slopes.items(), strict=False):
            ax.plot(xs, _to_numpy(y), color=c, lw=1.6, label=label)
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_ylabel(slope_label)
        ax.set_title(slope_title)
    for ax in axes:
        ax.set_xlabel("x (data value)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_loss_and_grad(x, losses: dict, grads: dict, xlabel: str = "logit l",
                       title: str = "", axes=None) -> Figure:
    """A loss and its derivative against one input, several implementations side by side.

    Non-finite values (inf, NaN) cannot be drawn as lines; the x ranges where they occur are
    shaded in the series' colour and named in the legend.

    Args:
        x: shape (K,) inputs (e.g. logits).
        losses: label → shape (K,) loss values.
        grads: label → shape (K,) derivatives d loss / d x (same labels as ``losses``).
        xlabel: the x-axis label.
        title: printed above both panels (as the left panel's title prefix).
        axes: a pair of axes to draw on; a new 1×2 figure when None.

    Returns:
        The figure.
    """
    xs = _to_numpy(x)
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    fig = axes[0].figure
    styles = ["-", "--", ":", "-."]
    for ax, series, ylabel in ((axes[0], losses, "loss"), (axes[1], grads, "d loss / d logit")):
        for k, (label, y) in enumerate(series.items()):
            ys = _to_numpy(y).astype(np.float64)
            color = f"C{k}"
            ax.plot(xs, np.where(np.isfinite(ys), ys, np.nan), styles[k % 4], color=color,
                    lw=2.2 - 0.4 * k, label=label)
            _mark_nonfinite(ax, xs, ys, color, label)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_title(f"{title}: loss" if title else "loss")
    axes[1].set_title(f"{title}: gradient" if title else "gradient")
    fig.tight_layout()
    return fig


def plot_penalized_loss_on_lines(ratio_panels: dict, line: tuple, title: str = "",
                                 zoom: tuple[float, float, float] | None = None) -> Figure:
    """The penalized D loss near w = 0 (one panel per network) and along one whole line.

    Two panels per row, 10 inches wide (about 1,000 px at 100 dpi, so a notebook's ~900 px shows
    it at ~0.9 of its size), and one shared legend in the free slot after the last panel:
    colour = λ_D, thin solid = a random direction, thick dashed = the trained direction d*.
    A ratio panel whose values all lie in [-1, 3] gets a linear y axis (so "1" and a dip below it
    are readable); a wider one a symlog axis with plain tick labels (-10, -1, 0, 1, 10).

    Args:
        ratio_panels: ``{panel title: (t, {label: (random, trained)})}``: t of shape (S,) > 0
            (log axis); per label (one λ_D, one colour) the rise [L(t·d) - 2 log 2] / (λ_D t²)
            along K random directions, shape (K, S) (thin lines), and along the trained
            direction d*, shape (S,) (thick dashed).
        line: ``(t, {label: rise}, panel title)``: t of shape (S,), each rise L(t·d*) - 2 log 2
            of shape (S,) in nats (thick dashed, the colour of the same label above).
        title: the figure title.
        zoom: optional ``(t_max, y_min, y_max)``: an inset in the line panel showing its curves for
            0 <= t <= t_max and y_min <= y <= y_max (a low barrier near w = 0).

    Returns:
        The figure (its one legend is ``fig.legends[0]``; the inset, if any, is
        ``fig.axes[-1].child_axes[0]``).

    Raises:
        ValueError: if ``zoom`` does not have t_max > 0 and y_min < y_max.
    """
    if zoom is not None and not (len(zoom) == 3 and zoom[0] > 0 and zoom[1] < zoom[2]):
        raise ValueError(f"zoom must be (t_max, y_min, y_max) with t_max > 0 and y_min < y_max, got {zoom}")
    n_panels = len(ratio_panels) + 1
    nrows = n_panels // 2 + 1  # room for the legend after the last panel
    fig, grid = plt.subplots(nrows, 2, figsize=(10, 4.0 * nrows + 0.4), squeeze=False)
    slots = list(grid.flat)
    axes, spare = slots[:n_panels], slots[n_panels:]
    labels = list(dict.fromkeys([lab for _, curves in ratio_panels.values() for lab in curves] + list(line[1])))
    colour = {label: f"C{i}" for i, label in enumerate(labels)}
    n_random = 0
    for ax, (sub, (t, curves)) in zip(axes, ratio_panels.items(), strict=False):
        ts = _to_numpy(t)
        values = []
        for label, (random, trained) in curves.items():
            rows = np.atleast_2d(_to_numpy(random))
            n_random = max(n_random, len(rows))
            for row in rows:
                ax.plot(ts, row, color=colour[label], lw=0.6, alpha=0.5)
            ax.plot(ts, _to_numpy(trained), color=colour[label], lw=2.2, ls="--")
            values += [rows.ravel(), _to_numpy(trained).ravel()]
        ax.axhline(0.0, color="black", lw=0.8)
        ax.axhline(1.0, color="0.5", lw=0.8, ls=":")
        ax.set_xscale("log")
        lo, hi = float(np.min(np.concatenate(values))), float(np.max(np.concatenate(values)))
        if lo >= -1.0 and hi <= 3.0:  # linear: 0, 1 and the curves' distance from 1 stay readable
            bottom, top = min(0.0, lo), max(1.0, hi)
            ax.set_ylim(bottom - 0.08 * (top - bottom), top + 0.08 * (top - bottom))
        else:
            ax.set_yscale("symlog", linthresh=1.0)
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlabel("distance t from w = 0 along a unit direction d")
        ax.set_ylabel("[L(t·d) − 2 log 2] / (λ_D t²)\n(> 0: the loss rises)")
        ax.set_title(sub)
    t, curves, sub = line
    ax = axes[-1]
    for label, y in curves.items():
        ax.plot(_to_numpy(t), _to_numpy(y), color=colour[label], lw=2.2, ls="--")
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_ylim(-1.5, 2.0)
    ax.set_xlabel("distance t from w = 0 along d*")
    ax.set_ylabel("L(t·d*) − 2 log 2   (nats)")
    ax.set_title(sub)
    if zoom is not None:  # upper middle: free of the curves that rise steeply near 0 or far out
        inset = ax.inset_axes([0.34, 0.5, 0.38, 0.42])
        for label, y in curves.items():
            inset.plot(_to_numpy(t), _to_numpy(y), color=colour[label], lw=1.8, ls="--")
        inset.axhline(0.0, color="black", lw=0.8)
        inset.set_xlim(0.0, zoom[0])
        inset.set_ylim(zoom[1], zoom[2])
        inset.tick_params(labelsize=8)
        inset.set_title(f"zoom: t ≤ {zoom[0]:g}", fontsize=9)
        inset.grid(alpha=0.3)
        ax.indicate_inset_zoom(inset, edgecolor="0.4")
    for ax in axes:
        ax.grid(alpha=0.3)
    handles = [matplotlib.lines.Line2D([], [], color=colour[label], lw=2.5, label=label) for label in labels]
    handles += [
        matplotlib.lines.Line2D([], [], color="0.3", lw=0.8, label=f"thin: {n_random} random unit directions d"),
        matplotlib.lines.Line2D([], [], color="0.3", lw=2.2, ls="--", label="thick dashed: trained direction d*"),
        matplotlib.lines.Line2D([], [], color="0.5", lw=0.8, ls=":", label="ratio 1: the penalty's own rise λ_D t²"),
        matplotlib.lines.Line2D([], [], color="black", lw=0.8, label="0: flat (below: the loss falls)"),
    ]
    fig.suptitle(title)
    fig.tight_layout()
    box = spare[0].get_position()
    for ax in spare:
        fig.delaxes(ax)
    fig.legend(handles=handles, loc="center", bbox_to_anchor=(box.x0 + box.width / 2, box.y0 + box.height / 2),
               fontsize=10, title="colour = λ_D", title_fontsize=10, frameon=False)
    return fig


# --- Dirac-GAN -----------------------------------------------------------------------------


def dirac_arrows(field) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, float]]:
    """Unit arrows of a Dirac-GAN field, coloured by speed (direction stays readable where it is weak).

    Args:
        field: a ``dirac.VectorFieldGrid`` with ``v_theta``, ``v_psi`` of shape (n, n).

    Returns:
        ``(u, v, speed, clim)``: the unit components and the speed, each (n, n), and colour
        limits for the speed on "Greys" (the slowest arrows light grey, not white).
    """
    speed = np.hypot(field.v_theta, field.v_psi)
    norm = np.where(speed > 0, speed, 1.0)
    top = float(speed.max()) or 1.0
    return field.v_theta / norm, field.v_psi / norm, speed, (-0.5 * top, top)


def plot_dirac_field(field, trajectories=(), fixed_point=None, data_point=None, ax=None,
                     stream: bool = False, title: str | None = None) -> Figure:
    """The Dirac-GAN vector field in the (θ, ψ) plane, with trajectories on top.

    Args:
        field: a ``dirac.VectorFieldGrid`` (θ, ψ, v_θ, v_ψ on a grid).
        trajectories: ``dirac.DiracTrajectory`` objects, or ``(label, trajectory)`` pairs;
            each is drawn as a line from ``START_MARKER`` to ``END_MARKER`` (named in the legend).
        fixed_point: (θ*, ψ*) of the penalized field, marked with a star.
        data_point: (c, 0), the unpenalized equilibrium, marked with a cross.
        ax: an axes to draw on; a new figure when None.
        stream: streamplot (smooth, slower) instead of quiver arrows.
        title: the axes title.

    Returns:
        The figure.
    """
    fig, ax = _new_or_given(ax, (5, 5))
    t, p = field.theta, field.psi
    u, v, speed, clim = dirac_arrows(field)
    if stream:
        ax.streamplot(t[0], p[:, 0], field.v_theta, field.v_psi, color=speed, cmap="Greys",
                      norm=matplotlib.colors.Normalize(*clim), density=1.0, linewidth=0.8,
                      arrowsize=0.8)
    else:
        ax.quiver(t, p, u, v, speed, cmap="Greys", angles="xy", pivot="mid", scale=30, width=0.004,
                  clim=clim)
    for i, item in enumerate(trajectories):
        label, traj = item if isinstance(item, tuple) else (f"{item.mode}, h = {item.h:g}", item)
        color = f"C{i}"
        ax.plot(traj.theta, traj.psi, color=color, lw=1.2, label=label)
        # zorder 3: an end on the fixed point stays visible, a dot inside the star
        ax.plot(traj.theta[0], traj.psi[0], START_MARKER, color=color, mec="black", ms=6, zorder=3)
        ax.plot(traj.theta[-1], traj.psi[-1], END_MARKER, color=color, mec="black", ms=6, zorder=3)
    if data_point is not None:
        ax.plot(*data_point, "x", color="red", ms=9, mew=2, label="data equilibrium (c, 0)")
    if fixed_point is not None:
        ax.plot(*fixed_point, "*", color="gold", mec="black", ms=13, label="fixed point of v")
    ax.set_xlim(t.min(), t.max())
    ax.set_ylim(p.min(), p.max())
    ax.set_aspect("equal")
    ax.set_xlabel("θ (generator: where p_g = δ_θ sits)")
    ax.set_ylabel("ψ (discriminator: D(x) = σ(ψx))")
    if title:
        ax.set_title(title)
    if trajectories or fixed_point is not None or data_point is not None:
        handles, _ = ax.get_legend_handles_labels()
        ax.legend(handles=handles + (start_end_handles() if trajectories else []), loc="lower left",
                  fontsize=8, framealpha=0.85)
    return fig


def plot_dirac_distance(curves: dict, ax=None, title: str | None = None, dashed=()) -> Figure:
    """Distance to equilibrium against step, log scale.

    Args:
        curves: ``{label: distances}``; distances of shape (steps + 1,). Values below 1e-16
            are drawn at 1e-16.
        ax: an axes to draw on; a new figure when None.
        title: the axes title.
        dashed: labels of the curves to draw dashed.

    Returns:
        The figure.
    """
    fig, ax = _new_or_given(ax, (5.5, 3.5))
    for label, dist in curves.items():
        d = np.maximum(_to_numpy(dist).astype(np.float64), DIRAC_DISTANCE_FLOOR)
        style = "--" if label in dashed else "-"
        ax.semilogy(np.arange(len(d)), d, style, lw=1.3, label=label)
    # plain "1e-05" labels, no minor ticks: log-axis mathtext labels cost ~10 ms per redraw
    ax.yaxis.set_major_locator(LogLocator(numticks=8))
    ax.yaxis.set_major_formatter(LogFormatter())
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("step")
    ax.set_ylabel("distance to equilibrium")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return fig


def plot_dirac_efold(curves: dict, efold: dict, ax=None, title: str | None = None,
                     floor: float = 1e-3) -> Figure:
    """Distance to equilibrium against step, both axes logarithmic, with each run's e-fold time marked.

    Args:
        curves: ``{label: distances}``, each of shape (steps + 1,), step 0 (the start) first.
        efold: ``{label: steps}``, the predicted e-fold time of the curve with the same label,
            drawn as a dotted vertical line in its colour.
        ax: an axes to draw on; a new figure when None.
        title: the axes title.
        floor: the bottom of the distance axis as a fraction of the largest start distance
            (the e-folds are the subject, not the round-off floor).

    Returns:
        The figure. Where a curve first falls below its start distance / e (dotted
        horizontal line) a dot marks the measured e-fold time.
    """
    fig, ax = _new_or_given(ax, (7.5, 4.2))
    for i, (label, dist) in enumerate(curves.items()):
        d = np.maximum(_to_numpy(dist).astype(np.float64), DIRAC_DISTANCE_FLOOR)
        steps = np.arange(len(d))
        ax.loglog(steps[1:], d[1:], color=f"C{i}", lw=1.2, label=label)  # step 0 cannot sit on a log axis
        if label in efold:
            ax.axvline(efold[label], color=f"C{i}", lw=1, ls=":")
        below = np.flatnonzero(d < d[0] / np.e)
        if below.size:
            ax.plot(steps[below[0]], d[below[0]], "o", color=f"C{i}", mec="black", ms=6)
    starts = {float(_to_numpy(dist)[0]) for dist in curves.values()}
    for d0 in starts:
        ax.axhline(d0 / np.e, color="black", lw=0.8, ls=":")
    ax.plot([], [], color="black", lw=0.8, ls=":", label="start distance / e")
    ax.plot([], [], color="0.4", lw=1, ls=":", label="predicted e-fold time −1/ln ρ ≈ 1/(hλ_D)")
    ax.plot([], [], "o", color="0.6", mec="black", ms=6, ls="none", label="measured: first step below / e")
    ax.set_ylim(floor * max(starts), 2 * max(starts))
    ax.set_xlabel("step (log scale)")
    ax.set_ylabel("distance to equilibrium (log scale)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    if title:
        ax.set_title(title)
    return fig


def plot_dirac_eigenvalues(lambda_d, eigenvalues, critical: float | None = None, ax=None,
                           title: str | None = None) -> Figure:
    """Real parts of the two equilibrium eigenvalues against λ_D.

    Args:
        lambda_d: λ_D values, shape (N,).
        eigenvalues: complex array (N, 2), e.g. from ``dirac.closed_form_eigenvalues``.
        critical: the critical-damping λ_D, drawn as a vertical line.
        ax: an axes to draw on; a new figure when None.
        title: the axes title.

    Returns:
        The figure.
    """
    fig, ax = _new_or_given(ax, (5.5, 3.5))
    lam = _to_numpy(lambda_d)
    eig = np.asarray(eigenvalues)
    ax.plot(lam, eig[:, 0].real, lw=2, label="Re μ₊")
    ax.plot(lam, eig[:, 1].real, lw=2, ls="--", label="Re μ₋")
    ax.plot(lam, np.abs(eig[:, 0].imag), lw=1, color="grey", label="|Im μ| (rotation speed)")
    ax.axhline(0, color="black", lw=0.8)
    if critical is not None:
        ax.axvline(critical, color="red", lw=1, ls=":", label=f"critical damping λ_D = {critical:g}")
    ax.set_xlabel("λ_D")
    ax.set_ylabel("eigenvalue of the Jacobian at (0, 0)")
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title)
    return fig


def plot_dirac_spectral_radius(h, radii: dict, h_max: dict | None = None, ax=None,
                               title: str | None = None) -> Figure:
    """Spectral radius of one discrete update against the step size h.

    Args:
        h: step sizes, shape (N,).
        radii: ``{label: spectral radii}``, each of shape (N,).
        h_max: optional ``{label: h}`` stability limits, drawn as dotted vertical lines in
            the colour of the curve with the same label.
        ax: an axes to draw on; a new figure when None.
        title: the axes title.

    Returns:
        The figure.
    """
    fig, ax = _new_or_given(ax, (5.5, 3.5))
    hs = _to_numpy(h)
    for i, (label, rho) in enumerate(radii.items()):
        ax.plot(hs, _to_numpy(rho), color=f"C{i}", lw=1.6, label=label)
        if h_max and label in h_max:
            ax.axvline(h_max[label], color=f"C{i}", lw=1, ls=":")
    ax.axhline(1.0, color="black", lw=0.8, ls="--", zorder=0)
    ax.set_xlabel("step size h")
    ax.set_ylabel("spectral radius ρ (converges iff < 1)")
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title)
    return fig


# --- training curves and digit metrics -----------------------------------------------------


def _series(history, key: str) -> np.ndarray:
    return np.asarray(history.scalars[key], dtype=np.float64)


def _loss_panel(ax, steps: np.ndarray, history) -> None:
    """The adversarial losses alone (the penalties get their own panel, so a large one cannot flatten them)."""
    ax.plot(steps, _series(history, "d_loss"), color="C0", lw=1, label="L_D")
    ax.plot(steps, _series(history, "g_loss"), color="C1", lw=1, label="L_G")
    ax.set_ylabel("loss (nats)")
    ax.set_title("Adversarial losses (without λΣw²)")


def _penalty_panel(ax, steps: np.ndarray, history) -> None:
    """The two penalty terms λΣw² on a log axis, where they are not 0; a note when both are 0."""
    drawn = False
    for key, color, label in (("d_penalty", "C0", "λ_D Σw_D²"), ("g_penalty", "C1", "λ_G Σw_G²")):
        pen = _series(history, key)
        if pen.size and np.nanmax(np.abs(pen)) > 0:
            ax.plot(steps, np.where(pen > 0, pen, np.nan), color=color, ls="--", lw=1, label=label)
            drawn = True
    if drawn:
        ax.set_yscale("log")
        _plain_log_ticks(ax)
    elif steps.size:
        ax.text(0.5, 0.5, "λ_G = λ_D = 0: no penalty", ha="center", va="center", transform=ax.transAxes,
                color="0.4", fontsize=8)
        ax.set_yticks([])  # no scale to read
    ax.set_ylabel("penalty (nats, log)", fontsize=8)
    ax.set_title("Penalty terms added to the losses", fontsize=9)


def _d_output_panel(ax, steps: np.ndarray, history) -> None:
    """Mean D(x) on real and on generated samples, with the 0.5 line."""
    ax.plot(steps, _series(history, "d_real"), color="C2", lw=1, label="D(x), real")
    ax.plot(steps, _series(history, "d_fake"), color="C3", lw=1, label="D(G(z)), generated")
    ax.axhline(0.5, color="0.5", ls=":", lw=1, label="0.5: D cannot tell")
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("mean probability 'real'")
    ax.set_title("What the discriminator says")


def _grad_norm_panel(ax, steps: np.ndarray, history) -> None:
    """Gradient norms of D and G on a log axis (zeros left out)."""
    for key, color, label in (("grad_norm_d", "C0", "‖∇L_D‖ (D's weights)"),
                              ("grad_norm_g", "C1", "‖∇L_G‖ (G's weights)")):
        g = _series(history, key)
        ax.plot(steps, np.where(g > 0, g, np.nan), color=color, lw=1, label=label)
    if steps.size:
        ax.set_yscale("log")
        _plain_log_ticks(ax)
        lo, hi = ax.get_ylim()
        if np.floor(np.log10(hi)) - np.ceil(np.log10(lo)) < 1:  # at most one power of ten inside: label 2 and 5 too
            ax.yaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
            ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.tick_params(axis="y", which="minor", labelsize=8)
    ax.set_ylabel("gradient norm (log scale)")
    ax.set_title("Gradient norms")


def _headroom(ax, share: float) -> None:
    """Raise the top of the y axis by ``share`` of its span (in log units on a log axis): room for a legend."""
    lo, hi = ax.get_ylim()
    if ax.get_yscale() == "log":
        ax.set_ylim(lo, hi * (hi / lo) ** share)
    else:
        ax.set_ylim(lo, hi + share * (hi - lo))


def _weight_norm_panel(ax, steps: np.ndarray, history) -> None:
    """Weight norms ‖w_D‖ and ‖w_G‖."""
    ax.plot(steps, _series(history, "weight_norm_d"), color="C0", lw=1.3, label="‖w_D‖")
    ax.plot(steps, _series(history, "weight_norm_g"), color="C1", lw=1.3, label="‖w_G‖")
    ax.set_ylabel("weight norm sqrt(Σw²)")
    ax.set_title("Weight norms")


def _samples_panel(ax, history, n_images: int, nrow: int) -> None:
    """The latest fixed-noise samples, or a note that there are none yet."""
    if history.samples:
        plot_image_grid(history.samples[-1][:n_images], nrow=nrow, ax=ax,
                        title=f"samples from fixed noise, step {history.sample_steps[-1]:,}")
    else:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no samples yet", ha="center", va="center", transform=ax.transAxes)


def plot_training_dashboard(history, title: str | None = None, n_images: int = 64, nrow: int = 8) -> Figure:
    """A run at a glance: losses, D(x) vs. D(G(z)), gradient norms, weight norms, latest samples.

    Works on a run in progress (``train_gan``'s ``on_log`` passes the growing history) and on
    a finished one. Samples are the fixed-noise batch at the latest evaluation step.

    Args:
        history: a ``train.History`` (``steps``, ``scalars``, ``sample_steps``, ``samples``;
            samples of shape (N, C, H, W) in [-1, 1]).
        title: prefix of the figure title (e.g. "λ_G = λ_D = 1e-4").
        n_images: how many samples of the latest evaluation to show.
        nrow: images per grid row.

    Returns:
        The figure (six axes, in this order: adversarial losses, penalty terms, D's outputs,
        gradient norms, weight norms, the sample grid).
    """
    steps = np.asarray(history.steps, dtype=np.float64)
    fig = plt.figure(figsize=(13, 7.2))
    gs = fig.add_gridspec(2, 3, width_ratios=[1, 1, 1.35])
    # the losses' cell holds two panels on one step axis: the adversarial losses, and below them
    # the penalties, whose scale (up to ~26 nats at λ = 1e-2) would flatten the losses on one axis
    loss_gs = gs[0, 0].subgridspec(2, 1, height_ratios=[1.6, 1], hspace=0.45)
    ax_loss = fig.add_subplot(loss_gs[0])
    ax_pen = fig.add_subplot(loss_gs[1], sharex=ax_loss)
    curves = (ax_loss, ax_pen, fig.add_subplot(gs[0, 1]), fig.add_subplot(gs[1, 0]), fig.add_subplot(gs[1, 1]))
    ax_img = fig.add_subplot(gs[:, 2])
    for ax, panel in zip(curves, (_loss_panel, _penalty_panel, _d_output_panel, _grad_norm_panel,
                                  _weight_norm_panel), strict=True):
        panel(ax, steps, history)
        ax.set_xlabel(_STEP_LABEL, fontsize=8)
        ax.grid(alpha=0.3)
        if steps.size and ax.lines:
            if panel in (_loss_panel, _grad_norm_panel):  # curves that fill the panel: a legend row above them
                _headroom(ax, 0.3)
                ax.legend(fontsize=7.5, loc="upper center", ncol=2, framealpha=0.9)
            else:
                ax.legend(fontsize=7, loc="best")
    ax_loss.tick_params(labelbottom=False)
    ax_loss.set_xlabel("")
    _samples_panel(ax_img, history, n_images, nrow)
    total = (history.config or {}).get("steps")
    done = int(steps[-1]) if steps.size else 0
    head = f"{title}: " if title else ""
    fig.suptitle(f"{head}step {done:,}" + (f" of {total:,}" if total else "")
                 + (" (diverged)" if getattr(history, "diverged", False) else ""))
    fig.tight_layout()
    return fig


def plot_class_histograms(counts: dict, ax=None, title: str = "Which digits the generator draws",
                          n_classes: int = 10) -> Figure:
    """Grouped bars: the share of samples the classifier puts in each digit class, per label.

    Args:
        counts: label → predicted samples per class, shape (n_classes,) (e.g.
            ``metrics.ClassStats.counts``). The legend shows each label's sample count.
        ax: an axes to draw on; a new figure when None.
        title: the axes title.
        n_classes: number of classes (10 digits).

    Returns:
        The figure.

    Raises:
        ValueError: when a count vector has the wrong shape, is negative or sums to 0.
    """
    if not counts:
        raise ValueError("counts is empty: give at least one label → class counts")
    fig, ax = _new_or_given(ax, (8, 3.6))
    width = 0.8 / len(counts)
    for k, (label, c) in enumerate(counts.items()):
        c = _to_numpy(c).astype(np.float64)
        if c.shape != (n_classes,) or (c < 0).any() or c.sum() == 0:
            raise ValueError(f"counts[{label!r}] must be {n_classes} non-negative counts, not all 0; got {c}")
        share = 100 * c / c.sum()
        ax.bar(np.arange(n_classes) + (k - (len(counts) - 1) / 2) * width, share, width,
               color=f"C{k}", label=f"{label} (n = {int(c.sum())})")
    ax.axhline(100 / n_classes, color="black", ls="--", lw=1, label=f"uniform: {100 / n_classes:g} % (real data)")
    ax.set_xticks(np.arange(n_classes))
    ax.set_xlabel("digit class predicted by the classifier")
    ax.set_ylabel("share of samples (%)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="y")
    return fig


def plot_nearest_neighbours(samples, neighbours, distances, reference_distance: float | None = None,
                            title: str = "Generated samples and their nearest training images") -> Figure:
    """One row per generated sample: the sample, then its nearest training images with their distances.

    Args:
        samples: generated images (M, C, H, W) in [-1, 1].
        neighbours: their nearest training images (M, k, C, H, W), nearest first
            (``metrics.nearest_training_images``).
        distances: the pixel-space distances (M, k).
        reference_distance: what "new" looks like, e.g. the median distance of held-out
            images to the training set (``metrics.DataCopying.held_out_to_train``); shown in
            the title when given.
        title: the figure title.

    Returns:
        The figure.

    Raises:
        ValueError: when the shapes do not match.
    """
    x, nb, d = _to_numpy(samples), _to_numpy(neighbours), _to_numpy(distances)
    if x.ndim != 4 or nb.ndim != 5 or nb.shape[0] != x.shape[0] or nb.shape[2:] != x.shape[1:] \
            or d.shape != nb.shape[:2] or x.shape[0] == 0:
        raise ValueError(f"need samples (M, C, H, W), neighbours (M, k, C, H, W) and distances (M, k) with "
                         f"M >= 1; got {x.shape}, {nb.shape}, {d.shape}")
    m, k = nb.shape[:2]
    fig, axes = plt.subplots(m, k + 1, figsize=(1.3 * (k + 1), 1.35 * m + 0.6), squeeze=False)

    def show(ax, img):
        img = (np.clip(img, -1, 1) + 1) / 2
        ax.imshow(img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])

    for i in range(m):
        show(axes[i, 0], x[i])
        for side in axes[i, 0].spines.values():  # the generated sample is framed in red
            side.set_color("C3")
            side.set_linewidth(2)
        for j in range(k):
            show(axes[i, j + 1], nb[i, j])
            axes[i, j + 1].set_xlabel(f"d = {d[i, j]:.2f}", fontsize=7, labelpad=1)
    axes[0, 0].set_title("generated", fontsize=8, color="C3")
    for j in range(k):
        axes[0, j + 1].set_title(f"training nn {j + 1}", fontsize=8)
    note = "" if reference_distance is None else \
        f"\nd: pixel distance ([-1, 1] scale); held-out images lie a median {reference_distance:.2f} from the training set"
    fig.suptitle(title + note, fontsize=9)
    fig.tight_layout()
    return fig


def plot_seed_curves(curves: dict, ylabel: str, ax=None, title: str | None = None,
                     xlabel: str = _STEP_LABEL, logy: bool = False, reference: float | None = None,
                     reference_label: str = "real data") -> Figure:
    """One line per label: the mean over seeds, with a band from the lowest to the highest seed.

    Args:
        curves: label → list of ``(x, y)`` runs (one per seed), x and y of shape (T_i,). Runs
            of different lengths (a diverged run stops early) are cut to the shortest.
        ylabel: the y-axis label (with units).
        ax: an axes to draw on; a new figure when None.
        title: the axes title.
        xlabel: the x-axis label.
        logy: logarithmic y axis.
        reference: a value drawn as a dashed horizontal line (e.g. the real-data level).
        reference_label: its legend entry.

    Returns:
        The figure.

    Raises:
        ValueError: when a label has no runs or a run's x and y differ in length.
    """
    fig, ax = _new_or_given(ax, (6, 3.8))
    for k, (label, runs) in enumerate(curves.items()):
        runs = [(_to_numpy(x).astype(np.float64), _to_numpy(y).astype(np.float64)) for x, y in runs]
        if not runs:
            raise ValueError(f"curves[{label!r}] has no runs")
        for x, y in runs:
            if x.shape != y.shape or x.ndim != 1:
                raise ValueError(f"curves[{label!r}]: x and y must be 1-D of the same length, got {x.shape}, {y.shape}")
        n = min(len(x) for x, _ in runs)
        x = runs[0][0][:n]
        ys = np.stack([y[:n] for _, y in runs])
        n_runs = f"{len(runs)} seeds" if len(runs) > 1 else "1 seed"
        ax.plot(x, ys.mean(0), color=f"C{k}", lw=1.6, label=f"{label} (mean of {n_runs})")
        if len(runs) > 1:
            ax.fill_between(x, ys.min(0), ys.max(0), color=f"C{k}", alpha=0.2, lw=0)
    if reference is not None:
        ax.axhline(reference, color="black", ls="--", lw=1, label=reference_label)
    if logy:
        ax.set_yscale("log")
        _plain_log_ticks(ax)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3, which="both" if logy else "major")
    ax.legend(fontsize=7)
    return fig


def plot_seed_lines_per_label(rows: dict, window_start: float | None = None, references: dict | None = None,
                              notes: dict | None = None, title: str | None = None,
                              xlabel: str = _STEP_LABEL) -> Figure:
    """Small multiples: one column per label (e.g. a λ), one row per quantity, one thin line per seed.

    Every seed is drawn, not a band, so that a reader sees how much each run wiggles — what a
    tail standard deviation summarizes. Panels of a row share their y axis; column k is drawn in
    colour ``C{k}``, the colour ``plot_seed_curves`` gives its k-th label. The figure is sized for
    a notebook column (9 inches, 900 px at 100 dpi, for four labels), so that its 8-pt notes and
    legend stay legible there; the one legend sits under the panels, and each row's y axis gets
    headroom above the curves for the notes.

    Args:
        rows: y-axis label (with units) → {label: list of ``(x, y)`` runs, one per seed, each
            of shape (T_i,)}. Every row has the same labels in the same order.
        window_start: x from which a trailing window runs (the one a tail statistic reads);
            shaded in every panel. None: no shading.
        references: y-axis label → ``(value, text)``: a dotted horizontal line in that row's
            panels, with ``text`` in the legend.
        notes: y-axis label → {label: text}: written in the top left corner of that panel
            (e.g. the tail statistic of each seed; a few short lines).
        title: the figure title.
        xlabel: the x-axis label, once under the bottom row (``fig.supxlabel``).

    Returns:
        The figure, ``len(rows) × len(labels)`` axes in row-major order, and one figure legend.

    Raises:
        ValueError: when there are no rows, rows have different labels, a label has no runs,
            or a run's x and y are not 1-D of the same length.
    """
    if not rows:
        raise ValueError("rows is empty: give at least one y label → {label: runs}")
    labels = list(next(iter(rows.values())))
    if not labels or any(list(curves) != labels for curves in rows.values()):
        raise ValueError(f"every row needs the same labels in the same order, got {[list(c) for c in rows.values()]}")
    references, notes = references or {}, notes or {}
    legend_in = 0.5  # inches under the panels for the legend
    height = 2.4 * len(rows) + 0.5 + legend_in
    fig, axes = plt.subplots(len(rows), len(labels), figsize=(2.0 * len(labels) + 1.0, height),
                             sharex=True, sharey="row", squeeze=False)
    legend = {}  # label → handle, in the order first drawn, over all panels
    for i, (ylabel, curves) in enumerate(rows.items()):
        for k, label in enumerate(labels):
            ax, runs = axes[i, k], curves[label]
            if not runs:
                raise ValueError(f"rows[{ylabel!r}][{label!r}] has no runs")
            for x, y in runs:
                x, y = _to_numpy(x).astype(np.float64), _to_numpy(y).astype(np.float64)
                if x.ndim != 1 or x.shape != y.shape:
                    raise ValueError(f"rows[{ylabel!r}][{label!r}]: x and y must be 1-D of the same length, "
                                     f"got {x.shape}, {y.shape}")
                ax.plot(x, y, color=f"C{k}", lw=0.8, alpha=0.8)
            seed_label = f"one line per seed ({len(runs)}), in the column's colour"
            legend.setdefault(seed_label, matplotlib.lines.Line2D([], [], color="0.3", lw=0.8))
            if window_start is not None:
                span = ax.axvspan(window_start, max(float(np.max(_to_numpy(x))) for x, _ in runs), color="0.5",
                                  alpha=0.15, lw=0)
                legend.setdefault("grey band: the window the tail statistics read", span)
            if ylabel in references:
                value, text = references[ylabel]
                legend.setdefault(text, ax.axhline(value, color="black", ls=":", lw=1))
            if label in notes.get(ylabel, {}):
                ax.text(0.04, 0.97, notes[ylabel][label], transform=ax.transAxes, ha="left", va="top", fontsize=8,
                        linespacing=1.15, bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 1.5})
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=8)
            if i == 0:
                ax.set_title(label, color=f"C{k}", fontsize=10)
            if k == 0:
                ax.set_ylabel(ylabel, fontsize=9)
        if notes.get(ylabel):  # the row shares its y axis: room above every curve for the notes
            _headroom(axes[i, 0], 0.4)
    fig.supxlabel(xlabel, fontsize=9, y=legend_in / height)  # one x label: a column is too narrow for it
    fig.legend(list(legend.values()), list(legend), loc="lower center", ncol=2, fontsize=8.5, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    if title:
        fig.suptitle(title, fontsize=10.5)
    fig.tight_layout(rect=(0, legend_in / height, 1, 1), h_pad=0.6, w_pad=0.4)
    return fig


# --- sweep maps and curves -----------------------------------------------------------------


def lambda_position(value: float, grid) -> float:
    """Where ``value`` sits on an axis whose ticks 0, 1, … are the λ values of ``grid``.

    Grid values sit on their index; other values are placed by log-interpolation between
    the positive grid values (a λ between 0 and the smallest positive value goes half-way).

    Args:
        value: a λ ≥ 0.
        grid: the axis' λ values, ascending.

    Returns:
        A position in [-0.5, len(grid) - 0.5].
    """
    grid = np.asarray(grid, dtype=np.float64)
    hit = np.flatnonzero(np.isclose(grid, value, rtol=1e-9, atol=0))
    if hit.size:
        return float(hit[0])
    pos_idx = np.flatnonzero(grid > 0)
    if value <= 0 or pos_idx.size == 0:
        return -0.5
    logs = np.log10(grid[pos_idx])
    lv = np.log10(value)
    if pos_idx.size == 1:
        x = float(pos_idx[0]) + (0.5 if lv > logs[0] else -0.5)
    elif lv < logs[0]:
        x = pos_idx[0] - (logs[0] - lv) / (logs[1] - logs[0])
    elif lv > logs[-1]:
        x = pos_idx[-1] + (lv - logs[-1]) / (logs[-1] - logs[-2])
    else:
        x = float(np.interp(lv, logs, pos_idx))
    if np.any(grid == 0):  # never on top of the 0 stop
        x = max(x, float(np.flatnonzero(grid == 0)[0]) + 0.5)
    return float(np.clip(x, -0.5, len(grid) - 0.5))


def lab_metrics(result) -> list[str]:
    """The summary metrics the λ lab maps for a sweep: up to three quality maps, then stability.

    The divergence map is left out when no run of the sweep diverged: a panel of zeros says
    nothing a title cannot (``plot_metric_maps`` says so in its title).
    """
    keys = map_metrics(set().union(*(r.summary for r in result.records)) if result.records else ())
    return [k for k in keys if k != "diverged" or _any_diverged(result)]


def _any_diverged(result) -> bool:
    return any(r.diverged for r in result.records)


#: How a map marks a cell's paired effect: verdict → (marker, face colour, edge colour, legend text).
_EFFECT_STYLE = {
    "better": ("^", "white", "black", "better than the baseline"),
    "worse": ("v", "C3", "white", "worse than the baseline"),
    "higher": ("^", "0.6", "black", "higher than the baseline"),
    "lower": ("v", "0.6", "black", "lower than the baseline"),
}
_NEUTRAL_FADE = 0.6  # opacity of the white veil over a neutral cell: its colour stays legible
_NEUTRAL_HATCH = (0.45, 0.45, 0.45, 0.5)  # its thin hatching: visible on bright cells too
_NO_INTERVAL = "no interval (fewer than 2 seeds\nwith values in both)"
_MARK_DX, _MARK_DY, _TEXT_DY = 0.3, 0.25, -0.08  # mark in a cell's upper right, its number moved down
# text sizes of a map (points): at 100 dpi a 10-pt number is 14 px tall, ~12 px when a figure of
# three maps per row (~1,050 px) is shown at a notebook's ~900 px
_MAP_VALUE_PT, _MAP_TICK_PT, _MAP_LABEL_PT, _MAP_TITLE_PT = 10, 8.5, 9, 11
_FAILED_FACE = "0.3"  # a failed cell (dead D or collapsed G in every seed): off the colour scale


def _check_effects(effects, metric: str, shape: tuple[int, int]) -> None:
    if getattr(effects, "metric", None) != metric:
        raise ValueError(f"effects must be the sweep.EffectGrid of {metric!r}, "
                         f"got one of {getattr(effects, 'metric', type(effects).__name__)!r}")
    if np.shape(effects.verdict) != shape:
        raise ValueError(f"effects has shape {np.shape(effects.verdict)}, the map {shape}")


def _draw_effects(ax, effects, values: np.ndarray, failed: np.ndarray) -> None:
    """Veil neutral cells, put ▲ / ▼ in the corner of cells whose interval excludes 0, mark the baseline.

    A cell with a value on the map but fewer than 2 pairs (no interval) gets a small ×. A failed
    cell keeps its dark grey (no veil): whatever its interval says, its run failed.
    """
    verdict = np.asarray(effects.verdict, dtype=object)
    own = effects.baseline_index
    for i, j in zip(*np.nonzero(verdict == "neutral"), strict=True):
        if (own is not None and (i, j) == tuple(own)) or failed[i, j]:
            continue  # the baseline against itself: Δ ≡ 0, marked on its own below
        ax.add_patch(matplotlib.patches.Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=(1, 1, 1, _NEUTRAL_FADE),
                                                  edgecolor=_NEUTRAL_HATCH, hatch="////", lw=0,
                                                  gid="effect-neutral", zorder=2))
    base = f"λ_G = {lambda_label(effects.baseline[0])}, λ_D = {lambda_label(effects.baseline[1])}"
    for v, (marker, face, edge, text) in _EFFECT_STYLE.items():
        rows, cols = np.nonzero(verdict == v)
        if rows.size:
            ax.plot(cols + _MARK_DX, rows + _MARK_DY, marker, ms=8, mfc=face, mec=edge, mew=1.0, ls="none",
                    gid=f"effect-{v}", label=text.replace("the baseline", base), zorder=4)
    rows, cols = np.nonzero((verdict == "") & np.isfinite(values))
    if rows.size:
        ax.plot(cols + _MARK_DX, rows + _MARK_DY, "x", ms=5, mec="0.6", mew=1.2, ls="none", gid="effect-none",
                label=_NO_INTERVAL, zorder=4)
    if own is not None:
        ax.plot(own[1] + _MARK_DX, own[0] + _MARK_DY, "s", ms=6, mfc="white", mec="black", mew=1.0, ls="none",
                gid="effect-baseline", label=f"baseline ({base})", zorder=4)


def _effect_legend_handles(effects: list, verdicts: set[str], no_interval: bool) -> list:
    """Legend handles explaining a map's effect marks (one per kind of mark drawn)."""
    e = effects[0]
    base = f"λ_G = {lambda_label(e.baseline[0])}, λ_D = {lambda_label(e.baseline[1])}"
    level = f"{100 * next(iter(e.effects.values())).confidence:g} %" if e.effects else "95 %"
    handles = []
    for v, (marker, face, edge, text) in _EFFECT_STYLE.items():
        if v in verdicts:
            handles.append(matplotlib.lines.Line2D([], [], marker=marker, ls="none", ms=7, mfc=face, mec=edge,
                                                   label=text.replace("the baseline", base)))
    if "neutral" in verdicts:
        handles.append(matplotlib.patches.Patch(facecolor="0.9", edgecolor=_NEUTRAL_HATCH, hatch="////",
                                                label=f"faded: neutral\n({level} interval contains 0)"))
    if no_interval:
        handles.append(matplotlib.lines.Line2D([], [], marker="x", ls="none", ms=5, mec="0.6", mew=1.2,
                                               label=_NO_INTERVAL))
    if any(x.baseline_index is not None for x in effects):
        handles.append(matplotlib.lines.Line2D([], [], marker="s", ls="none", ms=6, mfc="white", mec="black",
                                               label="the baseline itself"))
    handles.append(matplotlib.patches.Patch(facecolor="none", edgecolor="none",
                                            label=f"▲▼: the {level} bootstrap interval of the\nper-seed "
                                                  "difference excludes 0"))
    return handles


def draw_metric_map(ax, result, metric: str, seed: int | None = None, annotate: bool = True,
                    colorbar: bool = True, effects=None, failed=None, value_pt: float = _MAP_VALUE_PT) -> None:
    """One summary metric over the (λ_G, λ_D) grid as a coloured table, with the values written in.

    Rows are λ_G (up), columns λ_D (right); ticks are the grid's λ values. Cells without a
    run (off the diagonal of a diagonal sweep) are light grey. Colours run dark → bright from
    worse to better. With ``effects``, a cell whose paired interval excludes 0 gets ▲ (better)
    or ▼ (worse) in its corner, a neutral cell is faded under a white veil, and the baseline
    cell gets a small square; the marks carry legend labels. ``failed`` cells are painted dark
    grey instead of their colour, so that no failure can look bright ("good").

    Args:
        ax: the axes.
        result: a ``sweep.SweepResult``.
        metric: a key of the records' ``summary`` (see ``evaluate.METRICS`` for the known ones).
        seed: one seed, or None for the mean over seeds.
        annotate: write each cell's value in it.
        colorbar: add a colour bar with the metric's unit.
        effects: None, or ``sweep.effect_grid(result, metric)`` (an ``EffectGrid`` of this
            metric, shaped like the map).
        failed: None, or booleans shaped like the map: cells drawn dark grey (off the colour
            scale), their numbers in white; ``plot_metric_maps`` passes its failed cells.
        value_pt: the cells' number size in points (a narrow map, such as the λ lab's, needs less).

    Raises:
        ValueError: for effects of another metric or shape, or ``failed`` of another shape.
    """
    values = result.grid(metric, seed)
    if effects is not None:
        _check_effects(effects, metric, values.shape)
    failed = np.zeros(values.shape, bool) if failed is None else np.asarray(failed, dtype=bool)
    if failed.shape != values.shape:
        raise ValueError(f"failed must have the map's shape {values.shape}, got {failed.shape}")
    info = metric_info(metric)
    higher_better = info.higher_is_better is not False
    dataset = result.config.base.dataset
    cmap = plt.get_cmap("viridis" if higher_better else "viridis_r").with_extremes(bad="0.88")
    n_samples = result.config.base.n_eval_samples
    vmin, vmax = colour_range(metric, values, dataset, n_samples)
    im = ax.imshow(np.ma.masked_invalid(values), origin="lower", cmap=cmap, vmin=vmin, vmax=vmax,
                   aspect="auto", interpolation="nearest")
    for i, j in zip(*np.nonzero(failed), strict=True):
        ax.add_patch(matplotlib.patches.Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=_FAILED_FACE, lw=0,
                                                  gid="failed-cell", zorder=1.5))
    lg, ld = result.config.lambda_g, result.config.lambda_d
    ax.set_xticks(range(len(ld)), [lambda_label(v) for v in ld], fontsize=_MAP_TICK_PT)
    ax.set_yticks(range(len(lg)), [lambda_label(v) for v in lg], fontsize=_MAP_TICK_PT)
    ax.set_xlabel("λ_D (penalty on D)", fontsize=_MAP_LABEL_PT)
    ax.set_ylabel("λ_G (penalty on G)", fontsize=_MAP_LABEL_PT)
    ax.set_title(info.label, fontsize=_MAP_TITLE_PT)
    if annotate:
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                v = values[i, j]
                if not np.isfinite(v):
                    continue
                shade = (v - vmin) / (vmax - vmin) if vmax > vmin else 0.5
                bright = shade > 0.6 if higher_better else shade < 0.4
                veiled = effects is not None and effects.verdict[i, j] == "neutral" and not failed[i, j] and \
                    (effects.baseline_index is None or (i, j) != tuple(effects.baseline_index))
                text = format_value(metric, v)
                # a long number ("4.9e-3") shrinks to the width of five characters: it stays in its cell
                ax.text(j, i + (_TEXT_DY if effects is not None else 0.0), text,
                        ha="center", va="center", fontsize=value_pt * min(1.0, 5.0 / len(text)),
                        color="black" if (bright or veiled) and not failed[i, j] else "white", zorder=3)
    if effects is not None:
        _draw_effects(ax, effects, values, failed)
    if colorbar:
        cb = ax.figure.colorbar(im, ax=ax, fraction=0.07, pad=0.03)
        cb.set_label(unit_label(metric, dataset, n_samples), fontsize=_MAP_LABEL_PT - 1)
        cb.ax.tick_params(labelsize=_MAP_TICK_PT - 1)


def failed_cells(dead=None, collapsed=None) -> np.ndarray:
    """The cells a map paints dark grey: D dead in every seed, or G collapsed in every seed.

    One rule for every map: such a cell's numbers belong to a generator that stopped learning
    or hits one mode, so "bright = good" must not reward them, whatever their value.

    Args:
        dead: ``sweep.dead_d_fraction(result)`` or None.
        collapsed: ``sweep.collapsed_fraction(result)`` or None (same shape as ``dead``).

    Returns:
        Booleans shaped like the given grids (shape () when both are None: nothing failed).
    """
    grids = [np.nan_to_num(np.asarray(g, dtype=float)) for g in (dead, collapsed) if g is not None]
    if not grids:
        return np.zeros((), bool)
    return np.logical_or.reduce([g >= 1.0 for g in grids])


def _corner_marks(ax, dead, collapsed, n_seeds: int) -> None:
    """† / (†) in a cell's lower left (D dead in every / some seed), ⊙ / ⊙k in its lower right.

    ⊙: G collapsed in every seed; ⊙k: in k seeds, marked only where they are a majority (a
    seed or two on one mode is ring8's everyday luck, and a count in every cell hides the numbers).
    """
    box = {"boxstyle": "round,pad=0.05", "fc": "white", "ec": "none", "alpha": 0.85}
    if dead is not None:
        for i, j in zip(*np.nonzero(np.nan_to_num(np.asarray(dead, dtype=float)) > 0), strict=True):
            every = dead[i][j] >= 1
            ax.text(j - 0.45, i - 0.44, "†" if every else "(†)", ha="left", va="bottom",
                    fontsize=10 if every else 8, color="black", zorder=5, gid="dead-d", bbox=box)
    if collapsed is not None:
        for i, j in zip(*np.nonzero(np.nan_to_num(np.asarray(collapsed, dtype=float)) > 0.5), strict=True):
            every = collapsed[i][j] >= 1
            ax.text(j + 0.45, i - 0.44, "⊙" if every else f"⊙{round(collapsed[i][j] * n_seeds)}", ha="right",
                    va="bottom", fontsize=9 if every else 8, color="black", zorder=5, gid="collapsed-g", bbox=box)


def plot_metric_maps(result, metrics=None, seed: int | None = None, marks: dict | None = None,
                     title: str | None = None, effects: dict | None = None, ncols: int | None = None,
                     dead=None, collapsed=None) -> Figure:
    """Metric maps over the (λ_G, λ_D) grid of one sweep, in rows of up to three.

    Cells that failed in every seed — D dead (``dead``) or G collapsed (``collapsed``) — are
    painted dark grey on every map (``failed_cells``): a failure cannot look bright, i.e. good.

    Args:
        result: a ``sweep.SweepResult``.
        metrics: summary keys to map; default ``lab_metrics(result)`` (no divergence map when
            no run diverged: the title says so).
        seed: one seed, or None for the mean over seeds.
        marks: label → (λ_G, λ_D) points to circle on every map (e.g. the article's λ = 1e-4).
        title: the figure title (default: data set, steps, seeds).
        effects: metric → ``sweep.effect_grid(result, metric)``: those maps mark cells whose
            paired interval excludes 0 (▲ better, ▼ worse) and fade the neutral ones
            (see ``draw_metric_map``); a legend explains the marks.
        ncols: maps per row; default up to 3, so each map's numbers stay readable at notebook width.
        dead: ``sweep.dead_d_fraction(result)``: cells where every seed's D ended dead get "†",
            cells where some did "(†)", in the lower left corner of every map — their metrics
            belong to a frozen generator, whatever their colour or mark says.
        collapsed: ``sweep.collapsed_fraction(result)``: cells where every seed's G covers at
            most one mode get "⊙", cells where a majority of k seeds do "⊙k", in the lower right corner.

    Returns:
        The figure.

    Raises:
        ValueError: for no metrics, effects of a metric not mapped or of another grid, or
            ``ncols`` < 1, or ``dead`` or ``collapsed`` not shaped like the grid.
    """
    metrics = list(metrics) if metrics is not None else lab_metrics(result)
    if not metrics:
        raise ValueError("no metrics to map")
    effects = dict(effects or {})
    if unknown := sorted(set(effects) - set(metrics)):
        raise ValueError(f"effects given for metrics not on the maps: {unknown}; maps: {metrics}")
    if ncols is not None and (isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1):
        raise ValueError(f"ncols must be a positive integer (maps per row), got {ncols!r}")
    ncols = min(len(metrics), ncols or 3)
    shape = (len(result.config.lambda_g), len(result.config.lambda_d))
    for name, grid_ in (("dead", dead), ("collapsed", collapsed)):
        if grid_ is not None and np.shape(grid_) != shape:
            source = "sweep.dead_d_fraction" if name == "dead" else "sweep.collapsed_fraction"
            raise ValueError(f"{name} must have the grid's shape {shape} ({source}), got {np.shape(grid_)}")
    failed = failed_cells(dead, collapsed) if dead is not None or collapsed is not None else None
    nrows = -(-len(metrics) // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.5 * nrows), squeeze=False)
    axes = grid.ravel()[: len(metrics)]
    spare = list(grid.ravel()[len(metrics):])  # empty slots of the last row: the legend goes there
    for ax in spare:
        ax.axis("off")
    handles = []
    for k, (ax, metric) in enumerate(zip(axes, metrics, strict=True)):
        draw_metric_map(ax, result, metric, seed, effects=effects.get(metric), failed=failed)
        for n, (label, (g, d)) in enumerate((marks or {}).items()):
            line, = ax.plot(lambda_position(d, result.config.lambda_d), lambda_position(g, result.config.lambda_g),
                            "o", mfc="none", mec=f"C{n + 1}", ms=16, mew=2, label=label)
            if k == 0:
                handles.append(line)
        _corner_marks(ax, dead, collapsed, len(result.config.seeds))
        if k % ncols:
            ax.set_ylabel("")
    if failed is not None and failed.any():
        handles.append(matplotlib.patches.Patch(facecolor=_FAILED_FACE, edgecolor="none",
                                                label="failed in every seed (D dead or G\non ≤ 1 mode): "
                                                      "off the colour scale"))
    if dead is not None and np.nan_to_num(np.asarray(dead, dtype=float)).any():
        handles.append(matplotlib.patches.Patch(facecolor="none", edgecolor="none",
                                                label="† D dead in every seed, (†) in some:\nflat surface, "
                                                      "G frozen"))
    if collapsed is not None and (np.nan_to_num(np.asarray(collapsed, dtype=float)) > 0.5).any():
        handles.append(matplotlib.patches.Patch(facecolor="none", edgecolor="none",
                                                label="⊙ G on ≤ 1 mode in every seed, ⊙k in k\nseeds "
                                                      "(a majority): collapsed"))
    if effects:
        verdicts = set().union(*(set(np.asarray(e.verdict, dtype=object).ravel()) for e in effects.values()))
        no_interval = any(line.get_gid() == "effect-none" for ax in axes for line in ax.lines)
        handles += _effect_legend_handles(list(effects.values()), verdicts, no_interval)
    if handles and spare:
        legend = spare[0].legend(handles=handles, loc="center left", bbox_to_anchor=(0.02, 0.5), ncol=1,
                                 fontsize=8.5, frameon=False)
        legend.set_in_layout(False)  # the maps keep their width; the text may run into the right margin
        handles = []  # nothing left for the bottom of the figure
    if handles:
        ncol = min(len(handles), ncols if ncols <= 2 else ncols - 1)  # the legend's text fits the width
        fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=8.5, frameon=False)
    base = result.config.base
    seeds = f"seed {seed}" if seed is not None else f"means over seeds {list(result.config.seeds)}"
    calm = "" if "diverged" in metrics or _any_diverged(result) else \
        f"\nnone of the {len(result.records)} runs diverged, so no divergence map"
    fig.suptitle(title or f"{base.dataset}: {base.steps:,} steps, batch {base.batch_size}; {seeds}{calm}",
                 fontsize=_MAP_TITLE_PT + 1)
    rows = -(-len(handles) // ncol) if handles else 0  # legend rows below the maps
    fig.tight_layout(rect=(0, 0.06 * rows / nrows, 1, 1))
    return fig


def _curve_axes(ax, metric: str, dataset: str, n_samples: int, title: str) -> None:
    """Label a metric-over-training panel: step axis, the metric's unit, its natural y range."""
    info = metric_info(metric)
    ax.set_xlabel("training step")
    ax.set_ylabel(unit_label(metric, dataset, n_samples))
    ax.set_title(title, fontsize=9)
    if info.scale == "modes":
        ax.set_ylim(-0.3, dataset_facts(dataset).n_modes + 0.3)
    elif info.scale == "unit":
        ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)


def plot_metric_curves(result, points, metrics=("modes_covered", "high_quality_fraction"),
                       title: str | None = None) -> Figure:
    """Metric curves over training for a few (λ_G, λ_D) points: seed mean and a band over the seeds.

    The band is the seeds' min–max range with up to four seeds, their middle half (25th–75th
    percentile) with five or more: ten overlapping ranges of a chaotic GAN hide every line.

    Args:
        result: a ``sweep.SweepResult``.
        points: (λ_G, λ_D) pairs of the sweep's grid.
        metrics: names of the records' ``curves`` (one panel each).
        title: the figure title.

    Returns:
        The figure.
    """
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    dataset = result.config.base.dataset
    for ax, metric in zip(axes[0], metrics, strict=True):
        for n, (g, d) in enumerate(points):
            recs = [result.record(g, d, s) for s in result.config.seeds]
            steps = max((r.eval_steps for r in recs), key=len)
            ys = np.full((len(recs), len(steps)), np.nan)
            for i, r in enumerate(recs):  # a diverged run stops early: NaN after that
                c = r.curves.get(metric, np.full(len(r.eval_steps), np.nan))
                ys[i, : len(c)] = c
            with warnings.catch_warnings():  # all-NaN columns (every seed diverged) stay NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(ys, 0)
                lo, hi = (np.nanmin(ys, 0), np.nanmax(ys, 0)) if len(recs) < 5 else np.nanpercentile(ys, [25, 75], 0)
            color = f"C{n}"
            ax.plot(steps, mean, "-o", ms=3, color=color, label=f"λ_G = {lambda_label(g)}, λ_D = {lambda_label(d)}")
            ax.fill_between(steps, lo, hi, color=color, alpha=0.18, lw=0)
        band = "min–max" if len(result.config.seeds) < 5 else "middle half of the seeds"
        _curve_axes(ax, metric, dataset, result.config.base.n_eval_samples,
                    f"{metric_info(metric).label} (line: seed mean, band: {band})")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(title or f"{dataset}: metrics over training ({len(result.config.seeds)} seeds)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_baseline_curves(result, metrics=("modes_covered", "high_quality_fraction"), point=(0.0, 0.0),
                         title: str | None = None) -> Figure:
    """Has a cell's training levelled off? Every seed's metric curve, their mean, and the window averaged.

    The shaded window is the last ``result.config.eval_last`` evaluations: the part of training
    a run's reported value is the mean of.

    Args:
        result: a ``sweep.SweepResult``.
        metrics: names of the records' ``curves`` (one panel each).
        point: the (λ_G, λ_D) cell, by default the unpenalized baseline.
        title: the figure title.

    Returns:
        The figure.

    Raises:
        ValueError: when a metric is in no record's curves.
    """
    g, d = point
    recs = result.records_at(g, d)
    dataset = result.config.base.dataset
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    for ax, name in zip(axes[0], metrics, strict=True):
        if not any(name in r.curves for r in recs):
            raise ValueError(f"no record at λ_G = {g:g}, λ_D = {d:g} has a {name!r} curve; "
                             f"curves: {', '.join(sorted(recs[0].curves)) if recs else 'none'}")
        steps = max((r.eval_steps for r in recs), key=len)
        ys = np.full((len(recs), len(steps)), np.nan)
        for i, r in enumerate(recs):  # a diverged run stops early: NaN after that
            c = r.curves.get(name, np.full(len(r.eval_steps), np.nan))
            ys[i, : len(c)] = c
            ax.plot(r.eval_steps[: len(c)], c, color="0.6", lw=0.8, label="one seed" if i == 0 else None)
        with warnings.catch_warnings():  # all-NaN columns (every seed diverged) stay NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            ax.plot(steps, np.nanmean(ys, 0), color="C3", lw=2, label=f"mean of {len(recs)} seeds")
        window = steps[-result.config.eval_last:]
        ax.axvspan(window[0], steps[-1], color="C0", alpha=0.12, lw=0,
                   label=f"averaged: last {len(window)} evaluations")
        _curve_axes(ax, name, dataset, result.config.base.n_eval_samples, metric_info(name).label)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(title or f"{dataset}, λ_G = {lambda_label(g)}, λ_D = {lambda_label(d)}: "
                 f"every seed over training", fontsize=10)
    fig.tight_layout()
    return fig


def plot_metric_along(result, metrics=("d_loss_tail_std", "mode_shift"), lambda_g: float = 0.0,
                      title: str | None = None) -> Figure:
    """Every seed's value of some metrics along one row of the grid (λ_D rising at a fixed λ_G).

    One panel per metric: a dot per seed (the run's reported value, its last-quarter mean), the
    mean over seeds as a line. A panel shows whether a number moves with λ_D and how far the seeds
    scatter around that movement.

    Args:
        result: a ``sweep.SweepResult`` (a full grid: ``lambda_g`` must be one of its rows).
        metrics: summary keys, one panel each.
        lambda_g: the row.
        title: the figure title.

    Returns:
        The figure.

    Raises:
        ValueError: when ``lambda_g`` is not a row of the grid, or for a diagonal sweep.
    """
    if result.config.diagonal or lambda_g not in result.config.lambda_g:
        raise ValueError(f"lambda_g = {lambda_g:g} is not a row of this grid; rows: "
                         f"{[float(g) for g in result.config.lambda_g]}"
                         f"{' (a diagonal sweep has no rows)' if result.config.diagonal else ''}")
    lams = result.config.lambda_d
    dataset = result.config.base.dataset
    x = np.arange(len(lams))
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 3.5), squeeze=False)
    for ax, name in zip(axes[0], metrics, strict=True):
        rng = np.random.default_rng(0)  # the same small sideways jitter in every panel
        means = []
        for k, d in enumerate(lams):
            vals = result.seed_values(name, lambda_g, d)
            ax.plot(x[k] + rng.uniform(-0.12, 0.12, len(vals)), vals, "o", ms=4, color="0.45", alpha=0.7,
                    label="one seed" if k == 0 else None)
            finite = vals[np.isfinite(vals)]
            means.append(float(finite.mean()) if finite.size else np.nan)
        ax.plot(x, means, "-o", color="C3", lw=2, ms=5, label=f"mean of {len(result.config.seeds)} seeds")
        ax.set_xticks(x, [lambda_label(d) for d in lams])
        ax.set_xlabel(f"λ_D (penalty on D), λ_G = {lambda_label(lambda_g)}")
        ax.set_ylabel(unit_label(name, dataset, result.config.base.n_eval_samples))
        ax.set_title(metric_info(name).label, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(title or f"{dataset}: what λ_D does to each seed", fontsize=11)
    fig.tight_layout()
    return fig


def plot_sample_panels(result, points, title: str | None = None, seed: int = 0, n_images: int = 36,
                       nrow: int = 6) -> Figure:
    """One seed's stored image samples at a few grid points, side by side.

    Args:
        result: a ``sweep.SweepResult`` of an image data set.
        points: (λ_G, λ_D, panel title) triples of the sweep's grid.
        title: the figure title.
        seed: whose samples.
        n_images: the first this many stored samples of each run.
        nrow: images per row of a panel.

    Returns:
        The figure.

    Raises:
        ValueError: for no points, ``n_images`` < 1, samples that are not images (2-D data:
            use ``plot_mixture``), or a point or seed not in the sweep.
    """
    points = list(points)
    if not points:
        raise ValueError("no points to show")
    if isinstance(n_images, bool) or not isinstance(n_images, int) or n_images < 1:
        raise ValueError(f"n_images must be a positive integer, got {n_images!r}")
    samples = [result.record(g, d, seed).samples for g, d, _ in points]
    if any(np.ndim(x) != 4 for x in samples):
        raise ValueError(f"plot_sample_panels draws image samples (N, C, H, W); {result.config.base.dataset} "
                         f"stores samples of shape {np.shape(samples[0])} (2-D data: use plot_mixture)")
    fig, axes = plt.subplots(1, len(points), figsize=(4 * len(points), 4.6), squeeze=False)
    for ax, x, (_, _, label) in zip(axes[0], samples, points, strict=True):
        x = torch.as_tensor(np.asarray(x, dtype=np.float32))[:n_images]
        plot_image_grid(x, nrow=nrow, ax=ax, title=label)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return fig


def plot_sample_grid(result, seed: int = 0, n_points: int | None = None, title: str | None = None,
                     dead_tol: float = DEAD_SURFACE_RANGE) -> Figure:
    """One seed's final 2-D samples in every (λ_G, λ_D) cell, over D's decision surface and the mode centres.

    The static picture of a 2-D sweep, laid out like the metric maps: rows are λ_G (stronger
    upwards), columns λ_D (stronger to the right). Each panel shows the run's samples at its
    last evaluation as small dots, σ(D(x)) at the same evaluation as a light background (blue:
    D says fake, red: real), the data's mode centres as hollow circles, and in its corner the
    modes covered at that evaluation (counted on all its samples, of which ``samples`` keeps the
    first ``n_stored_samples``: a mode touched by a few stray samples may count without showing).
    A panel whose surface is flat (max − min below ``dead_tol``: D is dead and G frozen,
    ``sweep.dead_d_fraction``) is marked "† D dead".

    Args:
        result: a ``sweep.SweepResult`` of 2-D data (records with ``samples`` (n, 2) and ``surface``).
        seed: whose runs, one of ``result.config.seeds``.
        n_points: the first this many stored samples per panel; None: all of them.
        title: the figure title (default: data set, seed, steps).
        dead_tol: the largest range of D's surface that counts as flat.

    Returns:
        The figure: len(lambda_g) × len(lambda_d) panels (panel [0, j] is the strongest λ_G),
        then the colour bar.

    Raises:
        ValueError: for a seed not in the sweep, a sweep of images, ``n_points`` that is not a
            positive integer, or a negative ``dead_tol``.
    """
    cfg = result.config
    if isinstance(seed, bool) or seed not in cfg.seeds:
        raise ValueError(f"seed must be one of the sweep's seeds {list(cfg.seeds)}, got {seed!r}")
    if n_points is not None and (isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer))
                                 or n_points < 1):
        raise ValueError(f"n_points must be a positive integer or None, got {n_points!r}")
    if not dead_tol >= 0:
        raise ValueError(f"dead_tol must be >= 0 (a range of D(x)), got {dead_tol!r}")
    dataset = cfg.base.dataset
    facts = dataset_facts(dataset)
    if facts.kind != "mixture":
        raise ValueError(f"plot_sample_grid draws 2-D samples; {dataset} is an image data set "
                         "(use plot_sample_panels)")
    centres = make_mixture(dataset).centers.numpy()
    lg, ld = cfg.lambda_g, cfg.lambda_d
    cells = {(i, j): result.record(g, d, seed) for i, g in enumerate(lg) for j, d in enumerate(ld)
             if not (cfg.diagonal and i != j)}
    extents = [r.surface_extent for r in cells.values() if r.surface_extent is not None]
    ext = extents[0] if extents else (-1.5, 1.5, -1.5, 1.5)
    key = coverage_key(dataset)
    cmap = plt.get_cmap("RdBu_r")
    fig, axes = plt.subplots(len(lg), len(ld), figsize=(1.75 * len(ld) + 1.3, 1.75 * len(lg) + 1.2),
                             squeeze=False)
    surface_image = None
    for i in range(len(lg)):
        for j in range(len(ld)):
            ax = axes[len(lg) - 1 - i, j]  # the strongest λ_G on top
            ax.set(xlim=ext[:2], ylim=ext[2:], aspect="equal", xticks=[], yticks=[])
            if i == 0:
                ax.set_xlabel(f"λ_D = {lambda_label(ld[j])}", fontsize=8)
            if j == 0:
                ax.set_ylabel(f"λ_G = {lambda_label(lg[i])}", fontsize=8)
            rec = cells.get((i, j))
            if rec is None:
                ax.set_facecolor("0.92")
                ax.text(0.5, 0.5, "no run", transform=ax.transAxes, ha="center", va="center", fontsize=7)
                continue
            if rec.surface is not None and np.size(rec.surface):
                surface_image = ax.imshow(rec.surface, origin="lower", extent=rec.surface_extent or ext, vmin=0,
                                          vmax=1, cmap=cmap, alpha=0.45, interpolation="bilinear", zorder=0)
                if float(np.ptp(rec.surface)) < dead_tol:
                    ax.text(0.03, 0.03, "† D dead", transform=ax.transAxes, ha="left", va="bottom", fontsize=7,
                            gid="dead-d", zorder=4,
                            bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.85})
            pts = np.asarray(rec.samples, dtype=np.float64).reshape(-1, 2)[:n_points]
            ax.scatter(pts[:, 0], pts[:, 1], s=1.5, lw=0, color="black", alpha=0.6, zorder=2)
            ax.scatter(centres[:, 0], centres[:, 1], s=22, facecolors="none", edgecolors="#1b9e3e", lw=0.9,
                       zorder=3)
            curve = rec.curves.get(key)
            label = "diverged" if rec.diverged else \
                f"{format_value(key, float(curve[-1]))}/{facts.n_modes}" if curve is not None and len(curve) else ""
            ax.text(0.97, 0.97, label, transform=ax.transAxes, ha="right", va="top", fontsize=7, zorder=4,
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.85})
    n_stored = max(len(r.samples) for r in cells.values())
    shown = min(n_points, n_stored) if n_points is not None else n_stored
    handles = [
        matplotlib.lines.Line2D([], [], marker="o", ls="none", ms=3, mfc="black", mec="none",
                                label=f"generated samples (the first {shown} at the last evaluation)"),
        matplotlib.lines.Line2D([], [], marker="o", ls="none", ms=6, mfc="none", mec="#1b9e3e",
                                label=f"real mode centres (σ = {make_mixture(dataset).std:g})"),
        matplotlib.patches.Patch(facecolor="none", edgecolor="none",
                                 label=f"k/{facts.n_modes}: {facts.mode_word}s covered at that evaluation, counted "
                                       f"on all {cfg.base.n_eval_samples:,} samples\n(one sample within 3σ of a "
                                       "centre is enough)"),
        matplotlib.patches.Patch(facecolor="none", edgecolor="none",
                                 label="† D dead: flat decision surface, G frozen"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.supxlabel("λ_D (penalty on D) → stronger", fontsize=9, y=0.058)
    fig.supylabel("λ_G (penalty on G) → stronger", fontsize=9)
    fig.suptitle(title or f"{dataset}, seed {seed}: samples after {cfg.base.steps:,} steps over D's decision "
                          f"surface, every (λ_G, λ_D)", fontsize=10)
    fig.subplots_adjust(left=0.08, right=0.88, bottom=0.1, top=0.95, wspace=0.06, hspace=0.06)
    if surface_image is not None:
        cax = fig.add_axes((0.9, 0.3, 0.018, 0.45))
        cb = fig.colorbar(surface_image, cax=cax)
        cb.set_label("D(x) = P(real)", fontsize=8)
        cb.ax.tick_params(labelsize=7)
    return fig


# --- training replay -----------------------------------------------------------------------


def check_replayable(record) -> int:
    """The number of frames of a run's replay: its evaluations that kept snapshots.

    Args:
        record: a ``sweep.RunRecord``.

    Returns:
        E, the length of ``record.snapshot_samples`` (aligned with ``record.eval_steps``).

    Raises:
        ValueError: if the run kept only its last evaluation (``snapshots`` = 0, or a file
            written before snapshots existed).
    """
    if record.snapshot_samples is None or len(record.snapshot_samples) == 0:
        raise ValueError("this run keeps only its last evaluation (snapshots = 0): nothing to replay; "
                         "train it with SweepConfig(..., snapshots=N) to keep N samples at every evaluation")
    return len(record.snapshot_samples)


def replay_title(record, frame: int) -> str:
    """What a replay frame shows: the run, the step, and its mode (class) count at that evaluation."""
    c = record.config
    facts = dataset_facts(c.dataset)
    key = coverage_key(c.dataset)
    word = "classes" if facts.mode_word == "class" else "modes"
    curve = record.curves.get(key)
    covered = f": {format_value(key, float(curve[frame]))}/{facts.n_modes} {word}" \
        if curve is not None and frame < len(curve) else ""
    return (f"{c.dataset}, λ_G = {lambda_label(c.lambda_g)}, λ_D = {lambda_label(c.lambda_d)}, seed {c.seed} · "
            f"step {int(record.eval_steps[frame]):,} of {c.steps:,}{covered}")


def replay_frame_index(record, frame) -> int:
    """``frame`` as an index in [0, E) into a run's snapshots (negative counts from the end).

    Raises:
        ValueError: for a run without snapshots, or a frame that is no integer in [-E, E).
    """
    n_frames = check_replayable(record)
    if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)) or not -n_frames <= frame < n_frames:
        raise ValueError(f"frame must be an integer in [{-n_frames}, {n_frames}), got {frame!r}")
    return int(frame) % n_frames


def replay_layout(record, fig: Figure, n_images: int):
    """Lay out a replay in ``fig``; return ``show(frame)``, which moves every artist to that frame.

    2-D data: samples over the mode centres, D's surface σ(D(x)), and the mode count over
    training with a cursor; images: the sample grid and the class (mode) count with a cursor.
    ``show(frame)`` (an index in [0, E)) returns the artists it moved (the moving parts of a
    blitted canvas, ``live_figures.ReplayFigure``).
    """
    n_frames = check_replayable(record)
    c = record.config
    facts = dataset_facts(c.dataset)
    snaps = record.snapshot_samples
    is_2d = snaps.ndim == 3
    widths = [1, 1, 1.25] if is_2d else [1, 1.1]
    axes = fig.subplots(1, len(widths), width_ratios=widths)
    moving = {}
    if is_2d:
        ax_s, ax_d, ax_c = axes
        ext = record.surface_extent or (-1.5, 1.5, -1.5, 1.5)
        centres = make_mixture(c.dataset).centers.numpy()
        moving["scatter"] = ax_s.scatter(snaps[0][:, 0], snaps[0][:, 1], s=16, alpha=0.55, lw=0, zorder=3, color="#e4002b",
                                         label=f"generated ({snaps.shape[1]} of the fixed noise batch)")
        surfaces = record.snapshot_surfaces
        first = surfaces[0] if surfaces is not None else np.full((2, 2), np.nan)
        moving["surface"] = ax_d.imshow(first, origin="lower", extent=ext, vmin=0, vmax=1,
                                        cmap=plt.get_cmap("coolwarm").with_extremes(bad="0.85"),
                                        interpolation="bilinear")
        cb = fig.colorbar(moving["surface"], ax=ax_d, fraction=0.046, pad=0.03)
        cb.set_label("D(x) = P(real)", fontsize=8)
        for ax, name in ((ax_s, "generated samples"), (ax_d, "D's decision surface")):
            # big enough to see at notebook width; under the samples, so a cluster on a mode stays visible
            ax.plot(centres[:, 0], centres[:, 1], "x", color="black", ms=8, mew=1.4, label="real mode centres",
                    zorder=2)
            ax.set(xlim=ext[:2], ylim=ext[2:], aspect="equal", xlabel="x₁", ylabel="x₂")
            ax.set_title(name, fontsize=9)
        ax_s.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=1, fontsize=8, frameon=False)
    else:
        ax_g, ax_c = axes
        n_show, ncol = square_grid_size(snaps.shape[1], n_images)
        moving["grid"] = ax_g.imshow(image_grid_array(snaps[0], n_show, ncol), interpolation="nearest")
        ax_g.set_axis_off()
        ax_g.set_title(f"the first {min(n_show, snaps.shape[1])} images of the fixed noise batch", fontsize=9)
    key = coverage_key(c.dataset)
    steps = record.eval_steps[:n_frames]
    curve = record.curves.get(key, np.full(n_frames, np.nan))[:n_frames]
    ax_c.plot(steps, curve, "-o", ms=5, color="0.3", label=metric_info(key).label)
    moving["cursor"] = ax_c.axvline(steps[0], color="#e4002b", lw=1.5, label="this frame")
    ax_c.set_xlim(0, 1.02 * max(c.steps, 1))  # a cursor at the last step stays visible
    ax_c.set_ylim(-0.3, facts.n_modes + 0.3)
    ax_c.set_xlabel("training step")
    ax_c.set_ylabel(unit_label(key, c.dataset, c.n_eval_samples))
    ax_c.set_title(f"{metric_info(key).label} over training", fontsize=9)
    ax_c.grid(alpha=0.3)
    ax_c.legend(fontsize=7, loc="upper left")
    moving["title"] = fig.suptitle(replay_title(record, 0), fontsize=10)

    def show(frame: int) -> list:
        if "scatter" in moving:
            moving["scatter"].set_offsets(snaps[frame])
            if record.snapshot_surfaces is not None:
                moving["surface"].set_data(record.snapshot_surfaces[frame])
        else:
            moving["grid"].set_data(image_grid_array(snaps[frame], n_show, ncol))
        moving["cursor"].set_xdata([steps[frame], steps[frame]])
        moving["title"].set_text(replay_title(record, frame))
        return list(moving.values())

    return show


def replay_figsize(record) -> tuple[float, float]:
    """The size in inches of a replay frame: three panels for 2-D data, two for images."""
    return (13, 4.3) if record.snapshot_samples is not None and record.snapshot_samples.ndim == 3 else (10, 4.6)


def plot_replay_frame(record, frame: int = -1, n_images: int = 64) -> Figure:
    """One frame of a run's replay: its samples (and for 2-D data D's surface) at one evaluation.

    Args:
        record: a ``sweep.RunRecord`` with snapshots.
        frame: the evaluation's index into ``record.snapshot_samples`` (negative: from the end).
        n_images: image runs show at most this many images (a square grid).

    Returns:
        The figure.

    Raises:
        ValueError: for a run without snapshots, or a frame outside [-E, E).
    """
    frame = replay_frame_index(record, frame)
    fig = plt.figure(figsize=replay_figsize(record), layout="constrained")
    replay_layout(record, fig, n_images)(frame)
    return fig


def plot_replay_strip(record, frames=None, n_frames: int = 5, n_images: int = 16) -> Figure:
    """An image run's fixed-noise samples at several evaluations, left to right: a replay on paper.

    Every panel shows the same first ``n_images`` images of the fixed noise batch (the same z),
    so what changes from panel to panel is the generator alone. Each is titled with its step
    and the class (mode) count of that evaluation.

    Args:
        record: a ``sweep.RunRecord`` of an image run with snapshots (E evaluations).
        frames: the evaluations to show (indices into ``record.snapshot_samples``, negative
            from the end), in the order given; None: ``n_frames`` spread evenly from the first
            evaluation to the last.
        n_frames: panels when ``frames`` is None, >= 1 (at most E).
        n_images: images per panel (a square grid of them), >= 1.

    Returns:
        The figure.

    Raises:
        ValueError: for a run without snapshots, a 2-D run (``plot_replay_frame`` draws its
            samples and D's surface), an empty ``frames`` or one outside [-E, E), or
            ``n_frames`` / ``n_images`` that is not a positive integer.
    """
    total = check_replayable(record)
    snaps = record.snapshot_samples
    if snaps.ndim != 5:
        raise ValueError(f"plot_replay_strip draws image runs (snapshots (E, n, C, H, W)); this run's are "
                         f"{snaps.shape} (2-D data: use plot_replay_frame)")
    for name, value in (("n_frames", n_frames), ("n_images", n_images)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if frames is None:
        frames = np.unique(np.round(np.linspace(0, total - 1, min(n_frames, total))).astype(int)).tolist()
    frames = [replay_frame_index(record, k) for k in frames]
    if not frames:
        raise ValueError(f"frames is empty: give at least one evaluation in [{-total}, {total})")
    c = record.config
    facts, key = dataset_facts(c.dataset), coverage_key(c.dataset)
    word = "classes" if facts.mode_word == "class" else "modes"
    curve = record.curves.get(key)
    n_show, ncol = square_grid_size(snaps.shape[1], n_images)
    fig, axes = plt.subplots(1, len(frames), figsize=(max(2.3 * len(frames) + 0.4, 7.0), 3.5), squeeze=False)
    for ax, k in zip(axes[0], frames, strict=True):
        ax.imshow(image_grid_array(snaps[k], n_show, ncol), interpolation="nearest")
        ax.set_axis_off()
        covered = f"\n{format_value(key, float(curve[k]))}/{facts.n_modes} {word}" \
            if curve is not None and k < len(curve) else ""
        ax.set_title(f"step {int(record.eval_steps[k]):,}{covered}", fontsize=9)
    fig.suptitle(f"{c.dataset}, λ_G = {lambda_label(c.lambda_g)}, λ_D = {lambda_label(c.lambda_d)}, seed {c.seed}: "
                 f"the same {min(n_show, snaps.shape[1])} fixed-noise images over {c.steps:,} steps\n"
                 f"({word} counted on all {c.n_eval_samples:,} samples of each evaluation)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return fig


def save_replay_gif(record, path, fps: float = 4.0, dpi: int = 72, n_images: int = 64) -> Path:
    """Write a run's replay as an animated GIF: one frame per evaluation (Pillow; no external program).

    Args:
        record: a ``sweep.RunRecord`` with snapshots (E evaluations: E frames).
        path: the file to write (``.gif``); its folder must exist.
        fps: frames per second, > 0.
        dpi: resolution.
        n_images: image runs show at most this many images (a square grid).

    Returns:
        The path written.

    Raises:
        ValueError: for a run without snapshots, or ``fps`` that is not a positive number.
    """
    n_frames = check_replayable(record)
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    path = Path(path)
    fig = Figure(figsize=replay_figsize(record), layout="constrained")  # never shown by pyplot
    FigureCanvasAgg(fig)
    show = replay_layout(record, fig, n_images)
    fig.canvas.draw()  # lay out once (constrained layout would redo it for every frame: 10× slower)
    fig.set_layout_engine("none")
    writer = PillowWriter(fps=fps)
    with writer.saving(fig, path, dpi):  # FuncAnimation would draw every frame twice
        for frame in range(n_frames):
            show(frame)
            writer.grab_frame()
    return path
