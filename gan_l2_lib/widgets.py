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
