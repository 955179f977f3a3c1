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
