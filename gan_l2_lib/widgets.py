"""Controllers only: sliders and buttons connected to cached data and to the figures that show it.

Nothing here computes a result of its own: the pictures come from ``live_figures`` (slider
canvases) and ``plotting`` (the training dashboard), the configs from ``sweep``. Callbacks are
plain methods that can be tested without a browser, and the λ lab's state rules are pure
functions, ``resolve_lab_state`` (the run pickers) and ``resolve_replay_state`` (the time slider).
"""

from __future__ import annotations

import base64
import dataclasses
import html
import time
from contextlib import contextmanager
from dataclasses import dataclass

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image as DisplayImage
from IPython.display import display

from . import dirac
from .checks import finite_float
from .evaluate import lambda_label
from .live_figures import (
    LAB_COLORS,
    WIDGET_DPI,
    DiracExplorerFigure,
    LambdaLabFigure,
    ReplayFigure,
    figure_png,
)
from .plotting import plot_training_dashboard
from .regularizers import validate_coef
from .sweep import SweepResult, point_sweep, run_sweep


class PictureBox(widgets.VBox):
    """A ``VBox`` of controls whose rich output also carries its picture as a static PNG.

    JupyterLab draws the live widget (its widget view outranks ``image/png``); a page without a
    widget manager (the HTML book, nbconvert) shows the PNG instead: the figure as it was when
    the cell ran, i.e. at the default settings.

    Args:
        children: the widgets stacked top to bottom, as for ``VBox``.
        picture: the ``ipywidgets.Image`` (format png) among them whose bytes are the fallback.
    """

    def __init__(self, children, picture: widgets.Image) -> None:
        if not isinstance(picture, widgets.Image):
            raise ValueError(f"picture must be an ipywidgets.Image, got {type(picture).__name__}")
        super().__init__(children)
        self._picture = picture

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is not None and self._picture.value:
            bundle["image/png"] = base64.b64encode(self._picture.value).decode("ascii")
        return bundle


class _Controller:
    """What every controller shares: named controls, their values, and holding redraws."""

    controls: dict
    _holding = False

    def values(self) -> dict:
        """The controls' current values, by name."""
        return {name: control.value for name, control in self.controls.items()}

    @contextmanager
    def _held(self):
        """Set controls from code without each change redrawing (the caller redraws once)."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False

# --- Dirac-GAN explorer --------------------------------------------------------------------------

#: λ stops of the λ_D / λ_G sliders: log-spaced like a FloatLogSlider, plus an exact 0; down to
#: the source article's 1e-4.
DIRAC_LAMBDA_STOPS = (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.05, 0.1, 0.15, 0.3, 0.5, 1.0)
#: Run lengths of the steps slider, up to twice the ~50,000-step e-fold time of λ_D = 1e-4 at h = 0.2.
DIRAC_STEP_STOPS = (100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000)
DIRAC_H_RANGE = (0.02, 1.5, 0.02)  # min, max, step of the step-size slider
DIRAC_C_RANGE = (-1.5, 1.5, 0.1)  # min, max, step of the data-point slider
DIRAC_WINDOWS = (2.0, 3.0, 5.0)  # half-widths of the (θ, ψ) window the explorer picks from


class DiracExplorer(_Controller):
    """Sliders for a Dirac-GAN run, redrawing its field, trajectory and distance curve.

    The picture is a PNG in an ``ipywidgets.Image`` (no interactive matplotlib backend
    needed), drawn from a ``matplotlib.figure.Figure`` that pyplot does not manage, so it
    never shows up a second time under a cell. Show it with ``display(explorer.widget)``;
    ``explorer.update(lambda_d=0.15)`` moves sliders from code.

    Args:
        theta0, psi0: the start (θ₀, ψ₀) of every simulated run.
        steps: the initial run length, one of ``DIRAC_STEP_STOPS`` (the steps slider).
        n_grid: arrows per axis of the field.
        dpi: resolution of the picture.
        **initial: controls to set (see ``update``).

    Attributes:
        controls: ``{"lambda_d", "lambda_g", "h", "c", "steps", "mode", "gen_loss"}`` → widget.
        image: the ``ipywidgets.Image`` that shows the figure.
        figure: the matplotlib figure drawn into.
        widget: the whole explorer (controls above the image); display this.
        trajectory: the last simulated ``dirac.DiracTrajectory``.
        efold: the last run's predicted e-fold time in steps (``dirac.efold_steps``; inf: none).
        theta0, psi0, n_grid: the start and arrows per axis.
    """

    def __init__(self, theta0: float = 1.0, psi0: float = 1.0, steps: int = 500, n_grid: int = 17,
                 dpi: int = WIDGET_DPI, **initial) -> None:
        # theta0, psi0 and n_grid are validated by the first redraw (simulate, field_grid)
        self.theta0, self.psi0, self.n_grid = theta0, psi0, n_grid
        style = {"description_width": "initial"}
        stops = [(f"{v:g}", v) for v in DIRAC_LAMBDA_STOPS]
        step_stops = [(f"{n:,}", n) for n in DIRAC_STEP_STOPS]
        h_min, h_max, h_step = DIRAC_H_RANGE
        c_min, c_max, c_step = DIRAC_C_RANGE
        self.controls = {
            "lambda_d": widgets.SelectionSlider(options=stops, value=0.0, description="λ_D",
                                                continuous_update=False, style=style),
            "lambda_g": widgets.SelectionSlider(options=stops, value=0.0, description="λ_G",
                                                continuous_update=False, style=style),
            "h": widgets.FloatSlider(value=0.2, min=h_min, max=h_max, step=h_step,
                                     description="step size h", continuous_update=False, style=style),
            "c": widgets.FloatSlider(value=0.0, min=c_min, max=c_max, step=c_step,
                                     description="data point c", continuous_update=False, style=style),
            "steps": widgets.SelectionSlider(options=step_stops, value=500, description="steps",
                                             continuous_update=False, style=style),
            "mode": widgets.ToggleButtons(options=list(dirac.UPDATE_MODES), value="simultaneous",
                                          description="updates", style=style),
            "gen_loss": widgets.ToggleButtons(options=["minimax", "nonsaturating"], value="minimax",
                                              description="G loss", style=style),
        }
        self.image = widgets.Image(format="png")
        self._canvas = DiracExplorerFigure(dpi=dpi)
        self.figure = self._canvas.figure
        c = self.controls
        self.widget = PictureBox([
            widgets.HBox([c["lambda_d"], c["lambda_g"]]),
            widgets.HBox([c["h"], c["c"]]),
            c["steps"], c["mode"], c["gen_loss"], self.image,
        ], picture=self.image)
        self.trajectory: dirac.DiracTrajectory | None = None
        self.efold = float("inf")
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.update(steps=steps, **initial)

    def _check(self, name: str, value):
        if name in ("lambda_d", "lambda_g"):
            value = validate_coef(value, name)
            if value not in DIRAC_LAMBDA_STOPS:
                raise ValueError(f"{name} must be one of the slider stops {DIRAC_LAMBDA_STOPS}, got {value}")
            return value
        if name == "steps":
            if isinstance(value, bool) or value not in DIRAC_STEP_STOPS:
                raise ValueError(f"steps must be one of the slider stops {DIRAC_STEP_STOPS}, got {value!r}")
            return int(value)
        if name in ("h", "c"):
            label = "h (step size)" if name == "h" else "c (data point)"
            value = finite_float(value, label)
            lo, hi, _ = DIRAC_H_RANGE if name == "h" else DIRAC_C_RANGE
            if not lo <= value <= hi:
                raise ValueError(f"{label} must lie in the slider range [{lo}, {hi}], got {value}")
            return value
        options = self.controls[name].options
        if value not in options:
            raise ValueError(f"{name} must be one of {tuple(options)}, got {value!r}")
        return value

    def update(self, **values) -> bytes:
        """Set any controls by name, then redraw once; the callback behind every slider.

        Args:
            **values: any of ``lambda_d``, ``lambda_g``, ``steps`` (a slider stop), ``h``, ``c``
                (within the slider range), ``mode``, ``gen_loss``.

        Returns:
            The new PNG bytes (also in ``self.image.value``).

        Raises:
            ValueError: for an unknown name or a value the control cannot take; nothing is
                changed then.
        """
        unknown = set(values) - set(self.controls)
        if unknown:
            raise ValueError(f"unknown control(s) {sorted(unknown)}; valid names: {list(self.controls)}")
        checked = {name: self._check(name, value) for name, value in values.items()}
        with self._held():
            for name, value in checked.items():
                self.controls[name].value = value
        return self._redraw()

    def _on_change(self, _change) -> None:
        if not self._holding:
            self._redraw()

    def _redraw(self) -> bytes:
        v = self.values()
        game = dirac.DiracGAN(v["lambda_g"], v["lambda_d"], v["c"], v["gen_loss"])
        traj = game.simulate(self.theta0, self.psi0, h=v["h"], steps=v["steps"], mode=v["mode"])
        efold = dirac.efold_steps(game, v["h"], v["mode"])
        # window ±2, ±3 or ±5, the smallest that holds the run (few sizes: fewer full redraws)
        reach = 1.1 * max(abs(v["c"]), float(np.max(np.abs(traj.theta))), float(np.max(np.abs(traj.psi))))
        lim = next((w for w in DIRAC_WINDOWS if reach <= w), DIRAC_WINDOWS[-1])
        field = game.field_grid((-lim, lim), (-lim, lim), self.n_grid)
        outcome = f"distance after {traj.steps:,} steps = {traj.distance()[-1]:.3g}"
        if traj.diverged:
            outcome = f"overflowed after {traj.steps:,} steps"
        rate = f"e-fold time {efold:,.0f} steps" if np.isfinite(efold) else "no e-fold time (ρ ≥ 1)"
        title = (f"{v['gen_loss']}, {v['mode']}: λ_D = {v['lambda_d']:g}, λ_G = {v['lambda_g']:g}, "
                 f"h = {v['h']:g}, c = {v['c']:g}\n{outcome}; {rate}")
        self._canvas.draw(field, traj, title, efold=efold)
        self.trajectory, self.efold = traj, efold
        png = self._canvas.to_png()
        self.image.value = png
        return png


# --- λ lab -------------------------------------------------------------------------------------

#: The "panel B shows" choice that means: the grid run picked by the B sliders.
LAB_GRID_RUN = "grid run (B sliders)"
#: The λ lab's controls, in display order.
LAB_CONTROLS = ("dataset", "lambda_g", "lambda_d", "seed", "lambda_g_b", "lambda_d_b", "seed_b", "panel_b")
#: The λ sliders → the ``SweepConfig`` field holding their grid values.
LAB_SLIDERS = {"lambda_g": "lambda_g", "lambda_d": "lambda_d", "lambda_g_b": "lambda_g", "lambda_d_b": "lambda_d"}


def _grid_value(value, grid, name: str) -> float:
    """The value of ``grid`` equal to ``value`` (to 1e-9 relative), else ValueError."""
    value = validate_coef(value, name)
    for v in grid:
        if np.isclose(v, value, rtol=1e-9, atol=0):
            return float(v)
    raise ValueError(f"{name} must be one of the sweep's values {tuple(grid)}, got {value}")


def _link_diagonal(new: dict, values: dict, cfg, dataset: str) -> None:
    """A diagonal sweep has only λ_G = λ_D pairs: the slider set in ``values`` takes its partner along."""
    for g_name, d_name in (("lambda_g", "lambda_d"), ("lambda_g_b", "lambda_d_b")):
        ig = cfg.lambda_g.index(new[g_name])
        id_ = cfg.lambda_d.index(new[d_name])
        if ig == id_:
            continue
        if g_name in values and d_name in values:
            raise ValueError(f"{dataset} is a diagonal sweep (λ_G, λ_D) ∈ "
                             f"{list(zip(cfg.lambda_g, cfg.lambda_d, strict=True))}; "
                             f"got {g_name}={new[g_name]}, {d_name}={new[d_name]}")
        if d_name in values:
            new[g_name] = float(cfg.lambda_g[id_])
        else:
            new[d_name] = float(cfg.lambda_d[ig])


def _carry_over(current: dict, dataset: str, cfg) -> dict:
    """Values on switching to ``dataset``: what its sweep ``cfg`` has, else its first; B a grid run."""
    new = dict(current, dataset=dataset, panel_b=LAB_GRID_RUN)
    for name, field in LAB_SLIDERS.items():
        grid = getattr(cfg, field)
        new[name] = next((float(v) for v in grid if np.isclose(v, current[name])), float(grid[0]))
    for name in ("seed", "seed_b"):
        new[name] = current[name] if current[name] in cfg.seeds else cfg.seeds[0]
    return new


def resolve_lab_state(current: dict, values: dict, results: dict,
                      trained: dict | None = None) -> tuple[dict, bool]:
    """The λ lab's state rule: what every control shows after ``values`` are set on ``current``.

    Switching the data set keeps the λ values and seeds its sweep has (else its first ones)
    and shows the B grid run; on a diagonal sweep a moved λ slider takes its partner along;
    moving a B control (without choosing ``panel_b``) shows the B grid run again.

    Args:
        current: the controls' values now, name → value for every name of ``LAB_CONTROLS``.
        values: the controls to set, name → value (any subset of ``LAB_CONTROLS``).
        results: data-set name → ``sweep.SweepResult`` (only their ``config`` is read).
        trained: data-set name → {label: record} of runs trained next to the sweep (their
            labels are valid ``panel_b`` values); None: none.

    Returns:
        ``(new, switched)``: the values of every control after the change, and whether the
        data set changed.

    Raises:
        ValueError: for an unknown name, or a value the control cannot take (a λ not in the
            grid, a seed not in the sweep, an unknown data set or panel, two λ values that
            are no pair of a diagonal sweep).
    """
    unknown = set(values) - set(LAB_CONTROLS)
    if unknown:
        raise ValueError(f"unknown control(s) {sorted(unknown)}; valid names: {list(LAB_CONTROLS)}")
    trained = trained or {}
    ds = values.get("dataset", current["dataset"])
    if ds not in results:
        raise ValueError(f"dataset must be one of {list(results)}, got {ds!r}")
    cfg = results[ds].config
    switched = ds != current["dataset"]
    new = _carry_over(current, ds, cfg) if switched else dict(current)
    for name, value in values.items():
        if name in LAB_SLIDERS:
            new[name] = _grid_value(value, getattr(cfg, LAB_SLIDERS[name]), name)
        elif name in ("seed", "seed_b"):
            if isinstance(value, bool) or value not in cfg.seeds:
                raise ValueError(f"{name} must be one of the sweep's seeds {cfg.seeds}, got {value!r}")
            new[name] = int(value)
        elif name == "panel_b":
            runs = list(trained.get(ds, {}))
            if value != LAB_GRID_RUN and value not in runs:
                raise ValueError(f"panel_b must be {LAB_GRID_RUN!r} or a run trained here ({runs}), "
                                 f"got {value!r}")
    if cfg.diagonal:
        _link_diagonal(new, values, cfg, ds)
    if "panel_b" in values:
        new["panel_b"] = values["panel_b"]
    elif any(name in values for name in ("lambda_g_b", "lambda_d_b", "seed_b")):
        new["panel_b"] = LAB_GRID_RUN  # moving a B control shows the B grid run again
    return new, switched


#: Milliseconds between frames while the time slider plays (a redraw takes well under 100 ms).
REPLAY_INTERVAL_MS = 400


@dataclass(frozen=True)
class ReplayState:
    """What the λ lab's time slider shows; made by ``resolve_replay_state``.

    Attributes:
        n_frames: evaluations the slider steps through (values 0 … n_frames − 1); 0: no shown
            run kept snapshots, so there is nothing to replay and the slider is disabled.
        frame: the slider's value.
        shown: column tag → the evaluation (index into its snapshots) its run shows, or None:
            the run's end (a run without snapshots shows it at every time).
        note: a short line for under the slider ("" when every shown run can be replayed).
    """

    n_frames: int
    frame: int
    shown: dict
    note: str


def resolve_replay_state(runs: dict, frame: int | None = None, n_frames_before: int = 0) -> ReplayState:
    """The time slider's state rule: how far it reaches, where it stands, what each column shows.

    The slider steps through evaluations and reaches as far as the shown run with the most
    snapshots; a run with fewer shows its last one beyond its end, a run without snapshots
    (an old record, or ``snapshots = 0``) its end at every time. When the runs change, a
    slider at its end (or disabled until now) stays at the end, so a new pick first shows its
    final state; elsewhere the slider keeps its place (clamped to the new length), so two
    runs can be compared at the same time.

    Args:
        runs: column tag ("A", "B") → the ``sweep.RunRecord`` shown there.
        frame: the slider's value now (None: at the end).
        n_frames_before: the slider's length before this change (0: it was disabled).

    Returns:
        The ``ReplayState``.

    Raises:
        ValueError: if ``frame`` is not None or an integer >= 0, or ``n_frames_before`` not an
            integer >= 0.
    """
    for name, value in (("frame", frame), ("n_frames_before", n_frames_before)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0):
            raise ValueError(f"{name} must be an integer >= 0{' or None' * (name == 'frame')}, got {value!r}")
    lengths = {tag: 0 if rec.snapshot_samples is None else len(rec.snapshot_samples) for tag, rec in runs.items()}
    n = max(lengths.values(), default=0)
    if n == 0:
        who = "this run keeps" if len(runs) == 1 else "these runs keep"
        return ReplayState(0, 0, dict.fromkeys(runs), f"{who} only its last evaluation: nothing to replay"
                           if len(runs) == 1 else f"{who} only their last evaluation: nothing to replay")
    frame = n - 1 if frame is None or frame >= n_frames_before - 1 else min(int(frame), n - 1)
    shown = {tag: min(frame, length - 1) if length else None for tag, length in lengths.items()}
    without = [tag for tag, length in lengths.items() if not length]
    note = f"{' and '.join(without)} keeps only its last evaluation (shown at every time)" if without else ""
    return ReplayState(n, frame, shown, note)


def _lambda_stops(values) -> list[tuple[str, float]]:
    """Slider options for λ grid values: (label "0", "1e-4", …, value)."""
    return [(lambda_label(v), float(v)) for v in values]


def _error_html(err: Exception) -> str:
    return f"<span style='color:#c00'>{html.escape(str(err))}</span>"


def lab_run_caption(rec, frame: int | None = None) -> str:
    """Which run and which evaluation a λ lab column draws: "ring8 · λ_G = 0 · λ_D = 1e-4 · seed 3 · step 20,000".

    Args:
        rec: the ``sweep.RunRecord`` drawn.
        frame: the evaluation (index into its snapshots) drawn, or None: its end (last evaluation).

    Returns:
        One line naming the run's data set, λ_G, λ_D and seed, and the step of the samples shown.
    """
    c = rec.config
    steps = rec.eval_steps
    step = int(steps[-1] if frame is None else steps[frame]) if len(steps) else 0
    return (f"{c.dataset} · λ_G = {lambda_label(c.lambda_g)} · λ_D = {lambda_label(c.lambda_d)} · "
            f"seed {c.seed} · step {step:,}")


class _TimeSlider:
    """The time slider of a replay (the λ lab's and the player's): move it, redraw the frame.

    The class using it has ``replay`` (a ``ReplayState``), ``_frame_slider`` (the slider widget),
    ``_held()`` (a context in which its own observers stay quiet), ``_holding`` and ``_redraw()``.
    """

    def show_frame(self, frame: int) -> bytes:
        """Move the time slider to evaluation ``frame`` and redraw; what the slider and play button do.

        Args:
            frame: an evaluation index in [0, ``replay.n_frames``).

        Returns:
            The new PNG bytes (also in ``self.image.value``).

        Raises:
            ValueError: when there is nothing to replay (the run kept no snapshots), or ``frame``
                is outside the slider.
        """
        n = self.replay.n_frames
        if n == 0:
            raise ValueError(f"nothing to replay: {self.replay.note}")
        if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)) or not 0 <= frame < n:
            raise ValueError(f"frame must be an integer in [0, {n}), got {frame!r}")
        with self._held():
            self._frame_slider.value = int(frame)
        return self._redraw()

    def _on_frame(self, _change) -> None:
        if not self._holding:
            self._redraw()


class LambdaLab(_TimeSlider, _Controller):
    """A dashboard over cached sweeps: two (λ_G, λ_D, seed) settings side by side, with maps.

    Controls: a data-set dropdown; for setting A the sliders "λ_G", "λ_D" and a seed
    dropdown, for B "λ_G (B)", "λ_D (B)", "seed (B)"; "panel B shows" picks the B grid run or
    a run trained here. The λ sliders step through the sweep's grid values (labels ``0``,
    ``1e-4``, …: a log slider with a 0 stop). For a diagonal sweep (λ_G = λ_D pairs) moving one
    λ slider moves its partner (``resolve_lab_state`` holds these rules). "train this point
    now" trains a (λ_G, λ_D) pair that is not in the grid through ``sweep.run_sweep`` (cached)
    and shows it in panel B.

    The time slider and its play button replay training: for runs that kept snapshots
    (``SweepConfig.snapshots``) both columns show the samples (and D's surface) of one
    evaluation, with a cursor at its step on the curves (``resolve_replay_state`` holds its
    rules). It is disabled, with a note, when neither run kept snapshots.

    The picture is a PNG in an ``ipywidgets.Image`` drawn by ``live_figures.LambdaLabFigure``
    from cached records only; nothing is trained on a slider move. Show it with
    ``display(lab.widget)``; ``lab.update(lambda_d=1e-2)`` moves a slider from code.

    Args:
        results: data-set name → ``sweep.SweepResult`` with records; the first is shown first.
        cache_dir: where "train this point now" caches its runs (``run_sweep``'s default,
            ``sweep.default_sweep_cache_dir()``, when None).
        train_steps: steps of a trained point (None: the sweep's own).
        classifier: a ``classifier.TrainedClassifier`` for trained image runs (None: the default).
        train_snapshots: samples (and for 2-D data, D's surface) a trained point keeps at every
            evaluation, so it can be replayed (0: none; a sweep that keeps snapshots: its own).
        dpi: resolution of the picture.
        **initial: controls to set (see ``update``).

    Attributes:
        results: data-set name → ``sweep.SweepResult``.
        controls: name → widget (``LAB_CONTROLS``: ``dataset``, ``lambda_g``, ``lambda_d``,
            ``seed``, ``lambda_g_b``, ``lambda_d_b``, ``seed_b``, ``panel_b``).
        train_controls: ``lambda_g``, ``lambda_d`` (``FloatText``), ``button``, ``status``.
        time_controls: ``play`` (``Play``, linked in the browser to) ``frame`` (the time
            slider, an ``IntSlider`` over evaluations), ``note`` (``HTML``: where it stands).
        replay: the time slider's ``ReplayState`` as last drawn.
        trained: data-set name → {label: ``RunRecord``} of the runs trained here.
        image: the ``ipywidgets.Image``; widget: the whole dashboard (display this).
        caption: an ``HTML`` line above the picture naming the run each column draws and the
            step of its samples (``lab_run_caption`` of the records drawn).
        figure: the matplotlib figure drawn into (one per data set).
        timings: seconds of every redraw so far.
        cache_dir, train_steps, classifier, train_snapshots: as given.

    Raises:
        ValueError: for empty ``results``, a value that is no ``SweepResult`` with records,
            ``train_steps`` that is not a positive integer or None, or ``train_snapshots`` that
            is not an integer >= 0.
    """

    def __init__(self, results: dict, cache_dir=None, train_steps: int | None = None, classifier=None,
                 train_snapshots: int = 100, dpi: int = WIDGET_DPI, **initial) -> None:
        if not results:
            raise ValueError("results is empty: pass at least one data set's SweepResult")
        for name, res in results.items():
            if not isinstance(res, SweepResult) or not res.records:
                raise ValueError(f"results[{name!r}] must be a SweepResult with records, got {type(res).__name__}")
        if train_steps is not None and (isinstance(train_steps, bool) or not isinstance(train_steps, int)
                                        or train_steps < 1):
            raise ValueError(f"train_steps must be a positive integer or None, got {train_steps!r}")
        if isinstance(train_snapshots, bool) or not isinstance(train_snapshots, int) or train_snapshots < 0:
            raise ValueError(f"train_snapshots must be an integer >= 0, got {train_snapshots!r}")
        self.results = dict(results)
        self.cache_dir, self.train_steps, self.classifier = cache_dir, train_steps, classifier
        self.train_snapshots = train_snapshots
        self.trained: dict[str, dict] = {name: {} for name in self.results}
        self.timings: list[float] = []
        first = next(iter(self.results))
        self.controls = self._make_controls(self.results[first].config, first)
        self.train_controls = self._make_train_controls()
        self.time_controls = self._make_time_controls()
        self.replay = ReplayState(0, 0, {}, "")
        self.image = widgets.Image(format="png")
        # names the runs the picture shows, from the records drawn (read by the browser test too)
        self.caption = widgets.HTML(value="")
        self.caption.add_class("gan-l2-lab-shows")
        # one figure per data set: switching back finds its background already drawn
        self._canvases = {name: LambdaLabFigure(dpi=dpi) for name in self.results}
        c, t, r = self.controls, self.train_controls, self.time_controls
        a_box = widgets.VBox([widgets.HTML(f"<b style='color:{LAB_COLORS['A']}'>Setting A</b> (red)"),
                              c["lambda_g"], c["lambda_d"], c["seed"]])
        b_box = widgets.VBox([widgets.HTML(f"<b style='color:{LAB_COLORS['B']}'>Setting B</b> (blue)"),
                              c["lambda_g_b"], c["lambda_d_b"], c["seed_b"], c["panel_b"]])
        self.widget = PictureBox([
            c["dataset"], widgets.HBox([a_box, b_box]),
            widgets.HBox([t["lambda_g"], t["lambda_d"], t["button"], t["status"]]),
            widgets.HBox([r["play"], r["frame"], r["note"]]),
            self.caption, self.image,
        ], picture=self.image)
        for name, control in self.controls.items():
            control.observe(lambda change, name=name: self._on_change(name, change), names="value")
        t["button"].on_click(self._on_train_click)
        # the play button moves the slider in the browser; the slider's moves reach the kernel
        widgets.jslink((r["play"], "value"), (r["frame"], "value"))
        r["frame"].observe(self._on_frame, names="value")
        start_ds = initial.get("dataset", first)
        defaults = self._default_b(start_ds) if start_ds in self.results else {}
        self.update(**(defaults | initial))

    def _make_controls(self, cfg, dataset: str) -> dict:
        """The selection controls, set to ``dataset`` and the first values of its sweep ``cfg``."""
        style = {"description_width": "initial"}
        g_stops, d_stops = _lambda_stops(cfg.lambda_g), _lambda_stops(cfg.lambda_d)
        seeds = list(cfg.seeds)

        def slider(stops, label):
            return widgets.SelectionSlider(options=stops, value=stops[0][1], description=label,
                                           continuous_update=False, style=style)

        def seed_box(label):
            return widgets.Dropdown(options=seeds, value=seeds[0], description=label, style=style,
                                    layout=widgets.Layout(width="150px"))

        return {
            "dataset": widgets.Dropdown(options=list(self.results), value=dataset, description="data set",
                                        style=style),
            "lambda_g": slider(g_stops, "λ_G"), "lambda_d": slider(d_stops, "λ_D"), "seed": seed_box("seed"),
            "lambda_g_b": slider(g_stops, "λ_G (B)"), "lambda_d_b": slider(d_stops, "λ_D (B)"),
            "seed_b": seed_box("seed (B)"),
            "panel_b": widgets.Dropdown(options=[LAB_GRID_RUN], value=LAB_GRID_RUN,
                                        description="panel B shows", style=style,
                                        layout=widgets.Layout(width="480px")),
        }

    @staticmethod
    def _make_train_controls() -> dict:
        """The "train this point now" row: two λ fields, the button and a status line."""
        style = {"description_width": "initial"}
        return {
            "lambda_g": widgets.FloatText(value=3e-3, description="new λ_G", style=style,
                                          layout=widgets.Layout(width="170px")),
            "lambda_d": widgets.FloatText(value=3e-3, description="new λ_D", style=style,
                                          layout=widgets.Layout(width="170px")),
            "button": widgets.Button(description="train this point now", icon="play",
                                     tooltip="train (λ_G, λ_D) with seed (B) and show it in panel B",
                                     layout=widgets.Layout(width="190px")),
            "status": widgets.HTML(value=""),
        }

    @staticmethod
    def _make_time_controls() -> dict:
        """The replay row: a play button linked to the time slider, and a note on where it stands."""
        return {
            "play": widgets.Play(value=0, min=0, max=0, step=1, interval=REPLAY_INTERVAL_MS, disabled=True,
                                 show_repeat=False, tooltip="replay training: step through the evaluations"),
            "frame": widgets.IntSlider(value=0, min=0, max=0, description="training time", readout=False,
                                       disabled=True, continuous_update=True,
                                       style={"description_width": "initial"}, layout=widgets.Layout(width="360px")),
            "note": widgets.HTML(value=""),
        }

    def _default_b(self, dataset: str) -> dict:
        cfg = self.results[dataset].config
        if cfg.diagonal:
            return {"lambda_g_b": cfg.lambda_g[-1], "lambda_d_b": cfg.lambda_d[-1]}
        return {"lambda_g_b": cfg.lambda_g[0], "lambda_d_b": cfg.lambda_d[-1]}

    @property
    def result(self):
        """The ``SweepResult`` of the selected data set."""
        return self.results[self.controls["dataset"].value]

    @property
    def _canvas(self):
        return self._canvases[self.controls["dataset"].value]

    @property
    def figure(self):
        """The matplotlib figure of the selected data set (what the image shows)."""
        return self._canvas.figure

    # -- the callback ---------------------------------------------------------------------

    def update(self, **values) -> bytes:
        """Set any controls by name, then redraw once; the callback behind every control.

        Args:
            **values: any of ``dataset`` (a key of ``results``); ``lambda_g``, ``lambda_d``,
                ``lambda_g_b``, ``lambda_d_b`` (values of the data set's grid); ``seed``,
                ``seed_b`` (its seeds); ``panel_b`` (``LAB_GRID_RUN`` or the label of a run
                in ``trained``). Switching the data set keeps λ values its grid has.

        Returns:
            The new PNG bytes (also in ``self.image.value``).

        Raises:
            ValueError: for an unknown name or a value the control cannot take; nothing is
                changed then.
        """
        new, switched = resolve_lab_state(self.values(), values, self.results, self.trained)
        c = self.controls
        with self._held():
            if switched:
                cfg = self.results[new["dataset"]].config
                c["dataset"].value = new["dataset"]
                for name, field in LAB_SLIDERS.items():
                    c[name].options = _lambda_stops(getattr(cfg, field))
                for name in ("seed", "seed_b"):
                    c[name].options = list(cfg.seeds)
                c["panel_b"].options = [LAB_GRID_RUN, *self.trained[new["dataset"]]]
            for name, value in new.items():
                if c[name].value != value:
                    c[name].value = value
        return self._redraw()

    def _on_change(self, name: str, change) -> None:
        if self._holding:
            return
        try:
            self.update(**{name: change["new"]})
        except ValueError as err:  # cannot happen from the widgets' own options; shown, not raised
            self.train_controls["status"].value = _error_html(err)


    def _set_time_controls(self, state: ReplayState, steps: dict) -> None:
        """Show ``state`` on the replay row (without redrawing); ``steps``: tag → the step it shows."""
        r = self.time_controls
        with self._held():
            for control in (r["play"], r["frame"]):
                control.max = max(state.n_frames - 1, 0)  # max first: the value may need the room
                control.value = state.frame
                control.disabled = state.n_frames == 0
            if state.n_frames == 0:
                r["play"].playing = False
                r["note"].value = f"<i style='color:#666'>{html.escape(state.note)}</i>"
            else:
                at = ", ".join(f"{tag}: step {step:,}" for tag, step in steps.items() if step is not None)
                extra = f" · <i style='color:#666'>{html.escape(state.note)}</i>" if state.note else ""
                r["note"].value = f"evaluation {state.frame + 1} of {state.n_frames} ({at}){extra}"
        self.replay = state

    @property
    def _frame_slider(self):
        return self.time_controls["frame"]

    def _redraw(self) -> bytes:
        start = time.perf_counter()
        v = self.values()
        res = self.results[v["dataset"]]
        rec_a = res.record(v["lambda_g"], v["lambda_d"], v["seed"])
        if v["panel_b"] == LAB_GRID_RUN:
            rec_b, tag_b = res.record(v["lambda_g_b"], v["lambda_d_b"], v["seed_b"]), "B"
        else:
            rec_b = self.trained[v["dataset"]][v["panel_b"]]
            tag_b = f"B (trained here, {rec_b.config.steps:,} steps)"
        runs = {"A": rec_a, "B": rec_b}
        state = resolve_replay_state(runs, self.time_controls["frame"].value, self.replay.n_frames)
        self._set_time_controls(state, {tag: None if k is None else int(runs[tag].eval_steps[k])
                                        for tag, k in state.shown.items()})
        self._canvas.draw(res, rec_a, rec_b, ("A", tag_b), extra=self.trained[v["dataset"]].values(),
                          frames=state.shown)
        self.caption.value = "shown: " + " &nbsp; ".join(
            f"<span class='lab-shows-{tag}' style='color:{LAB_COLORS[tag]}'><b>{tag}</b>"
            f"{' (trained here)' if tag == 'B' and v['panel_b'] != LAB_GRID_RUN else ''}: "
            f"{html.escape(lab_run_caption(rec, state.shown[tag]))}</span>" for tag, rec in runs.items())
        png = self._canvas.to_png()
        self.image.value = png
        self.timings.append(time.perf_counter() - start)
        return png

    # -- train this point now -------------------------------------------------------------

    def train_point(self, lambda_g: float, lambda_d: float, seed: int | None = None,
                    steps: int | None = None, progress: bool = False):
        """Train one (λ_G, λ_D) run on the selected data set (or load it from the cache), show it in B.

        The run is ``sweep.point_sweep`` of the selected sweep (its base config, ``steps``
        long, intervals scaled to keep their number, with ``train_snapshots`` snapshots if the
        sweep keeps none), cached in ``cache_dir`` by ``sweep.run_sweep``.

        Args:
            lambda_g, lambda_d: the penalties, ≥ 0 (any value, not only grid values).
            seed: the seed (default: the "seed (B)" dropdown).
            steps: training steps (default: ``train_steps``, else the sweep's).
            progress: show run_sweep's progress bar.

        Returns:
            The run's ``sweep.RunRecord`` (also in ``trained`` and shown in panel B).

        Raises:
            ValueError: for a negative or non-finite λ, a negative seed or steps < 1.
        """
        seed = self.controls["seed_b"].value if seed is None else seed
        steps = steps if steps is not None else self.train_steps
        sweep = point_sweep(self.result.config, lambda_g, lambda_d, seed, steps)
        if self.train_snapshots and not sweep.snapshots:  # a run trained here can be replayed
            sweep = dataclasses.replace(sweep, snapshots=self.train_snapshots)
        rec = run_sweep(sweep, self.cache_dir, progress=progress, classifier=self.classifier).records[0]
        ds = self.controls["dataset"].value
        label = (f"trained here: λ_G = {lambda_label(sweep.lambda_g[0])}, λ_D = {lambda_label(sweep.lambda_d[0])}, "
                 f"seed {seed}, {sweep.base.steps:,} steps")
        self.trained[ds][label] = rec
        with self._held():
            self.controls["panel_b"].options = [LAB_GRID_RUN, *self.trained[ds]]
        self.update(panel_b=label)
        return rec

    def _on_train_click(self, _button) -> None:
        t = self.train_controls
        t["button"].disabled = True
        t["status"].value = "training … (a few seconds for 2-D data)"
        start = time.perf_counter()
        try:
            rec = self.train_point(t["lambda_g"].value, t["lambda_d"].value)
        except ValueError as err:
            t["status"].value = _error_html(err)
        else:
            t["status"].value = (f"done in {time.perf_counter() - start:.1f} s "
                                 f"({'diverged' if rec.diverged else 'finished'}); shown in panel B")
        finally:
            t["button"].disabled = False


# --- one run's replay ----------------------------------------------------------------------------


class ReplayPlayer(_TimeSlider, _Controller):
    """One run's training replay under a notebook cell: a play button, a time slider and the picture.

    The slider steps through the run's evaluations that kept snapshots; each move redraws
    ``live_figures.ReplayFigure`` (for an image run the fixed-noise sample grid of that
    evaluation, and a cursor at its step on the class-count curve) from the record alone.
    A run without snapshots (``snapshots`` = 0, or a file written before they existed) gets a
    disabled slider and a note instead of a picture (``resolve_replay_state``'s rule).
    Show it with ``display(player.widget)``; ``player.show_frame(k)`` moves it from code.

    Args:
        record: a ``sweep.RunRecord``.
        dpi: resolution of the picture.
        n_images: image runs show at most this many images (a square grid).

    Attributes:
        record: as given.
        controls: ``play`` (``Play``, linked in the browser to) ``frame`` (an ``IntSlider`` over
            the evaluations), ``note`` (``HTML``: the evaluation shown, or why nothing is).
        replay: the slider's ``ReplayState`` (``n_frames`` 0: nothing to replay).
        image: the ``ipywidgets.Image``; widget: the whole player (display this).
        figure: the matplotlib figure drawn into.
        timings: seconds of every redraw so far.
    """

    def __init__(self, record, dpi: int = WIDGET_DPI, n_images: int = 64) -> None:
        self.record = record
        self.replay = resolve_replay_state({"run": record})
        self.controls = LambdaLab._make_time_controls()
        self.image = widgets.Image(format="png")
        self.timings: list[float] = []
        self._canvas = ReplayFigure(dpi=dpi, n_images=n_images)
        c = self.controls
        self.widget = PictureBox([widgets.HBox([c["play"], c["frame"], c["note"]]), self.image], picture=self.image)
        n = self.replay.n_frames
        with self._held():
            for control in (c["play"], c["frame"]):
                control.max = max(n - 1, 0)
                control.value = self.replay.frame
                control.disabled = n == 0
        widgets.jslink((c["play"], "value"), (c["frame"], "value"))
        c["frame"].observe(self._on_frame, names="value")
        if n == 0:
            c["note"].value = f"<i style='color:#666'>{html.escape(self.replay.note)}</i>"
        else:
            self._redraw()

    @property
    def figure(self):
        """The matplotlib figure the picture is drawn from."""
        return self._canvas.figure


    @property
    def _frame_slider(self):
        return self.controls["frame"]

    def _redraw(self) -> bytes:
        start = time.perf_counter()
        frame = self.controls["frame"].value
        self.replay = dataclasses.replace(self.replay, frame=frame, shown={"run": frame})
        self._canvas.draw(self.record, frame)
        png = self._canvas.to_png()
        self.image.value = png
        step = int(self.record.eval_steps[frame])
        self.controls["note"].value = f"evaluation {frame + 1} of {self.replay.n_frames} (step {step:,})"
        self.timings.append(time.perf_counter() - start)
        return png


# --- live training view -------------------------------------------------------------------------


class LiveTrainingView:
    """A training dashboard under a notebook cell, redrawn in place while ``train_gan`` runs.

    Pass ``view.update`` as ``train_gan``'s ``on_log``: each call draws
    ``plotting.plot_training_dashboard`` into a PNG and replaces the picture shown under the
    cell (``IPython.display`` with a ``display_id``), so the figure changes while the tqdm bar
    runs and the last picture stays in the saved notebook.

    Args:
        title: the dashboard's title prefix (e.g. "λ_G = λ_D = 1e-4").
        dpi: resolution of the PNG.
        show: display the picture (False: only keep ``png``, e.g. in tests).

    Attributes:
        png: the last picture's PNG bytes (None before the first update).
        n_updates: how many times it was redrawn.
        render_s: seconds spent drawing, in total (training time excluded).
    """

    def __init__(self, title: str | None = None, dpi: int = WIDGET_DPI, show: bool = True) -> None:
        self.title, self.dpi, self.show = title, dpi, show
        self.png: bytes | None = None
        self.n_updates = 0
        self.render_s = 0.0
        self._handle = None

    def update(self, history) -> None:
        """Redraw from ``history`` (a ``train.History``, possibly of a run still training)."""
        start = time.perf_counter()
        fig = plot_training_dashboard(history, title=self.title)
        try:
            self.png = figure_png(fig, dpi=self.dpi)
        finally:
            plt.close(fig)  # never shown a second time by the inline backend
        self.n_updates += 1
        if self.show:
            if self._handle is None:
                self._handle = display(DisplayImage(data=self.png), display_id=True)
            else:
                self._handle.update(DisplayImage(data=self.png))
        self.render_s += time.perf_counter() - start
