"""Widget wiring only: sliders and buttons connected to cached data and ``plotting`` functions.

Nothing here computes a result of its own; callbacks are plain functions that can be tested
without a browser.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from . import dirac
from .plotting import DiracExplorerFigure
from .regularizers import validate_coef

# --- Dirac-GAN explorer (notebook 03) -------------------------------------------------------

#: λ stops of the λ_D / λ_G sliders: log-spaced like a FloatLogSlider, plus an exact 0.
DIRAC_LAMBDA_STOPS = (0.0, 1e-3, 3e-3, 0.01, 0.03, 0.05, 0.1, 0.15, 0.3, 0.5, 1.0)
DIRAC_H_RANGE = (0.02, 1.5, 0.02)  # min, max, step of the step-size slider
DIRAC_C_RANGE = (-1.5, 1.5, 0.1)  # min, max, step of the data-point slider
DIRAC_WINDOWS = (2.0, 3.0, 5.0)  # half-widths of the (θ, ψ) window the explorer picks from


class DiracExplorer:
    """Sliders for a Dirac-GAN run, redrawing its field, trajectory and distance curve.

    The picture is a PNG in an ``ipywidgets.Image`` (no interactive matplotlib backend
    needed), drawn from a ``matplotlib.figure.Figure`` that pyplot does not manage, so it
    never shows up a second time under a cell.

    Attributes:
        controls: ``{"lambda_d", "lambda_g", "h", "c", "mode", "gen_loss"}`` → widget.
        image: the ``ipywidgets.Image`` that shows the figure.
        figure: the matplotlib figure drawn into.
        widget: the whole explorer (controls above the image); display this.
        trajectory: the last simulated ``dirac.DiracTrajectory``.
        theta0, psi0, steps, n_grid: the start, run length and arrows per axis.
    """

    def __init__(self, theta0: float = 1.0, psi0: float = 1.0, steps: int = 500, n_grid: int = 17,
                 dpi: int = 72, **initial) -> None:
        # theta0, psi0, steps and n_grid are validated by the first redraw (simulate, field_grid)
        self.theta0, self.psi0, self.steps, self.n_grid = theta0, psi0, steps, n_grid
        style = {"description_width": "initial"}
        stops = [(f"{v:g}", v) for v in DIRAC_LAMBDA_STOPS]
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
            "mode": widgets.ToggleButtons(options=list(dirac.UPDATE_MODES), value="simultaneous",
                                          description="updates", style=style),
            "gen_loss": widgets.ToggleButtons(options=["minimax", "nonsaturating"], value="minimax",
                                              description="G loss", style=style),
        }
        self.image = widgets.Image(format="png")
        self._canvas = DiracExplorerFigure(dpi=dpi)
        self.figure = self._canvas.figure
        c = self.controls
        self.widget = widgets.VBox([
            widgets.HBox([c["lambda_d"], c["lambda_g"]]),
            widgets.HBox([c["h"], c["c"]]),
            c["mode"], c["gen_loss"], self.image,
        ])
        self.trajectory: dirac.DiracTrajectory | None = None
        self._holding = False
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.update(**initial)

    def values(self) -> dict:
        """The controls' current values, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def _check(self, name: str, value):
        if name in ("lambda_d", "lambda_g"):
            value = validate_coef(value, name)
            if value not in DIRAC_LAMBDA_STOPS:
                raise ValueError(f"{name} must be one of the slider stops {DIRAC_LAMBDA_STOPS}, got {value}")
            return value
        if name in ("h", "c"):
            label = "h (step size)" if name == "h" else "c (data point)"
            value = dirac._finite(value, label)
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
            **values: any of ``lambda_d``, ``lambda_g`` (a slider stop), ``h``, ``c`` (within
                the slider range), ``mode``, ``gen_loss``.

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
        self._holding = True
        try:
            for name, value in checked.items():
                self.controls[name].value = value
        finally:
            self._holding = False
        return self._redraw()

    def _on_change(self, _change) -> None:
        if not self._holding:
            self._redraw()

    def _redraw(self) -> bytes:
        v = self.values()
        game = dirac.DiracGAN(v["lambda_g"], v["lambda_d"], v["c"], v["gen_loss"])
        traj = game.simulate(self.theta0, self.psi0, h=v["h"], steps=self.steps, mode=v["mode"])
        # window ±2, ±3 or ±5, the smallest that holds the run (few sizes: fewer full redraws)
        reach = 1.1 * max(abs(v["c"]), float(np.max(np.abs(traj.theta))), float(np.max(np.abs(traj.psi))))
        lim = next((w for w in DIRAC_WINDOWS if reach <= w), DIRAC_WINDOWS[-1])
        field = game.field_grid((-lim, lim), (-lim, lim), self.n_grid)
        outcome = f"distance after {traj.steps} steps = {traj.distance()[-1]:.3g}"
        if traj.diverged:
            outcome = f"overflowed after {traj.steps} steps"
        title = (f"{v['gen_loss']}, {v['mode']}: λ_D = {v['lambda_d']:g}, λ_G = {v['lambda_g']:g}, "
                 f"h = {v['h']:g}, c = {v['c']:g}; {outcome}")
        self._canvas.draw(field, traj, title)
        self.trajectory = traj
        png = self._canvas.to_png()
        self.image.value = png
        return png


def make_dirac_explorer(theta0: float = 1.0, psi0: float = 1.0, steps: int = 500, **initial) -> DiracExplorer:
    """Build a ``DiracExplorer`` starting from (θ₀, ψ₀); ``initial`` sets controls (see ``update``).

    Show it with ``display(explorer.widget)``; call ``explorer.update(lambda_d=0.15)`` to move
    sliders from code.
    """
    return DiracExplorer(theta0, psi0, steps, **initial)


# --- λ lab (notebook 05) ---------------------------------------------------------------------

#: The "panel B shows" choice that means: the grid run picked by the B sliders.
LAB_GRID_RUN = "grid run (B sliders)"


class LambdaLab:
    """A dashboard over cached sweeps: two (λ_G, λ_D, seed) settings side by side, with maps.

    Controls: a data-set dropdown; for setting A the sliders "λ_G", "λ_D" and a seed
    dropdown, for B "λ_G (B)", "λ_D (B)", "seed (B)"; "panel B shows" picks the B grid run or
    a run trained here. The λ sliders step through the sweep's grid values (labels ``0``,
    ``1e-4``, …: a log slider with a 0 stop). For a diagonal sweep (λ_G = λ_D pairs) moving one
    λ slider moves its partner. "train this point now" trains a (λ_G, λ_D) pair that is not
    in the grid through ``sweep.run_sweep`` (cached) and shows it in panel B.

    The picture is a PNG in an ``ipywidgets.Image`` drawn by ``plotting.LambdaLabFigure``
    from cached records only; nothing is trained on a slider move.

    Attributes:
        results: data-set name → ``sweep.SweepResult``.
        controls: name → widget (``dataset``, ``lambda_g``, ``lambda_d``, ``seed``,
            ``lambda_g_b``, ``lambda_d_b``, ``seed_b``, ``panel_b``).
        train_controls: ``lambda_g``, ``lambda_d`` (``FloatText``), ``button``, ``status``.
        trained: data-set name → {label: ``RunRecord``} of the runs trained here.
        image: the ``ipywidgets.Image``; widget: the whole dashboard (display this).
        figure: the matplotlib figure drawn into (one per data set).
        timings: seconds of every redraw so far.
        cache_dir, train_steps, classifier: where trained points are cached, their length
            (None: the sweep's own step count), and the digit classifier for their image
            metrics (None: ``run_sweep`` loads the default one).
    """

    SLIDERS = {"lambda_g": ("lambda_g", "A"), "lambda_d": ("lambda_d", "A"),
               "lambda_g_b": ("lambda_g", "B"), "lambda_d_b": ("lambda_d", "B")}

    def __init__(self, results: dict, cache_dir=None, train_steps: int | None = None, classifier=None,
                 dpi: int = 72, **initial) -> None:
        from .plotting import LambdaLabFigure
        from .sweep import SweepResult

        if not results:
            raise ValueError("results is empty: pass at least one data set's SweepResult")
        for name, res in results.items():
            if not isinstance(res, SweepResult) or not res.records:
                raise ValueError(f"results[{name!r}] must be a SweepResult with records, got {type(res).__name__}")
        if train_steps is not None and (isinstance(train_steps, bool) or not isinstance(train_steps, int)
                                        or train_steps < 1):
            raise ValueError(f"train_steps must be a positive integer or None, got {train_steps!r}")
        self.results = dict(results)
        self.cache_dir, self.train_steps, self.classifier = cache_dir, train_steps, classifier
        self.trained: dict[str, dict] = {name: {} for name in self.results}
        self.timings: list[float] = []
        style = {"description_width": "initial"}
        first = next(iter(self.results))
        cfg = self.results[first].config
        g_stops, d_stops = self._stops(cfg.lambda_g), self._stops(cfg.lambda_d)
        seeds = list(cfg.seeds)

        def slider(stops, label):
            return widgets.SelectionSlider(options=stops, value=stops[0][1], description=label,
                                           continuous_update=False, style=style)

        self.controls = {
            "dataset": widgets.Dropdown(options=list(self.results), value=first, description="data set",
                                        style=style),
            "lambda_g": slider(g_stops, "λ_G"), "lambda_d": slider(d_stops, "λ_D"),
            "seed": widgets.Dropdown(options=seeds, value=seeds[0], description="seed", style=style,
                                     layout=widgets.Layout(width="150px")),
            "lambda_g_b": slider(g_stops, "λ_G (B)"), "lambda_d_b": slider(d_stops, "λ_D (B)"),
            "seed_b": widgets.Dropdown(options=seeds, value=seeds[0], description="seed (B)", style=style,
                                       layout=widgets.Layout(width="150px")),
            "panel_b": widgets.Dropdown(options=[LAB_GRID_RUN], value=LAB_GRID_RUN,
                                        description="panel B shows", style=style,
                                        layout=widgets.Layout(width="480px")),
        }
        self.train_controls = {
            "lambda_g": widgets.FloatText(value=3e-3, description="new λ_G", style=style,
                                          layout=widgets.Layout(width="170px")),
            "lambda_d": widgets.FloatText(value=3e-3, description="new λ_D", style=style,
                                          layout=widgets.Layout(width="170px")),
            "button": widgets.Button(description="train this point now", icon="play",
                                     tooltip="train (λ_G, λ_D) with seed (B) and show it in panel B",
                                     layout=widgets.Layout(width="190px")),
            "status": widgets.HTML(value=""),
        }
        self.image = widgets.Image(format="png")
        # one figure per data set: switching back finds its background already drawn
        self._canvases = {name: LambdaLabFigure(dpi=dpi) for name in self.results}
        c, t = self.controls, self.train_controls
        a_box = widgets.VBox([widgets.HTML("<b style='color:#e4002b'>Setting A</b> (red)"),
                              c["lambda_g"], c["lambda_d"], c["seed"]])
        b_box = widgets.VBox([widgets.HTML("<b style='color:#00a2ff'>Setting B</b> (blue)"),
                              c["lambda_g_b"], c["lambda_d_b"], c["seed_b"], c["panel_b"]])
        self.widget = widgets.VBox([
            c["dataset"], widgets.HBox([a_box, b_box]),
            widgets.HBox([t["lambda_g"], t["lambda_d"], t["button"], t["status"]]),
            self.image,
        ])
        self._holding = False
        for name, control in self.controls.items():
            control.observe(lambda change, name=name: self._on_change(name, change), names="value")
        t["button"].on_click(self._on_train_click)
        start_ds = initial.get("dataset", first)
        defaults = self._default_b(start_ds) if start_ds in self.results else {}
        self.update(**(defaults | initial))

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _stops(values) -> list[tuple[str, float]]:
        from .plotting import lambda_label

        return [(lambda_label(v), float(v)) for v in values]

    def _default_b(self, dataset: str) -> dict:
        cfg = self.results[dataset].config
        if cfg.diagonal:
            return {"lambda_g_b": cfg.lambda_g[-1], "lambda_d_b": cfg.lambda_d[-1]}
        return {"lambda_g_b": cfg.lambda_g[0], "lambda_d_b": cfg.lambda_d[-1]}

    @staticmethod
    def _match(value, grid, name: str) -> float:
        value = validate_coef(value, name)
        for v in grid:
            if np.isclose(v, value, rtol=1e-9, atol=0):
                return float(v)
        raise ValueError(f"{name} must be one of the sweep's values {tuple(grid)}, got {value}")

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

    def values(self) -> dict:
        """The controls' current values, by name."""
        return {name: control.value for name, control in self.controls.items()}

    # -- the callback ---------------------------------------------------------------------

    def _resolve(self, values: dict) -> tuple[dict, bool]:
        """Check ``values`` and fill in what follows from them; returns (new values, data set changed)."""
        unknown = set(values) - set(self.controls)
        if unknown:
            raise ValueError(f"unknown control(s) {sorted(unknown)}; valid names: {list(self.controls)}")
        current = self.values()
        ds = values.get("dataset", current["dataset"])
        if ds not in self.results:
            raise ValueError(f"dataset must be one of {list(self.results)}, got {ds!r}")
        cfg = self.results[ds].config
        switched = ds != current["dataset"]
        new = dict(current, dataset=ds)
        if switched:  # keep what the new grid has, else its first value; B back to a grid run
            for name, (field, _) in self.SLIDERS.items():
                grid = getattr(cfg, field)
                new[name] = next((float(v) for v in grid if np.isclose(v, current[name])), float(grid[0]))
            for name in ("seed", "seed_b"):
                new[name] = current[name] if current[name] in cfg.seeds else cfg.seeds[0]
            new["panel_b"] = LAB_GRID_RUN
        for name, value in values.items():
            if name in self.SLIDERS:
                new[name] = self._match(value, getattr(cfg, self.SLIDERS[name][0]), name)
            elif name in ("seed", "seed_b"):
                if isinstance(value, bool) or value not in cfg.seeds:
                    raise ValueError(f"{name} must be one of the sweep's seeds {cfg.seeds}, got {value!r}")
                new[name] = int(value)
            elif name == "panel_b":
                if value != LAB_GRID_RUN and value not in self.trained[ds]:
                    raise ValueError(f"panel_b must be {LAB_GRID_RUN!r} or a run trained here "
                                     f"({list(self.trained[ds])}), got {value!r}")
        if cfg.diagonal:  # λ_G = λ_D pairs: a moved slider takes its partner along
            for g_name, d_name in (("lambda_g", "lambda_d"), ("lambda_g_b", "lambda_d_b")):
                ig = cfg.lambda_g.index(new[g_name])
                id_ = cfg.lambda_d.index(new[d_name])
                if ig == id_:
                    continue
                if g_name in values and d_name in values:
                    raise ValueError(f"{ds} is a diagonal sweep (λ_G, λ_D) ∈ "
                                     f"{list(zip(cfg.lambda_g, cfg.lambda_d, strict=True))}; "
                                     f"got {g_name}={new[g_name]}, {d_name}={new[d_name]}")
                if d_name in values:
                    new[g_name] = float(cfg.lambda_g[id_])
                else:
                    new[d_name] = float(cfg.lambda_d[ig])
        if "panel_b" in values:
            new["panel_b"] = values["panel_b"]
        elif any(name in values for name in ("lambda_g_b", "lambda_d_b", "seed_b")):
            new["panel_b"] = LAB_GRID_RUN  # moving a B control shows the B grid run again
        return new, switched

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
        new, switched = self._resolve(values)
        self._holding = True
        try:
            c = self.controls
            if switched:
                cfg = self.results[new["dataset"]].config
                c["dataset"].value = new["dataset"]
                for name, (field, _) in self.SLIDERS.items():
                    c[name].options = self._stops(getattr(cfg, field))
                for name in ("seed", "seed_b"):
                    c[name].options = list(cfg.seeds)
                c["panel_b"].options = [LAB_GRID_RUN, *self.trained[new["dataset"]]]
            for name, value in new.items():
                if c[name].value != value:
                    c[name].value = value
        finally:
            self._holding = False
        return self._redraw()

    def _on_change(self, name: str, change) -> None:
        import html

        if self._holding:
            return
        try:
            self.update(**{name: change["new"]})
        except ValueError as err:  # cannot happen from the widgets' own options; shown, not raised
            self.train_controls["status"].value = f"<span style='color:#c00'>{html.escape(str(err))}</span>"

    def _redraw(self) -> bytes:
        import time

        start = time.perf_counter()
        v = self.values()
        res = self.results[v["dataset"]]
        rec_a = res.record(v["lambda_g"], v["lambda_d"], v["seed"])
        if v["panel_b"] == LAB_GRID_RUN:
            rec_b, tag_b = res.record(v["lambda_g_b"], v["lambda_d_b"], v["seed_b"]), "B"
        else:
            rec_b = self.trained[v["dataset"]][v["panel_b"]]
            tag_b = f"B (trained here, {rec_b.config.steps:,} steps)"
        self._canvas.draw(res, rec_a, rec_b, ("A", tag_b), extra=self.trained[v["dataset"]].values())
        png = self._canvas.to_png()
        self.image.value = png
        self.timings.append(time.perf_counter() - start)
        return png

    # -- train this point now -------------------------------------------------------------

    def train_point(self, lambda_g: float, lambda_d: float, seed: int | None = None,
                    steps: int | None = None, progress: bool = False):
        """Train one (λ_G, λ_D) run on the selected data set (or load it from the cache), show it in B.

        The run uses the sweep's base config with ``steps`` training steps (logging and
        evaluation intervals scaled to keep their number), the sweep's ``eval_last`` and
        ``n_stored_samples``, and is cached in ``cache_dir`` by ``sweep.run_sweep``.

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
        from .plotting import lambda_label
        from .sweep import SweepConfig, run_sweep

        lambda_g, lambda_d = validate_coef(lambda_g, "lambda_g"), validate_coef(lambda_d, "lambda_d")
        seed = self.controls["seed_b"].value if seed is None else seed
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        steps = steps if steps is not None else self.train_steps
        res = self.result
        base = res.config.base
        steps = base.steps if steps is None else steps
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"steps must be a positive integer, got {steps!r}")
        steps = int(steps)
        scale = steps / base.steps  # keep the number of logged rows and evaluations
        base = base.replace(steps=steps, log_every=max(1, round(base.log_every * scale)),
                            eval_every=max(1, min(steps, round(base.eval_every * scale))))
        sweep = SweepConfig(base, lambda_g=(lambda_g,), lambda_d=(lambda_d,), seeds=(int(seed),),
                            eval_last=res.config.eval_last, n_stored_samples=res.config.n_stored_samples)
        rec = run_sweep(sweep, self.cache_dir, progress=progress, classifier=self.classifier).records[0]
        ds = self.controls["dataset"].value
        label = (f"trained here: λ_G = {lambda_label(lambda_g)}, λ_D = {lambda_label(lambda_d)}, "
                 f"seed {seed}, {steps:,} steps")
        self.trained[ds][label] = rec
        self._holding = True
        try:
            self.controls["panel_b"].options = [LAB_GRID_RUN, *self.trained[ds]]
        finally:
            self._holding = False
        self.update(panel_b=label)
        return rec

    def _on_train_click(self, _button) -> None:
        import html
        import time

        t = self.train_controls
        t["button"].disabled = True
        t["status"].value = "training … (a few seconds for 2-D data)"
        start = time.perf_counter()
        try:
            rec = self.train_point(t["lambda_g"].value, t["lambda_d"].value)
        except ValueError as err:
            t["status"].value = f"<span style='color:#c00'>{html.escape(str(err))}</span>"
        else:
            t["status"].value = (f"done in {time.perf_counter() - start:.1f} s "
                                 f"({'diverged' if rec.diverged else 'finished'}); shown in panel B")
        finally:
            t["button"].disabled = False


def make_lambda_lab(results: dict, cache_dir=None, train_steps: int | None = None, classifier=None,
                    **initial) -> LambdaLab:
    """Build a ``LambdaLab`` over ``results`` (data-set name → ``sweep.SweepResult``).

    Args:
        results: the cached sweeps to browse; the first is shown first.
        cache_dir: where "train this point now" caches its runs (``run_sweep``'s default,
            ``sweep.default_sweep_cache_dir()``, when None).
        train_steps: steps of a trained point (None: the sweep's own).
        classifier: a ``metrics.TrainedClassifier`` for trained image runs (None: the default).
        **initial: controls to set (see ``LambdaLab.update``).

    Show it with ``display(lab.widget)``; ``lab.update(lambda_d=1e-2)`` moves a slider from code.
    """
    return LambdaLab(results, cache_dir=cache_dir, train_steps=train_steps, classifier=classifier, **initial)



# --- live training view (notebook 04) -------------------------------------------------------


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

    def __init__(self, title: str | None = None, dpi: int = 72, show: bool = True) -> None:
        self.title, self.dpi, self.show = title, dpi, show
        self.png: bytes | None = None
        self.n_updates = 0
        self.render_s = 0.0
        self._handle = None

    def update(self, history) -> None:
        """Redraw from ``history`` (a ``train.History``, possibly of a run still training)."""
        import time

        import matplotlib.pyplot as plt

        from .plotting import figure_png, plot_training_dashboard

        start = time.perf_counter()
        fig = plot_training_dashboard(history, title=self.title)
        try:
            self.png = figure_png(fig, dpi=self.dpi)
        finally:
            plt.close(fig)  # never shown a second time by the inline backend
        self.n_updates += 1
        if self.show:
            from IPython.display import Image, display

            if self._handle is None:
                self._handle = display(Image(data=self.png), display_id=True)
            else:
                self._handle.update(Image(data=self.png))
        self.render_s += time.perf_counter() - start
