"""Slider canvases that redraw in place: the Dirac-GAN explorer, the λ lab and one run's replay.

Each canvas renders what does not move (axes, ticks, labels, colour bars, legends) once into
a background and, on a slider move, restores it and redraws only the moving artists (Agg
blitting, ``BlitFigure``). The pictures leave as PNG bytes from one encoder, ``encode_png``.
The figures are plain ``matplotlib.figure.Figure`` objects (not registered with pyplot), so a
notebook never shows them by themselves; ``figure.savefig`` still works and does a full draw.
"""

from __future__ import annotations

import io
import struct
import zlib

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.patheffects import withStroke
from matplotlib.ticker import LogFormatter, LogLocator, NullLocator
from matplotlib.transforms import Bbox

from .data import dataset_facts, make_mixture
from .evaluate import coverage_key, format_value, lambda_label
from .plotting import (
    DIRAC_DISTANCE_FLOOR,
    dirac_arrows,
    draw_metric_map,
    failed_cells,
    image_grid_array,
    lab_metrics,
    lambda_position,
    plot_dirac_distance,
    plot_dirac_field,
    replay_figsize,
    replay_frame_index,
    replay_layout,
    square_grid_size,
)
from .sweep import collapsed_fraction, dead_d_fraction

#: Colours of the λ lab's two settings A and B: their columns, samples and markers on the maps.
#: Resolution of every widget picture: at 110 dpi an 8-pt legend is ~12 px, readable at notebook width.
WIDGET_DPI = 110
LAB_COLORS = {"A": "#e4002b", "B": "#00a2ff"}

# --- PNG -------------------------------------------------------------------------------------


def encode_png(pixels: np.ndarray, level: int = 1) -> bytes:
    """Encode an RGB(A) image as PNG quickly: no per-row filter search, zlib level 1.

    Pillow tries every PNG row filter, which takes ~2× longer on a dashboard-sized picture;
    unfiltered rows of a mostly flat figure compress about as well.

    Args:
        pixels: uint8 array (H, W, 3) or (H, W, 4); an alpha channel is dropped.
        level: zlib compression level 0–9.

    Returns:
        The PNG file's bytes.

    Raises:
        ValueError: if ``pixels`` is not uint8 of shape (H, W, 3) or (H, W, 4).
    """
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


def figure_png(fig: Figure, dpi: int = WIDGET_DPI) -> bytes:
    """Any figure fully drawn at ``dpi`` and encoded by ``encode_png`` (e.g. a picture replaced while a run trains).

    Args:
        fig: any matplotlib figure (pyplot's or not); its own canvas is left as it is.
        dpi: resolution.

    Returns:
        The PNG file's bytes.
    """
    buf = io.BytesIO()
    with plt.rc_context({"savefig.bbox": "standard"}):  # the whole figure, whatever the rc says
        fig.savefig(buf, format="rgba", dpi=dpi)
    w_in, h_in = fig.get_size_inches()
    width, height = int(w_in * dpi), int(h_in * dpi)  # Agg's renderer size for this dpi
    return encode_png(np.frombuffer(buf.getbuffer(), dtype=np.uint8).reshape(height, width, 4))


# --- blitting ----------------------------------------------------------------------------------


class BlitFigure:
    """A figure on its own Agg canvas that renders its still parts once and then blits.

    ``_render_background(moving)`` draws the figure without the ``moving`` artists and saves
    the background of each region (``_region_boxes``: the whole figure unless a subclass
    cuts it into parts); ``_blit(parts)`` restores regions and draws their moving artists on
    top. A subclass decides when a full render is due (a new layout, or ``_stale()``: the
    canvas made a new renderer).

    Args:
        figsize: figure size in inches.
        dpi: resolution of the figure and of ``to_png``.
    """

    def __init__(self, figsize: tuple[float, float], dpi: int) -> None:
        self.figure = Figure(figsize=figsize, dpi=dpi)
        self._canvas = FigureCanvasAgg(self.figure)
        self._renderer = None
        self._regions: dict = {}  # region name → saved background pixels

    def _stale(self) -> bool:
        """True when the canvas renders with another renderer than the background was saved with."""
        return self._canvas.get_renderer() is not self._renderer

    def _region_boxes(self) -> dict[str, Bbox]:
        """The parts of the figure whose backgrounds are saved separately (here: one, all of it)."""
        return {"all": self.figure.bbox}

    def _render_background(self, moving) -> None:
        """Full draw without the ``moving`` artists; save each region's background."""
        for artist in moving:  # a full draw skips animated artists
            artist.set_animated(True)
        self._canvas.draw()
        for artist in moving:
            artist.set_animated(False)
        self._regions = {name: self._canvas.copy_from_bbox(box) for name, box in self._region_boxes().items()}
        self._renderer = self._canvas.get_renderer()

    def _blit(self, parts: dict) -> None:
        """Restore each named region's background and draw its visible artists (region → artists)."""
        for name, artists in parts.items():
            self._canvas.restore_region(self._regions[name])
            for artist in artists:
                if artist.get_visible():
                    self.figure.draw_artist(artist)

    def to_png(self) -> bytes:
        """The figure as last drawn, as PNG bytes (``encode_png``: it changes on every move).

        Raises:
            RuntimeError: before the first ``draw``.
        """
        if not self._regions:
            raise RuntimeError("nothing drawn yet: call draw() first")
        return encode_png(np.asarray(self._canvas.buffer_rgba()))


# --- Dirac-GAN explorer ------------------------------------------------------------------------


class DiracExplorerFigure(BlitFigure):
    """Two panels for the Dirac-GAN explorer: field with one trajectory, and its distance curve.

    The first ``draw`` lays the panels out with ``plot_dirac_field`` / ``plot_dirac_distance``;
    later calls move the arrows, lines, markers and title and blit them, about five times
    faster than a full draw. The background is rebuilt when the field's window, the run
    length or the distance axis changes. The distance axis runs from the largest of
    ``DIST_FLOORS`` below the run's smallest distance up to 1e2 (values outside are drawn at
    the edge): few ranges, so that its ticks rarely move, and a slow decay (λ_D = 1e-4) is
    not squashed into a flat line.

    Args:
        figsize: figure size in inches.
        dpi: resolution of the figure and of ``to_png``.
    """

    DIST_FLOORS = (1e-2, 1e-6, DIRAC_DISTANCE_FLOOR)
    DIST_TOP = 1e2

    def __init__(self, figsize: tuple[float, float] = (10, 4.2), dpi: int = WIDGET_DPI) -> None:
        super().__init__(figsize, dpi)
        self._moving: list = []
        self._window: tuple | None = None

    def draw(self, field, trajectory, title: str = "", efold: float = float("inf")) -> Figure:
        """Show ``trajectory`` over ``field``; ``field`` may cover a different window each call.

        Args:
            field: a ``dirac.VectorFieldGrid`` with the same grid size on every call.
            trajectory: a ``dirac.DiracTrajectory``; its ``fixed_point`` (star) and the data
                equilibrium (c, 0) (cross) are marked, and its distance to both is plotted
                (the two curves coincide unless λ_G moves the fixed point).
            title: the figure's suptitle.
            efold: the predicted e-fold time in steps (``dirac.efold_steps``), drawn as a dotted
                vertical line in the distance panel; hidden when inf or beyond the run.

        Returns:
            The figure, drawn.
        """
        data_point = (trajectory.game.c, 0.0)
        raw = (trajectory.distance(), trajectory.distance(data_point))
        smallest = min(float(d.min()) for d in raw)
        floor = next((f for f in self.DIST_FLOORS if f <= smallest), self.DIST_FLOORS[-1])
        dists = tuple(np.clip(d, floor, self.DIST_TOP) for d in raw)
        if not self._moving:
            self._layout(field, trajectory, data_point, dists, title)
        else:
            self._move(field, trajectory, data_point, dists, title)
        shown = bool(np.isfinite(efold) and efold <= trajectory.steps)
        self._efold_line.set_xdata([efold if shown else 0.0] * 2)
        self._efold_line.set_visible(shown)
        t, p = field.theta, field.psi
        window = (t.min(), t.max(), p.min(), p.max(), len(dists[0]), floor)
        if window != self._window or self._stale():
            self._ax_field.set_xlim(t.min(), t.max())
            self._ax_field.set_ylim(p.min(), p.max())
            self._ax_dist.set_xlim(0, max(len(dists[0]) - 1, 1))
            self._ax_dist.set_ylim(floor, self.DIST_TOP)
            self._render_background(self._moving)
            self._window = window
        self._blit({"all": self._moving})
        return self.figure

    def _layout(self, field, trajectory, data_point, dists, title: str) -> None:
        """First draw: both panels through the stateless plotting functions."""
        self.figure.subplots_adjust(left=0.07, right=0.98, bottom=0.12, top=0.86, wspace=0.28)
        ax_field, ax_dist = self.figure.subplots(1, 2, width_ratios=[1, 1.25])
        plot_dirac_field(field, [("trajectory", trajectory)], trajectory.fixed_point, data_point, ax=ax_field)
        to_data = "to the data equilibrium (c, 0)"
        plot_dirac_distance({"to the fixed point of v": dists[0], to_data: dists[1]},
                            ax=ax_dist, dashed=(to_data,))
        self._curves = list(ax_dist.lines)
        self._efold_line = ax_dist.axvline(0.0, color="red", lw=1, ls=":",
                                           label="e-fold time −1/ln ρ (linearized)")
        ax_dist.legend(fontsize=8, loc="lower left")
        self._ax_field, self._ax_dist = ax_field, ax_dist
        self._quiver = ax_field.collections[0]
        self._suptitle = self.figure.suptitle(title, fontsize=10)
        # the legends move with the lines so that they stay on top of a long run's trajectory
        # blitting draws in list order: the field's lines by zorder, as a full draw does (start and end on top)
        self._moving = [self._quiver, *sorted(ax_field.lines, key=lambda a: a.get_zorder()), *self._curves,
                        self._efold_line, self._suptitle, ax_field.get_legend(), ax_dist.get_legend()]

    def _move(self, field, trajectory, data_point, dists, title: str) -> None:
        """Later draws: new data into the existing arrows, lines, markers and title."""
        u, v, speed, clim = dirac_arrows(field)
        self._quiver.set_offsets(np.column_stack([field.theta.ravel(), field.psi.ravel()]))
        self._quiver.set_UVC(u, v, speed)
        self._quiver.set_clim(*clim)
        line, start, end, data_marker, fixed_marker = self._ax_field.lines
        line.set_data(trajectory.theta, trajectory.psi)
        start.set_data([trajectory.theta[0]], [trajectory.psi[0]])
        end.set_data([trajectory.theta[-1]], [trajectory.psi[-1]])
        data_marker.set_data([data_point[0]], [data_point[1]])
        fixed_marker.set_data([trajectory.fixed_point[0]], [trajectory.fixed_point[1]])
        steps = np.arange(len(dists[0]))
        for curve, dist in zip(self._curves, dists, strict=True):
            curve.set_data(steps, dist)
        self._suptitle.set_text(title)


# --- λ lab ---------------------------------------------------------------------------------------


def _lab_record_title(tag: str, rec, frame: int | None = None) -> str:
    """A column's title: the run, then what it shows (its end, or evaluation ``frame`` of a replay)."""
    c = rec.config
    head = f"{tag}: λ_G = {lambda_label(c.lambda_g)}, λ_D = {lambda_label(c.lambda_d)}, seed {c.seed}"
    if rec.diverged and frame is None:
        return f"{head}\nDIVERGED at step {rec.diverged_step}"
    if frame is None:  # the end: the run's summary (over its last evaluations)
        s = rec.summary
        step = int(rec.eval_steps[-1]) if len(rec.eval_steps) else 0
    else:  # a replay frame: the curves' values at that evaluation
        s = {k: float(v[frame]) for k, v in rec.curves.items() if frame < len(v)}
        step = int(rec.eval_steps[frame])
    facts, cover = dataset_facts(c.dataset), coverage_key(c.dataset)
    word = "classes" if facts.mode_word == "class" else "modes"
    parts = [f"{format_value(cover, s.get(cover, np.nan))}/{facts.n_modes} {word}"]
    if "high_quality_fraction" in s:
        parts.append(f"{100 * s['high_quality_fraction']:.0f} % high quality")
    elif "mean_confidence" in s:
        parts.append(f"confidence {s['mean_confidence']:.2f}")
    what = "samples" if rec.samples.ndim == 2 else "generated images"
    if frame is None:
        return f"{head}\n{what} at step {step:,}: {', '.join(parts)}"
    died = f" (diverged at step {rec.diverged_step})" if rec.diverged else ""
    return f"{head}\n{what} at step {step:,} of {c.steps:,}{died}: {', '.join(parts)}"


def _log_axis(ax, limits: tuple[float, float], steps: tuple[float, float]) -> None:
    """A fixed log y range with plain "1e-05" labels and no minor ticks (cheap to redraw)."""
    ax.set_yscale("log")
    ax.set_xlim(*steps)
    ax.set_ylim(*limits)
    ax.yaxis.set_major_locator(LogLocator(numticks=6))
    ax.yaxis.set_major_formatter(LogFormatter())
    ax.yaxis.set_minor_locator(NullLocator())


class LambdaLabFigure(BlitFigure):
    """The λ lab picture: metric maps of a sweep, and two runs A and B side by side.

    Top row: ``lab_metrics(result)`` maps over the (λ_G, λ_D) grid (seed means) with A and B
    marked (A red circle, B blue square). Below, one column per run: generated samples over
    the real mode centres and D's decision surface σ(D(x)) (2-D data), or a grid of
    generated images; then its loss and gradient-norm curves over training. A run that kept
    snapshots can be replayed (``draw(..., frames=...)``): its column then shows one evaluation's
    samples (and D's surface) and a cursor at that step on its curves.

    Built for slider redraws, like ``DiracExplorerFigure``: the first ``draw`` for a sweep lays
    everything out and renders what does not move (maps, axes, ticks, labels, colour bars,
    legends) once into a background; later calls restore it and redraw only the samples,
    surfaces, curves, markers and titles (Agg blitting). Axis limits are fixed per sweep from
    all its runs (plus ``extra`` records); a column showing a run that is not one of the sweep's
    (trained here) gets its own step axis, so a 200-step run fills its panels. The background is
    rebuilt only when the sweep, the extra records' range, a column's step axis, or the renderer
    changes.

    Args:
        figsize: figure size in inches.
        dpi: resolution of the figure and of ``to_png``.
    """

    N_IMAGES = 64  # image grids: at most 8 × 8
    LOG_FLOOR = 1e-4  # lowest value shown on the log axes of losses and gradient norms

    def __init__(self, figsize: tuple[float, float] = (14, 10.5), dpi: int = WIDGET_DPI) -> None:
        super().__init__(figsize, dpi)
        self._key = None
        self._moving: list = []
        self._cols: dict = {}
        self._markers: list = []
        self._map_axes: list = []
        self._x_split = 0.5
        self._shown: dict = {}  # "A", "B" → what the column shows now (to skip unchanged ones)

    # -- layout ---------------------------------------------------------------------------

    @staticmethod
    def _steps(records) -> tuple[float, float]:
        """A step axis for the curves of ``records``: 0 … their last logged step."""
        steps = max((int(r.steps[-1]) for r in records if len(r.steps)), default=1)
        return 0, 1.02 * max(steps, 1)  # a replay cursor at the last step stays visible

    @staticmethod
    def _limits(records) -> dict:
        """Fixed axis ranges for the curve panels: losses, gradient norms (log axes)."""
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

        return {"loss": positive(("d_loss", "g_loss", "d_penalty", "g_penalty")),
                "grad": positive(("grad_norm_d", "grad_norm_g"))}

    def _build(self, result, limits: dict) -> None:
        """Lay out the whole figure for ``result``: maps row, then a sample and a curve row per column."""
        fig = self.figure
        fig.clear()
        outer = fig.add_gridspec(3, 1, height_ratios=[1.0, 1.45, 1.0], left=0.05, right=0.965,
                                 bottom=0.05, top=0.935, hspace=0.5)
        self._build_maps(outer[0], result)
        mid = outer[1].subgridspec(1, 2, wspace=0.16)
        self._x_split = (mid[0, 0].get_position(fig).x1 + mid[0, 1].get_position(fig).x0) / 2
        low = outer[2].subgridspec(1, 2, wspace=0.16)
        is_2d = result.records[0].samples.ndim == 2
        self._cols = {}
        for c, tag in enumerate(("A", "B")):
            box = mid[0, c].get_position(fig)
            title = fig.text((box.x0 + box.x1) / 2, box.y1 + 0.012, " \n ", ha="center", va="bottom",
                             fontsize=10, color=LAB_COLORS[tag], fontweight="bold")
            col = (self._build_2d_column if is_2d else self._build_image_column)(mid[0, c], result, tag)
            col["title"] = title
            col.update(self._build_curves(low[0, c], tag, limits))
            col["artists"] += [title, *col["loss"], *col["grad"], *col["div"], *col["cursor"]]
            self._cols[tag] = col
        self._moving = [*(box for pair in self._markers for box in pair),
                        *self._cols["A"]["artists"], *self._cols["B"]["artists"]]

    def _build_maps(self, spec, result) -> None:
        """The top row: up to five metric maps, each with an A and a B cell outline, and the suptitle.

        As in ``plotting.plot_metric_maps``, cells where D died or G collapsed in every seed are dark
        grey, off the colour scale, so a failure never looks bright (good).
        """
        fig = self.figure
        base = result.config.base
        metrics = lab_metrics(result)[:5]
        top = spec.subgridspec(1, max(len(metrics), 4), wspace=0.6)  # fewer maps: wider cells
        outline = [withStroke(linewidth=4.5, foreground="black")]
        self._markers, self._map_axes = [], []
        dead = dead_d_fraction(result) if result.records[0].surface is not None and not result.config.diagonal else None
        failed = failed_cells(dead, collapsed_fraction(result))
        for k, metric in enumerate(metrics):
            ax = fig.add_subplot(top[0, k])
            self._map_axes.append(ax)
            draw_metric_map(ax, result, metric, annotate=len(result.config.lambda_g) <= 6, failed=failed,
                            value_pt=9)
            if k:
                ax.set_ylabel("")
            pair = []
            for tag, size in (("A", 0.96), ("B", 0.7)):  # cell outlines: the values stay readable
                # above every static mark (a blit draws moving artists last, so must a full draw)
                box = Rectangle((-9, -9), size, size, fill=False, ec=LAB_COLORS[tag], lw=2.2,
                                path_effects=outline, clip_on=False, zorder=6)
                ax.add_patch(box)
                pair.append(box)
            self._markers.append(pair)
        fig.suptitle(f"λ lab · {base.dataset}: {len(result.records)} runs of {base.steps:,} steps · "
                     f"maps: means over seeds {list(result.config.seeds)} · "
                     f"A = red outline, B = blue outline · dark grey: D dead or G on ≤ 1 mode in every seed",
                     fontsize=10.5)

    def _build_2d_column(self, spec, result, tag: str) -> dict:
        """2-D data: generated samples and D's decision surface, both over the real mode centres."""
        fig, color = self.figure, LAB_COLORS[tag]
        cells = spec.subgridspec(1, 2, wspace=0.3)
        ax_s = fig.add_subplot(cells[0, 0])
        ax_d = fig.add_subplot(cells[0, 1])
        ext = result.records[0].surface_extent or (-1.5, 1.5, -1.5, 1.5)
        col = {"scatter": ax_s.scatter(np.zeros(0), np.zeros(0), s=9, color=color, alpha=0.5, lw=0,
                                       label="generated"),
               "surface": ax_d.imshow(np.full((2, 2), np.nan), origin="lower", extent=ext,
                                      cmap=plt.get_cmap("coolwarm").with_extremes(bad="0.85"),
                                      vmin=0, vmax=1, interpolation="bilinear")}
        cb = fig.colorbar(col["surface"], ax=ax_d, fraction=0.046, pad=0.03)
        cb.set_label("D(x) = P(real)", fontsize=8)
        cb.ax.tick_params(labelsize=7)
        centres = make_mixture(result.config.base.dataset).centers.numpy()
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
        ax_s.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, fontsize=8,
                    frameon=False, markerscale=1.5, handletextpad=0.2, columnspacing=0.8)
        # redrawn over the moving samples and surface, in full-draw order
        col["artists"] = [col["scatter"], crosses[0], *ax_s.spines.values(),
                          col["surface"], crosses[1], *ax_d.spines.values()]
        return col

    def _build_image_column(self, spec, result, tag: str) -> dict:
        """Image data: one grid of up to ``N_IMAGES`` generated images."""
        ax = self.figure.add_subplot(spec)
        n_show = min(self.N_IMAGES, max(len(r.samples) for r in result.records) or 1)
        shape = result.records[0].samples.shape[1:]
        ncol = int(np.ceil(np.sqrt(n_show)))
        grid = ax.imshow(image_grid_array(np.zeros((0, *shape), np.float32), n_show, ncol),
                         interpolation="nearest")
        ax.set_axis_off()  # the column title above says what and when
        return {"n_show": n_show, "ncol": ncol, "grid": grid, "artists": [grid]}

    def _build_curves(self, spec, tag: str, limits: dict) -> dict:
        """Loss and gradient-norm panels on fixed log axes, with a (hidden) divergence line and replay cursor each."""
        fig, color = self.figure, LAB_COLORS[tag]
        cells = spec.subgridspec(1, 2, wspace=0.32)
        ax_l, ax_g = fig.add_subplot(cells[0, 0]), fig.add_subplot(cells[0, 1])
        curves = {
            "loss": [ax_l.plot([], [], color=k, lw=lw, ls=ls, label=lab)[0] for k, lw, ls, lab in (
                ("tab:purple", 1.1, "-", "D loss (adv.)"), ("tab:green", 1.1, "-", "G loss (adv.)"),
                ("tab:purple", 1.4, ":", "λ_D Σw_D²"), ("tab:green", 1.4, ":", "λ_G Σw_G²"))],
            "grad": [ax_g.plot([], [], color=k, lw=1.1, label=lab)[0] for k, lab in (
                ("tab:purple", "‖∇L_D‖ (D)"), ("tab:green", "‖∇L_G‖ (G)"))],
            "div": [ax.axvline(0, color="black", ls="--", lw=1, visible=False) for ax in (ax_l, ax_g)],
            # the replay's time: the step of the evaluation the samples above show
            "cursor": [ax.axvline(0, color=color, lw=1.6, alpha=0.8, visible=False) for ax in (ax_l, ax_g)],
        }
        for ax, key, ylabel in ((ax_l, "loss", f"{tag}: loss (log scale)"),
                                (ax_g, "grad", f"{tag}: gradient norm (log scale)")):
            _log_axis(ax, limits[key], limits[f"steps_{tag}"])
            own = limits[f"steps_{tag}"] != limits["steps_grid"]  # a run trained here: its own length
            ax.set_xlabel(f"training step (this run's {limits[f'steps_{tag}'][1] / 1.02:,.0f}; grid runs' "
                          f"{limits['steps_grid'][1] / 1.02:,.0f})" if own else "training step", fontsize=8)
            ax.set_ylabel(ylabel, fontsize=8, color=color)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            # above the panel, where it hides no curve
            ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(-0.02, 1.0), ncol=2, frameon=False,
                      handlelength=1.6, columnspacing=0.9, borderaxespad=0.2)
        return curves

    def _region_boxes(self) -> dict[str, Bbox]:
        """Cut the background into the maps row and the two columns, if their artists allow it.

        A slider move changes one column and the map markers; only those parts are restored
        and redrawn. If a column's artists reach into another part (an unusual figure size),
        everything is one part and every redraw draws all moving artists.
        """
        renderer = self._canvas.get_renderer()
        fig_w, fig_h = self.figure.bbox.width, self.figure.bbox.height
        maps_bottom = min(ax.get_tightbbox(renderer).y0 for ax in self._map_axes)
        cols_top = max(self._cols[t]["title"].get_window_extent(renderer).y1 for t in ("A", "B"))
        a_right = self._cols["A"]["title"].get_window_extent(renderer).x1
        b_left = self._cols["B"]["title"].get_window_extent(renderer).x0
        x_split = self._x_split * fig_w
        if not (cols_top < maps_bottom and a_right < x_split < b_left):
            return super()._region_boxes()
        y_split = (cols_top + maps_bottom) / 2
        return {"maps": Bbox.from_extents(0, y_split, fig_w, fig_h),
                "A": Bbox.from_extents(0, 0, x_split, y_split),
                "B": Bbox.from_extents(x_split, 0, fig_w, y_split)}

    # -- moving parts ---------------------------------------------------------------------

    def _set_run(self, tag: str, rec, title: str, frame: int | None = None) -> None:
        """Put run ``rec`` into column ``tag``: its end, or evaluation ``frame`` of its snapshots."""
        col = self._cols[tag]
        col["title"].set_text(title)
        if "scatter" in col:
            if frame is None:
                pts, surface = rec.samples, rec.surface
            else:  # the coarser snapshot surface fills the same extent
                pts = rec.snapshot_samples[frame]
                surface = rec.snapshot_surfaces[frame] if rec.snapshot_surfaces is not None else None
            col["scatter"].set_offsets(pts if pts.ndim == 2 else np.zeros((0, 2)))
            col["surface"].set_data(surface if surface is not None else np.full((2, 2), np.nan))
        elif frame is None:
            col["grid"].set_data(image_grid_array(rec.samples, col["n_show"], col["ncol"]))
        else:  # fewer images per snapshot: a square grid of them, stretched over the same square
            n_show, ncol = square_grid_size(rec.snapshot_samples.shape[1], self.N_IMAGES)
            col["grid"].set_data(image_grid_array(rec.snapshot_samples[frame], n_show, ncol))
        for line in col["cursor"]:
            line.set_visible(frame is not None)
            if frame is not None:
                step = rec.eval_steps[frame]
                line.set_xdata([step, step])
        for line, key in zip(col["loss"], ("d_loss", "g_loss", "d_penalty", "g_penalty"), strict=True):
            y = rec.scalars[key]
            line.set_data(rec.steps, np.where(y > 0, y, np.nan))  # log axis: λ = 0 draws no penalty
        for line, key in zip(col["grad"], ("grad_norm_d", "grad_norm_g"), strict=True):
            line.set_data(rec.steps, rec.scalars[key])
        for line in col["div"]:
            line.set_visible(bool(rec.diverged and rec.diverged_step))
            if rec.diverged and rec.diverged_step:
                line.set_xdata([rec.diverged_step, rec.diverged_step])

    def _place_markers(self, result, rec_a, rec_b) -> None:
        """Centre the A and B outlines of every map on their runs' (λ_G, λ_D)."""
        for pair in self._markers:
            for box, rec in zip(pair, (rec_a, rec_b), strict=True):
                x = lambda_position(rec.config.lambda_d, result.config.lambda_d)
                y = lambda_position(rec.config.lambda_g, result.config.lambda_g)
                box.set_xy((x - box.get_width() / 2, y - box.get_height() / 2))

    def draw(self, result, rec_a, rec_b, titles: tuple[str, str] = ("A", "B"), extra=(),
             frames: dict | None = None) -> Figure:
        """Show runs ``rec_a`` and ``rec_b`` of ``result`` (or trained next to it) with the maps.

        Args:
            result: the ``sweep.SweepResult`` whose maps are drawn.
            rec_a, rec_b: ``sweep.RunRecord``s on the same data set (grid runs or extra ones);
                each is marked on the maps at its (λ_G, λ_D).
            titles: the tags that start the two columns' titles.
            extra: records not in ``result`` that may be shown (their ranges join the axes').
            frames: ``{"A": k, "B": k}``: show evaluation k of a run's snapshots (its samples,
                surface, and a cursor at its step on the curves) instead of its end; a missing
                tag or None: the end (what a run without snapshots always shows).

        Returns:
            The figure, drawn.

        Raises:
            ValueError: if a run is on another data set than ``result``, or a frame is not an
                evaluation of the run's snapshots.
        """
        runs = {"A": (rec_a, titles[0]), "B": (rec_b, titles[1])}
        frames = frames or {}
        for tag, (rec, _) in runs.items():
            if rec.config.dataset != result.config.base.dataset:
                raise ValueError(f"run {tag} is on {rec.config.dataset!r}, the maps on "
                                 f"{result.config.base.dataset!r}")
            k = frames.get(tag)
            n = 0 if rec.snapshot_samples is None else len(rec.snapshot_samples)
            if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < n):
                raise ValueError(f"frame of run {tag} must be None or an evaluation in [0, {n}) of its "
                                 f"snapshots, got {k!r}")
        limits = self._limits([*result.records, *extra])
        # the grid runs share the sweep's step axis; a run trained here (often far shorter) gets its
        # own, or its curves would fill a sliver at the left of the grid runs' 20,000 steps
        grid_ids = {id(r) for r in result.records}
        limits["steps_grid"] = self._steps(result.records)
        for tag, (rec, _) in runs.items():
            limits[f"steps_{tag}"] = limits["steps_grid"] if id(rec) in grid_ids else self._steps([rec])
        key = (id(result), tuple(sorted(limits.items())))
        full = key != self._key or self._stale()
        if key != self._key:
            self._build(result, limits)
            self._shown = {}
        changed = []
        for tag, (rec, tag_title) in runs.items():
            frame = None if frames.get(tag) is None else int(frames[tag])
            title = _lab_record_title(tag_title, rec, frame)
            if full or self._shown.get(tag) != (id(rec), title, frame):
                self._set_run(tag, rec, title, frame)
                self._shown[tag] = (id(rec), title, frame)
                changed.append(tag)
        self._place_markers(result, rec_a, rec_b)
        if full:
            self._render_background(self._moving)
            self._key = key
        if "all" in self._regions:
            self._blit({"all": self._moving})
        else:
            self._blit({"maps": [box for pair in self._markers for box in pair],
                        **{tag: self._cols[tag]["artists"] for tag in changed}})
        return self.figure


# --- one run's replay --------------------------------------------------------------------------


class ReplayFigure(BlitFigure):
    """One run's training replay for a time slider: ``plotting.replay_layout`` drawn by blitting.

    The layout is ``plotting.plot_replay_frame``'s (image runs: the fixed-noise sample grid and
    the class count over training with a cursor; 2-D runs: samples, D's surface and the mode
    count). The first ``draw`` of a run lays it out and renders what does not move once; a
    later frame restores that background and redraws the grid (or samples and surface), the
    cursor and the title only.

    Args:
        dpi: resolution of the figure and of ``to_png``.
        n_images: image runs show at most this many images (a square grid).
    """

    def __init__(self, dpi: int = WIDGET_DPI, n_images: int = 64) -> None:
        super().__init__((10, 4.6), dpi)
        self.n_images = n_images
        self._record = None
        self._show = None

    def draw(self, record, frame: int) -> Figure:
        """Show evaluation ``frame`` of ``record``'s snapshots.

        Args:
            record: a ``sweep.RunRecord`` with snapshots (E evaluations).
            frame: an index into its snapshots, in [-E, E) (negative: from the end).

        Returns:
            The figure, drawn.

        Raises:
            ValueError: for a run without snapshots, or a frame outside [-E, E).
        """
        frame = replay_frame_index(record, frame)
        if record is not self._record:
            fig = self.figure
            fig.clear()
            fig.set_size_inches(replay_figsize(record))
            fig.set_layout_engine("constrained")
            self._show = replay_layout(record, fig, self.n_images)
            self._canvas.draw()  # lay out once, then freeze it: blitting needs fixed positions
            fig.set_layout_engine("none")
            self._record, self._regions = record, {}
        moving = self._show(frame)
        if not self._regions or self._stale():
            self._render_background(moving)
        self._blit({"all": moving})
        return self.figure
