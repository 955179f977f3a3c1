"""Drawing only: every function takes computed data (tensors, dataclasses) and returns a Figure.

Shared by all notebooks. Functions are grouped by the notebook topic that introduced them;
add new ones in a section of their own.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use(matplotlib.get_backend())  # keep the notebook's backend; headless CI uses Agg

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import LogFormatter, LogLocator, NullLocator  # noqa: E402
from PIL import Image  # noqa: E402

from .data import dataset_facts  # noqa: E402
from .evaluate import (  # noqa: E402
    colour_range,
    coverage_key,
    format_value,
    lambda_label,
    map_metrics,
    unit_label,
)
from .evaluate import metric as metric_info  # noqa: E402


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
    # below the axes, so the legend never hides a mode
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=8, frameon=False)
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


# --- L2 penalty basics and regularized GAN losses (notebooks 01–02) ----------------------


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
                             distances: dict | None = None, title: str = "Optimizer paths") -> Figure:
    """Paths of a two-weight model under several optimizers, optionally with distances to a target.

    Args:
        trajectories: label → weights of shape (T + 1, 2), the start included.
        loss_grid: optional ``(W1, W2, Z)`` meshgrid arrays and loss values, drawn as contours.
        points: label → ``(w1, w2)`` marked with a star (e.g. a minimizer).
        distances: label → shape (T + 1,) distance of each step to a reference point; drawn
            against the step on a log axis in a second panel. None draws only the paths.
        title: the figure title.

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
        ax.plot(t[-1, 0], t[-1, 1], "o", ms=5, color=ax.lines[-1].get_color())
    first = _to_numpy(next(iter(trajectories.values())))
    ax.plot(first[0, 0], first[0, 1], "ks", ms=5, label="start")
    for label, (p1, p2) in (points or {}).items():
        ax.plot(float(p1), float(p2), "*", ms=13, mec="k", label=label)
    ax.set_xlabel("weight w₁")
    ax.set_ylabel("weight w₂")
    ax.set_title("Paths in weight space (dot = end)")
    ax.legend(fontsize=7, loc="best")
    if distances is not None:
        ax = axes[0, 1]
        for label, dist in distances.items():
            d = _to_numpy(dist)
            ax.semilogy(np.arange(len(d)), np.maximum(d, 1e-16), label=label)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("distance to the minimizer of L + λΣw² (log scale)")
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
                           d_star_slope=None, title: str = "Optimal discriminator") -> Figure:
    """The 1-D densities, D*(x) and fitted discriminators, and optionally their slopes dD/dx.

    Args:
        x: shape (K,) grid.
        p_data, p_g: shape (K,) densities of the real and generated data.
        d_star: shape (K,) the optimal discriminator p_data / (p_data + p_g).
        fits: label → shape (K,) fitted D(x) (e.g. one per λ_D).
        slopes: label → shape (K,) dD/dx of each fit (same labels); adds a third panel.
        d_star_slope: shape (K,) dD*/dx, drawn dashed in the slope panel.
        title: the figure title.

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
            ax.plot(xs, _to_numpy(d_star_slope), "k--", lw=2.5, zorder=5, label="dD*/dx")
        for c, (label, y) in zip(colors, slopes.items(), strict=False):
            ax.plot(xs, _to_numpy(y), color=c, lw=1.6, label=label)
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_ylabel("slope dD/dx (per unit of x)")
        ax.set_title("Slopes: the signal G would follow")
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


# --- Dirac-GAN (notebook 03) ---------------------------------------------------------------

_DIRAC_FLOOR = 1e-16  # distances below this are drawn at it (double precision resolves no less)


def _new_or_given(ax, figsize):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def _speed_clim(speed: np.ndarray) -> tuple[float, float]:
    """Colour limits for field speed on "Greys": the slowest arrows light grey, not white."""
    top = float(speed.max()) or 1.0
    return -0.5 * top, top


def plot_dirac_field(field, trajectories=(), fixed_point=None, data_point=None, ax=None,
                     stream: bool = False, title: str | None = None) -> Figure:
    """The Dirac-GAN vector field in the (θ, ψ) plane, with trajectories on top.

    Args:
        field: a ``dirac.VectorFieldGrid`` (θ, ψ, v_θ, v_ψ on a grid).
        trajectories: ``dirac.DiracTrajectory`` objects, or ``(label, trajectory)`` pairs;
            each is drawn as a line from a circle (start) to a square (end).
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
    speed = np.hypot(field.v_theta, field.v_psi)
    clim = _speed_clim(speed)
    if stream:
        ax.streamplot(t[0], p[:, 0], field.v_theta, field.v_psi, color=speed, cmap="Greys",
                      norm=matplotlib.colors.Normalize(*clim), density=1.0, linewidth=0.8,
                      arrowsize=0.8)
    else:
        # unit arrows, colour = speed: direction stays readable where the field is weak
        norm = np.where(speed > 0, speed, 1.0)
        ax.quiver(t, p, field.v_theta / norm, field.v_psi / norm, speed, cmap="Greys",
                  angles="xy", pivot="mid", scale=30, width=0.004, clim=clim)
    for i, item in enumerate(trajectories):
        label, traj = item if isinstance(item, tuple) else (f"{item.mode}, h = {item.h:g}", item)
        color = f"C{i}"
        ax.plot(traj.theta, traj.psi, color=color, lw=1.2, label=label)
        ax.plot(traj.theta[0], traj.psi[0], "o", color=color, ms=5)
        ax.plot(traj.theta[-1], traj.psi[-1], "s", color=color, ms=5)
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
        ax.legend(loc="lower left", fontsize=7, framealpha=0.85)
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
        d = np.maximum(_to_numpy(dist).astype(np.float64), _DIRAC_FLOOR)
        style = "--" if label in dashed else "-"
        ax.semilogy(np.arange(len(d)), d, style, lw=1.3, label=label)
    # plain "1e-05" labels, no minor ticks: log-axis mathtext labels cost ~10 ms per redraw
    ax.yaxis.set_major_locator(LogLocator(numticks=8))
    ax.yaxis.set_major_formatter(LogFormatter())
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("step")
    ax.set_ylabel("distance to equilibrium")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7)
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


class DiracExplorerFigure:
    """Two panels for the Dirac-GAN explorer: field with one trajectory, and its distance curve.

    Built for slider redraws: the first ``draw`` lays the panels out with
    ``plot_dirac_field`` / ``plot_dirac_distance`` and renders everything that does not move
    (axes, ticks, labels, legends) once into a background; later calls restore that
    background and redraw only the arrows, lines, markers and title (Agg blitting), about
    five times faster than a full draw. The background is rebuilt when the field's window or
    the run length changes. The distance axis is fixed at [1e-16, 1e2] (values outside are
    drawn at the edge) so that its ticks never move.

    The figure is a plain ``matplotlib.figure.Figure`` (not registered with pyplot), so it is
    never shown by itself; ``figure.savefig`` still works and does a full draw.

    Args:
        figsize: figure size in inches.
        dpi: resolution of the figure and of ``to_png``.
    """

    DIST_RANGE = (_DIRAC_FLOOR, 1e2)

    def __init__(self, figsize: tuple[float, float] = (10, 4.2), dpi: int = 72) -> None:
        self.figure = Figure(figsize=figsize, dpi=dpi)
        self._canvas = FigureCanvasAgg(self.figure)
        self._moving: list = []
        self._window: tuple | None = None
        self._background = None
        self._renderer = None

    def draw(self, field, trajectory, title: str = "") -> Figure:
        """Show ``trajectory`` over ``field``; ``field`` may cover a different window each call.

        Args:
            field: a ``dirac.VectorFieldGrid`` with the same grid size on every call.
            trajectory: a ``dirac.DiracTrajectory``; its ``fixed_point`` (star) and the data
                equilibrium (c, 0) (cross) are marked, and its distance to both is plotted
                (the two curves coincide unless λ_G moves the fixed point).
            title: the figure's suptitle.

        Returns:
            The figure, drawn.
        """
        data_point = (trajectory.game.c, 0.0)
        dist_fixed = np.clip(trajectory.distance(), *self.DIST_RANGE)
        dist_data = np.clip(trajectory.distance(data_point), *self.DIST_RANGE)
        t, p = field.theta, field.psi
        if not self._moving:
            self.figure.subplots_adjust(left=0.07, right=0.98, bottom=0.12, top=0.88, wspace=0.28)
            ax_field, ax_dist = self.figure.subplots(1, 2, width_ratios=[1, 1.25])
            plot_dirac_field(field, [("trajectory (○ start, □ end)", trajectory)],
                             trajectory.fixed_point, data_point, ax=ax_field)
            to_data = "to the data equilibrium (c, 0)"
            plot_dirac_distance({"to the fixed point of v": dist_fixed, to_data: dist_data},
                                ax=ax_dist, dashed=(to_data,))
            ax_dist.set_ylim(*self.DIST_RANGE)
            self._ax_field, self._ax_dist = ax_field, ax_dist
            self._quiver = ax_field.collections[0]
            self._suptitle = self.figure.suptitle(title, fontsize=10)
            self._moving = [self._quiver, *ax_field.lines, *ax_dist.lines, self._suptitle]
        else:
            speed = np.hypot(field.v_theta, field.v_psi)
            norm = np.where(speed > 0, speed, 1.0)
            self._quiver.set_offsets(np.column_stack([t.ravel(), p.ravel()]))
            self._quiver.set_UVC(field.v_theta / norm, field.v_psi / norm, speed)
            self._quiver.set_clim(*_speed_clim(speed))
            line, start, end, data_marker, fixed_marker = self._ax_field.lines
            line.set_data(trajectory.theta, trajectory.psi)
            start.set_data([trajectory.theta[0]], [trajectory.psi[0]])
            end.set_data([trajectory.theta[-1]], [trajectory.psi[-1]])
            data_marker.set_data([data_point[0]], [data_point[1]])
            fixed_marker.set_data([trajectory.fixed_point[0]], [trajectory.fixed_point[1]])
            steps = np.arange(len(dist_fixed))
            for curve, dist in zip(self._ax_dist.lines, (dist_fixed, dist_data), strict=True):
                curve.set_data(steps, dist)
            self._suptitle.set_text(title)
        window = (t.min(), t.max(), p.min(), p.max(), len(dist_fixed))
        if window != self._window or self._canvas.get_renderer() is not self._renderer:
            self._ax_field.set_xlim(t.min(), t.max())
            self._ax_field.set_ylim(p.min(), p.max())
            self._ax_dist.set_xlim(0, max(len(dist_fixed) - 1, 1))
            for artist in self._moving:  # a full draw skips animated artists
                artist.set_animated(True)
            self._canvas.draw()
            for artist in self._moving:
                artist.set_animated(False)
            self._background = self._canvas.copy_from_bbox(self.figure.bbox)
            self._renderer = self._canvas.get_renderer()
            self._window = window
        self._canvas.restore_region(self._background)
        for artist in self._moving:
            self.figure.draw_artist(artist)
        return self.figure

    def to_png(self) -> bytes:
        """The figure as last drawn, as PNG bytes (fast zlib level: it changes on every move)."""
        if self._background is None:
            raise RuntimeError("nothing drawn yet: call draw() first")
        buf = io.BytesIO()
        pixels = np.asarray(self._canvas.buffer_rgba())[..., :3]
        Image.fromarray(pixels).save(buf, format="png", compress_level=1)
        return buf.getvalue()


# --- λ lab (notebook 05) -----------------------------------------------------------------

#: Colours of the two settings A and B: their columns, samples and markers on the maps.
LAB_COLORS = {"A": "#e4002b", "B": "#00a2ff"}


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
    """The summary metrics the λ lab maps for a sweep: up to three quality maps, then stability."""
    return map_metrics(set().union(*(r.summary for r in result.records)) if result.records else ())


def draw_metric_map(ax, result, metric: str, seed: int | None = None, annotate: bool = True,
                    colorbar: bool = True) -> None:
    """One summary metric over the (λ_G, λ_D) grid as a coloured table, with the values written in.

    Rows are λ_G (up), columns λ_D (right); ticks are the grid's λ values. Cells without a
    run (off the diagonal of a diagonal sweep) are light grey. Colours run dark → bright from
    worse to better.

    Args:
        ax: the axes.
        result: a ``sweep.SweepResult``.
        metric: a key of the records' ``summary`` (see ``evaluate.METRICS`` for the known ones).
        seed: one seed, or None for the mean over seeds.
        annotate: write each cell's value in it.
        colorbar: add a colour bar with the metric's unit.
    """
    values = result.grid(metric, seed)
    info = metric_info(metric)
    higher_better = info.higher_is_better is not False
    dataset = result.config.base.dataset
    cmap = plt.get_cmap("viridis" if higher_better else "viridis_r").with_extremes(bad="0.88")
    n_samples = result.config.base.n_eval_samples
    vmin, vmax = colour_range(metric, values, dataset, n_samples)
    im = ax.imshow(np.ma.masked_invalid(values), origin="lower", cmap=cmap, vmin=vmin, vmax=vmax,
                   aspect="auto", interpolation="nearest")
    lg, ld = result.config.lambda_g, result.config.lambda_d
    ax.set_xticks(range(len(ld)), [lambda_label(v) for v in ld], fontsize=7)
    ax.set_yticks(range(len(lg)), [lambda_label(v) for v in lg], fontsize=7)
    ax.set_xlabel("λ_D (penalty on D)", fontsize=8)
    ax.set_ylabel("λ_G (penalty on G)", fontsize=8)
    ax.set_title(info.label, fontsize=9)
    if annotate:
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                v = values[i, j]
                if not np.isfinite(v):
                    continue
                shade = (v - vmin) / (vmax - vmin) if vmax > vmin else 0.5
                bright = shade > 0.6 if higher_better else shade < 0.4
                ax.text(j, i, format_value(metric, v), ha="center", va="center", fontsize=7,
                        color="black" if bright else "white")
    if colorbar:
        cb = ax.figure.colorbar(im, ax=ax, fraction=0.07, pad=0.03)
        cb.set_label(unit_label(metric, dataset, n_samples), fontsize=7)
        cb.ax.tick_params(labelsize=6)


def plot_metric_maps(result, metrics=None, seed: int | None = None, marks: dict | None = None,
                     title: str | None = None) -> Figure:
    """A row of metric maps over the (λ_G, λ_D) grid of one sweep.

    Args:
        result: a ``sweep.SweepResult``.
        metrics: summary keys to map; default ``lab_metrics(result)``.
        seed: one seed, or None for the mean over seeds.
        marks: label → (λ_G, λ_D) points to circle on every map (e.g. the article's λ = 1e-4).
        title: the figure title (default: data set, steps, seeds).

    Returns:
        The figure.
    """
    metrics = list(metrics) if metrics is not None else lab_metrics(result)
    if not metrics:
        raise ValueError("no metrics to map")
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.3 * len(metrics), 3.4), squeeze=False)
    for k, (ax, metric) in enumerate(zip(axes[0], metrics, strict=True)):
        draw_metric_map(ax, result, metric, seed)
        for n, (label, (g, d)) in enumerate((marks or {}).items()):
            ax.plot(lambda_position(d, result.config.lambda_d), lambda_position(g, result.config.lambda_g),
                    "o", mfc="none", mec=f"C{n + 1}", ms=16, mew=2, label=label if k == 0 else None)
        if k:
            ax.set_ylabel("")
    if marks:
        fig.legend(loc="lower center", ncol=len(marks), fontsize=8, frameon=False)
    base = result.config.base
    seeds = f"seed {seed}" if seed is not None else f"means over seeds {list(result.config.seeds)}"
    fig.suptitle(title or f"{base.dataset}: {base.steps:,} steps, batch {base.batch_size}; {seeds}",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.06 if marks else 0, 1, 1))
    return fig


def plot_metric_curves(result, points, metrics=("modes_covered", "high_quality_fraction"),
                       title: str | None = None) -> Figure:
    """Metric curves over training for a few (λ_G, λ_D) points: seed mean, min–max band.

    Args:
        result: a ``sweep.SweepResult``.
        points: (λ_G, λ_D) pairs of the sweep's grid.
        metrics: names of the records' ``curves`` (one panel each).
        title: the figure title.

    Returns:
        The figure.
    """
    import warnings

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
                mean, lo, hi = np.nanmean(ys, 0), np.nanmin(ys, 0), np.nanmax(ys, 0)
            color = f"C{n}"
            ax.plot(steps, mean, "-o", ms=3, color=color, label=f"λ_G = {lambda_label(g)}, λ_D = {lambda_label(d)}")
            ax.fill_between(steps, lo, hi, color=color, alpha=0.18, lw=0)
        info = metric_info(metric)
        ax.set_xlabel("training step")
        ax.set_ylabel(unit_label(metric, dataset, result.config.base.n_eval_samples))
        ax.set_title(f"{info.label} (line: seed mean, band: min–max)", fontsize=9)
        if info.scale == "modes":
            ax.set_ylim(-0.3, dataset_facts(dataset).n_modes + 0.3)
        elif info.scale == "unit":
            ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(title or f"{dataset}: metrics over training ({len(result.config.seeds)} seeds)", fontsize=10)
    fig.tight_layout()
    return fig


def _image_grid(samples: np.ndarray, n_show: int, ncol: int) -> np.ndarray:
    """Up to ``n_show`` images (n, C, H, W) in [-1, 1] as one (rows·(H+1)+1, ncol·(W+1)+1, 3) array in [0, 1]."""
    c, h, w = samples.shape[1:]
    nrow = -(-n_show // ncol)
    grid = np.ones((nrow * (h + 1) + 1, ncol * (w + 1) + 1, 3), dtype=np.float32)
    imgs = (np.clip(samples[:n_show], -1, 1) + 1) / 2
    for k, img in enumerate(imgs):
        r, q = divmod(k, ncol)
        y, x = 1 + r * (h + 1), 1 + q * (w + 1)
        grid[y:y + h, x:x + w] = np.repeat(img, 3, 0).transpose(1, 2, 0) if c == 1 else img.transpose(1, 2, 0)
    return grid


def _lab_record_title(tag: str, rec) -> str:
    c, s = rec.config, rec.summary
    head = f"{tag}: λ_G = {lambda_label(c.lambda_g)}, λ_D = {lambda_label(c.lambda_d)}, seed {c.seed}"
    if rec.diverged:
        return f"{head}\nDIVERGED at step {rec.diverged_step}"
    facts, cover = dataset_facts(c.dataset), coverage_key(c.dataset)
    word = "classes" if facts.mode_word == "class" else "modes"
    parts = [f"{format_value(cover, s.get(cover, np.nan))}/{facts.n_modes} {word}"]
    if "high_quality_fraction" in s:
        parts.append(f"{100 * s['high_quality_fraction']:.0f} % high quality")
    elif "mean_confidence" in s:
        parts.append(f"confidence {s['mean_confidence']:.2f}")
    step = int(rec.eval_steps[-1]) if len(rec.eval_steps) else 0
    what = "samples" if rec.samples.ndim == 2 else "generated images"
    return f"{head}\n{what} at step {step:,}: {', '.join(parts)}"


class LambdaLabFigure:
    """The λ lab picture: metric maps of a sweep, and two runs A and B side by side.

    Top row: ``lab_metrics(result)`` maps over the (λ_G, λ_D) grid (seed means) with A and B
    marked (A red circle, B blue square). Below, one column per run: generated samples over
    the real mode centres and D's decision surface σ(D(x)) (2-D data), or a grid of
    generated images; then its loss and gradient-norm curves over training.

    Built for slider redraws, like ``DiracExplorerFigure``: the first ``draw`` for a sweep lays
    everything out and renders what does not move (maps, axes, ticks, labels, colour bars,
    legends) once into a background; later calls restore it and redraw only the samples,
    surfaces, curves, markers and titles (Agg blitting). Axis limits are fixed per sweep from
    all its runs (plus ``extra`` records), so the background is rebuilt only when the sweep,
    the extra records' range, or the renderer changes.

    Args:
        figsize: figure size in inches.
        dpi: resolution of the figure and of ``to_png``.
    """

    N_IMAGES = 64  # image grids: at most 8 × 8
    LOG_FLOOR = 1e-4  # lowest value shown on the log axes of losses and gradient norms

    def __init__(self, figsize: tuple[float, float] = (14, 10.5), dpi: int = 72) -> None:
        self.figure = Figure(figsize=figsize, dpi=dpi)
        self._canvas = FigureCanvasAgg(self.figure)
        self._key = None
        self._background = None
        self._renderer = None
        self._moving: list = []
        self._cols: dict = {}
        self._markers: list = []
        self._map_axes: list = []
        self._x_split = 0.5
        self._regions: dict = {}  # "maps", "A", "B" (or "all") → saved background pixels
        self._shown: dict = {}  # "A", "B" → what the column shows now (to skip unchanged ones)

    # -- layout ---------------------------------------------------------------------------

    @staticmethod
    def _limits(records) -> dict:
        """Fixed axis ranges for the curve panels: steps, losses, gradient norms (log axes)."""
        def positive(keys):
            vals = [r.scalars[k] for r in records for k in keys if k in r.scalars]
            v = np.concatenate(vals) if vals else np.array([1.0])
            v = v[np.isfinite(v) & (v > 0)]
            if v.size == 0:
                return 0.1, 10.0
            lo, hi = np.percentile(v, [0.5, 99.8])
            # a penalty or a gradient that dies (λ = 0.1) falls out at the bottom instead of
            # squeezing the losses into a line at the top
            return max(float(lo) / 1.5, LambdaLabFigure.LOG_FLOOR), max(float(hi) * 1.5, 10 * LambdaLabFigure.LOG_FLOOR)

        steps = max((int(r.steps[-1]) for r in records if len(r.steps)), default=1)
        return {"steps": (0, max(steps, 1)),
                "loss": positive(("d_loss", "g_loss", "d_penalty", "g_penalty")),
                "grad": positive(("grad_norm_d", "grad_norm_g"))}

    def _build(self, result, limits: dict) -> None:
        from matplotlib.patches import Rectangle
        from matplotlib.patheffects import withStroke

        fig = self.figure
        fig.clear()
        base = result.config.base
        is_2d = result.records[0].samples.ndim == 2
        metrics = lab_metrics(result)
        outer = fig.add_gridspec(3, 1, height_ratios=[1.0, 1.45, 1.0], left=0.05, right=0.965,
                                 bottom=0.05, top=0.935, hspace=0.5)
        top = outer[0].subgridspec(1, 5, wspace=0.6)
        outline = [withStroke(linewidth=4.5, foreground="black")]
        self._markers, self._map_axes = [], []
        for k, metric in enumerate(metrics[:5]):
            ax = fig.add_subplot(top[0, k])
            self._map_axes.append(ax)
            draw_metric_map(ax, result, metric, annotate=len(result.config.lambda_g) <= 6)
            if k:
                ax.set_ylabel("")
            pair = []
            for tag, size in (("A", 0.96), ("B", 0.7)):  # cell outlines: the values stay readable
                box = Rectangle((-9, -9), size, size, fill=False, ec=LAB_COLORS[tag], lw=2.2,
                                path_effects=outline, clip_on=False)
                ax.add_patch(box)
                pair.append(box)
            self._markers.append(pair)
        fig.suptitle(f"λ lab · {base.dataset}: {len(result.records)} runs of {base.steps:,} steps · "
                     f"maps: means over seeds {list(result.config.seeds)} · "
                     f"A = red outline, B = blue outline", fontsize=10.5)

        mid = outer[1].subgridspec(1, 2, wspace=0.16)
        self._x_split = (mid[0, 0].get_position(fig).x1 + mid[0, 1].get_position(fig).x0) / 2
        low = outer[2].subgridspec(1, 2, wspace=0.16)
        self._cols = {}
        self._moving = [box for pair in self._markers for box in pair]  # + the columns' artists below
        for c, tag in enumerate(("A", "B")):
            color = LAB_COLORS[tag]
            col: dict = {}
            box = mid[0, c].get_position(fig)
            col["title"] = fig.text((box.x0 + box.x1) / 2, box.y1 + 0.012, " \n ", ha="center", va="bottom",
                                    fontsize=10, color=color, fontweight="bold")
            if is_2d:
                cells = mid[0, c].subgridspec(1, 2, wspace=0.3)
                ax_s = fig.add_subplot(cells[0, 0])
                ax_d = fig.add_subplot(cells[0, 1])
                ext = result.records[0].surface_extent or (-1.5, 1.5, -1.5, 1.5)
                col["scatter"] = ax_s.scatter(np.zeros(0), np.zeros(0), s=5, color=color, alpha=0.5,
                                              lw=0, label="generated")
                col["surface"] = ax_d.imshow(np.full((2, 2), np.nan), origin="lower", extent=ext,
                                             cmap=plt.get_cmap("coolwarm").with_extremes(bad="0.85"),
                                             vmin=0, vmax=1, interpolation="bilinear")
                cb = fig.colorbar(col["surface"], ax=ax_d, fraction=0.046, pad=0.03)
                cb.set_label("D(x) = P(real)", fontsize=8)
                cb.ax.tick_params(labelsize=7)
                centres = self._centres(result)
                crosses = []
                for ax, name in ((ax_s, "generated samples"), (ax_d, "D's decision surface")):
                    crosses += ax.plot(centres[:, 0], centres[:, 1], "x", color="black", ms=5, mew=1.2,
                                       label="real mode centres")
                    ax.set_xlim(ext[0], ext[1])
                    ax.set_ylim(ext[2], ext[3])
                    ax.set_aspect("equal")
                    ax.set_xlabel("x₁", fontsize=8)
                    ax.set_ylabel("x₂", fontsize=8, labelpad=1)
                    ax.tick_params(labelsize=7)
                    ax.set_title(name, fontsize=8.5)
                ax_s.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, fontsize=7.5,
                            frameon=False, markerscale=1.5, handletextpad=0.2, columnspacing=0.8)
                # redrawn over the moving samples and surface, in full-draw order
                col["artists"] = [col["scatter"], crosses[0], *ax_s.spines.values(),
                                  col["surface"], crosses[1], *ax_d.spines.values()]
            else:
                ax_s = fig.add_subplot(mid[0, c])
                n_show = min(self.N_IMAGES, max(len(r.samples) for r in result.records) or 1)
                shape = result.records[0].samples.shape[1:]
                col["n_show"], col["ncol"] = n_show, int(np.ceil(np.sqrt(n_show)))
                col["grid"] = ax_s.imshow(_image_grid(np.zeros((0, *shape), np.float32), n_show, col["ncol"]),
                                          interpolation="nearest")
                ax_s.set_axis_off()  # the column title above says what and when
                col["artists"] = [col["grid"]]
            col["artists"].append(col["title"])

            cells = low[0, c].subgridspec(1, 2, wspace=0.32)
            ax_l, ax_g = fig.add_subplot(cells[0, 0]), fig.add_subplot(cells[0, 1])
            col["loss"] = [ax_l.plot([], [], color=k, lw=lw, ls=ls, label=lab)[0] for k, lw, ls, lab in (
                ("tab:purple", 1.1, "-", "D loss (adv.)"), ("tab:green", 1.1, "-", "G loss (adv.)"),
                ("tab:purple", 1.4, ":", "λ_D Σw_D²"), ("tab:green", 1.4, ":", "λ_G Σw_G²"))]
            col["grad"] = [ax_g.plot([], [], color=k, lw=1.1, label=lab)[0] for k, lab in (
                ("tab:purple", "‖∇L_D‖ (D)"), ("tab:green", "‖∇L_G‖ (G)"))]
            col["div"] = [ax.axvline(0, color="black", ls="--", lw=1, visible=False) for ax in (ax_l, ax_g)]
            for ax, key, ylabel in ((ax_l, "loss", f"{tag}: loss (log scale)"),
                                    (ax_g, "grad", f"{tag}: gradient norm (log scale)")):
                ax.set_yscale("log")
                ax.set_xlim(*limits["steps"])
                ax.set_ylim(*limits[key])
                ax.yaxis.set_major_locator(LogLocator(numticks=6))
                ax.yaxis.set_major_formatter(LogFormatter())
                ax.yaxis.set_minor_locator(NullLocator())
                ax.set_xlabel("training step", fontsize=8)
                ax.set_ylabel(ylabel, fontsize=8, color=color)
                ax.tick_params(labelsize=7)
                ax.grid(alpha=0.3)
                # above the panel, where it hides no curve
                ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(-0.02, 1.0), ncol=2, frameon=False,
                          handlelength=1.6, columnspacing=0.9, borderaxespad=0.2)
            col["artists"] += [*col["loss"], *col["grad"], *col["div"]]
            self._cols[tag] = col
        self._moving = [*self._moving, *self._cols["A"]["artists"], *self._cols["B"]["artists"]]

    @staticmethod
    def _centres(result) -> np.ndarray:
        from .data import make_mixture  # the centres are data, not a computation

        return make_mixture(result.config.base.dataset).centers.numpy()

    # -- moving parts ---------------------------------------------------------------------

    def _set_run(self, tag: str, rec, title: str) -> None:
        col = self._cols[tag]
        col["title"].set_text(title)
        if "scatter" in col:
            pts = rec.samples if rec.samples.ndim == 2 else np.zeros((0, 2))
            col["scatter"].set_offsets(pts)
            col["surface"].set_data(rec.surface if rec.surface is not None else np.full((2, 2), np.nan))
        else:
            col["grid"].set_data(_image_grid(rec.samples, col["n_show"], col["ncol"]))
        for line, key in zip(col["loss"], ("d_loss", "g_loss", "d_penalty", "g_penalty"), strict=True):
            y = rec.scalars[key]
            line.set_data(rec.steps, np.where(y > 0, y, np.nan))  # log axis: λ = 0 draws no penalty
        for line, key in zip(col["grad"], ("grad_norm_d", "grad_norm_g"), strict=True):
            line.set_data(rec.steps, rec.scalars[key])
        for line in col["div"]:
            line.set_visible(bool(rec.diverged and rec.diverged_step))
            if rec.diverged and rec.diverged_step:
                line.set_xdata([rec.diverged_step, rec.diverged_step])

    def _save_regions(self) -> None:
        """Cut the background into the maps row and the two columns, if their artists allow it.

        A slider move changes one column and the map markers; only those parts are restored
        and redrawn. If a column's artists reach into another part (an unusual figure size),
        everything is one part and every redraw draws all moving artists.
        """
        from matplotlib.transforms import Bbox

        renderer = self._canvas.get_renderer()
        fig_w, fig_h = self.figure.bbox.width, self.figure.bbox.height
        maps_bottom = min(ax.get_tightbbox(renderer).y0 for ax in self._map_axes)
        cols_top = max(self._cols[t]["title"].get_window_extent(renderer).y1 for t in ("A", "B"))
        a_right = self._cols["A"]["title"].get_window_extent(renderer).x1
        b_left = self._cols["B"]["title"].get_window_extent(renderer).x0
        x_split = self._x_split * fig_w
        if cols_top < maps_bottom and a_right < x_split < b_left:
            y_split = (cols_top + maps_bottom) / 2
            boxes = {"maps": Bbox.from_extents(0, y_split, fig_w, fig_h),
                     "A": Bbox.from_extents(0, 0, x_split, y_split),
                     "B": Bbox.from_extents(x_split, 0, fig_w, y_split)}
        else:
            boxes = {"all": self.figure.bbox}
        self._regions = {name: self._canvas.copy_from_bbox(box) for name, box in boxes.items()}

    def draw(self, result, rec_a, rec_b, titles: tuple[str, str] = ("A", "B"), extra=()) -> Figure:
        """Show runs ``rec_a`` and ``rec_b`` of ``result`` (or trained next to it) with the maps.

        Args:
            result: the ``sweep.SweepResult`` whose maps are drawn.
            rec_a, rec_b: ``sweep.RunRecord``s on the same data set (grid runs or extra ones);
                each is marked on the maps at its (λ_G, λ_D).
            titles: the tags that start the two columns' titles.
            extra: records not in ``result`` that may be shown (their ranges join the axes').

        Returns:
            The figure, drawn.

        Raises:
            ValueError: if a run is on another data set than ``result``.
        """
        runs = {"A": (rec_a, titles[0]), "B": (rec_b, titles[1])}
        for tag, (rec, _) in runs.items():
            if rec.config.dataset != result.config.base.dataset:
                raise ValueError(f"run {tag} is on {rec.config.dataset!r}, the maps on "
                                 f"{result.config.base.dataset!r}")
        extra = tuple(extra)
        limits = self._limits(list(result.records) + list(extra))
        key = (id(result), tuple(sorted(limits.items())))
        full = key != self._key or self._canvas.get_renderer() is not self._renderer
        if key != self._key:
            self._build(result, limits)
            self._shown = {}
        changed = []
        for tag, (rec, tag_title) in runs.items():
            title = _lab_record_title(tag_title, rec)
            if full or self._shown.get(tag) != (id(rec), title):
                self._set_run(tag, rec, title)
                self._shown[tag] = (id(rec), title)
                changed.append(tag)
        for pair in self._markers:
            for box, rec in zip(pair, (rec_a, rec_b), strict=True):
                x = lambda_position(rec.config.lambda_d, result.config.lambda_d)
                y = lambda_position(rec.config.lambda_g, result.config.lambda_g)
                box.set_xy((x - box.get_width() / 2, y - box.get_height() / 2))
        if full:
            for artist in self._moving:  # a full draw skips animated artists
                artist.set_animated(True)
            self._canvas.draw()
            for artist in self._moving:
                artist.set_animated(False)
            self._save_regions()
            self._renderer = self._canvas.get_renderer()
            self._key = key
        if "all" in self._regions:
            parts = {"all": self._moving}
        else:
            parts = {"maps": [box for pair in self._markers for box in pair]}
            parts.update({tag: self._cols[tag]["artists"] for tag in changed})
        for name, artists in parts.items():
            self._canvas.restore_region(self._regions[name])
            for artist in artists:
                if artist.get_visible():
                    self.figure.draw_artist(artist)
        return self.figure

    def to_png(self) -> bytes:
        """The figure as last drawn, as PNG bytes (see ``fast_png``)."""
        if not self._regions:
            raise RuntimeError("nothing drawn yet: call draw() first")
        return fast_png(np.asarray(self._canvas.buffer_rgba()))


def fast_png(pixels: np.ndarray, level: int = 1) -> bytes:
    """Encode an RGB(A) image as PNG quickly: no per-row filter search, zlib level 1.

    Pillow tries every PNG row filter, which takes ~2× longer on a dashboard-sized picture;
    unfiltered rows of a mostly flat figure compress about as well.

    Args:
        pixels: uint8 array (H, W, 3) or (H, W, 4); an alpha channel is dropped.
        level: zlib compression level 0–9.

    Returns:
        The PNG file's bytes.
    """
    import struct
    import zlib

    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ValueError(f"pixels must be uint8 of shape (H, W, 3|4), got {pixels.dtype} {pixels.shape}")
    h, w = pixels.shape[:2]
    rows = np.empty((h, 1 + 3 * w), dtype=np.uint8)
    rows[:, 0] = 0  # filter type "None" for every row
    rows[:, 1:] = pixels[..., :3].reshape(h, 3 * w)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows.tobytes(), level)) + chunk(b"IEND", b""))



# --- training the article's GAN on digits (notebook 04) -----------------------------------

from matplotlib.ticker import FuncFormatter  # noqa: E402


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

_STEP_LABEL = "training step (one D update + one G update)"


def figure_png(fig: Figure, dpi: int = 72) -> bytes:
    """The figure rendered as PNG bytes (for a picture that is replaced while a run trains).

    Args:
        fig: any matplotlib figure.
        dpi: resolution.

    Returns:
        The PNG file's bytes.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


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
        The figure (five axes: four curves and the sample grid).
    """
    steps = np.asarray(history.steps, dtype=np.float64)

    def series(key: str) -> np.ndarray:
        return np.asarray(history.scalars[key], dtype=np.float64)

    fig = plt.figure(figsize=(13, 6.4))
    gs = fig.add_gridspec(2, 3, width_ratios=[1, 1, 1.35])
    ax_loss, ax_dout = fig.add_subplot(gs[0, 0]), fig.add_subplot(gs[0, 1])
    ax_grad, ax_wn = fig.add_subplot(gs[1, 0]), fig.add_subplot(gs[1, 1])
    ax_img = fig.add_subplot(gs[:, 2])

    ax_loss.plot(steps, series("d_loss"), color="C0", lw=1, label="L_D (adversarial part)")
    ax_loss.plot(steps, series("g_loss"), color="C1", lw=1, label="L_G (adversarial part)")
    for key, color, label in (("d_penalty", "C0", "λ_D Σw_D²"), ("g_penalty", "C1", "λ_G Σw_G²")):
        pen = series(key)
        if pen.size and np.nanmax(np.abs(pen)) > 0:
            ax_loss.plot(steps, pen, color=color, ls="--", lw=1, label=label)
    ax_loss.set_ylabel("loss (nats)")
    ax_loss.set_title("Losses")

    ax_dout.plot(steps, series("d_real"), color="C2", lw=1, label="D(x), real")
    ax_dout.plot(steps, series("d_fake"), color="C3", lw=1, label="D(G(z)), generated")
    ax_dout.axhline(0.5, color="0.5", ls=":", lw=1, label="0.5: D cannot tell")
    ax_dout.set_ylim(-0.02, 1.02)
    ax_dout.set_ylabel("mean probability 'real'")
    ax_dout.set_title("What the discriminator says")

    for key, color, label in (("grad_norm_d", "C0", "‖∇L_D‖ (D's weights)"),
                              ("grad_norm_g", "C1", "‖∇L_G‖ (G's weights)")):
        g = series(key)
        ax_grad.plot(steps, np.where(g > 0, g, np.nan), color=color, lw=1, label=label)
    if steps.size:
        ax_grad.set_yscale("log")
        _plain_log_ticks(ax_grad)
    ax_grad.set_ylabel("gradient norm (log scale)")
    ax_grad.set_title("Gradient norms")

    ax_wn.plot(steps, series("weight_norm_d"), color="C0", lw=1.3, label="‖w_D‖")
    ax_wn.plot(steps, series("weight_norm_g"), color="C1", lw=1.3, label="‖w_G‖")
    ax_wn.set_ylabel("weight norm sqrt(Σw²)")
    ax_wn.set_title("Weight norms")

    for ax in (ax_loss, ax_dout, ax_grad, ax_wn):
        ax.set_xlabel(_STEP_LABEL, fontsize=8)
        ax.grid(alpha=0.3)
        if steps.size:
            ax.legend(fontsize=7, loc="best")

    if history.samples:
        plot_image_grid(history.samples[-1][:n_images], nrow=nrow, ax=ax_img,
                        title=f"samples from fixed noise, step {history.sample_steps[-1]:,}")
    else:
        ax_img.set_axis_off()
        ax_img.text(0.5, 0.5, "no samples yet", ha="center", va="center", transform=ax_img.transAxes)
    cfg = history.config or {}
    total = cfg.get("steps")
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


# --- sweep sample panels


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
