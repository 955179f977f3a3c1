"""Widget callbacks, exercised without a browser."""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest

from gan_l2_lib import widgets

# --- Dirac-GAN explorer (notebook 03) -------------------------------------------------------

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def dirac_explorer():
    return widgets.make_dirac_explorer(theta0=1.0, psi0=1.0, steps=200)


def test_dirac_explorer_has_labelled_controls_and_a_png(dirac_explorer):
    ex = dirac_explorer
    assert set(ex.controls) == {"lambda_d", "lambda_g", "h", "c", "mode", "gen_loss"}
    assert ex.controls["lambda_d"].description == "λ_D"
    assert ex.controls["lambda_g"].description == "λ_G"
    assert ex.controls["lambda_d"].value == 0.0 and 0.0 in widgets.DIRAC_LAMBDA_STOPS
    assert bytes(ex.image.value).startswith(PNG_MAGIC)
    assert ex.trajectory is not None and ex.trajectory.steps == 200
    assert ex.image in ex.widget.children


def test_dirac_update_sets_controls_and_redraws(dirac_explorer):
    ex = dirac_explorer
    before = bytes(ex.image.value)
    png = ex.update(lambda_d=0.15, h=0.4, mode="alternating")
    assert png == bytes(ex.image.value) and png != before and png.startswith(PNG_MAGIC)
    assert ex.values()["lambda_d"] == 0.15 and ex.values()["mode"] == "alternating"
    game = ex.trajectory.game
    assert (game.lambda_d, ex.trajectory.h, ex.trajectory.mode) == (0.15, 0.4, "alternating")
    assert ex.trajectory.distance()[-1] < 1e-3


def test_dirac_moving_a_slider_runs_the_callback(dirac_explorer):
    ex = dirac_explorer
    before = bytes(ex.image.value)
    ex.controls["lambda_g"].value = 0.15  # what the browser does
    ex.controls["c"].value = 1.0
    assert bytes(ex.image.value) != before
    assert ex.trajectory.game.lambda_g == 0.15 and ex.trajectory.game.c == 1.0
    assert ex.trajectory.fixed_point[0] < 1.0  # λ_G pulls the fixed point toward 0


def test_dirac_update_redraws_once(dirac_explorer, monkeypatch):
    ex = dirac_explorer
    calls = []
    original = ex._redraw
    monkeypatch.setattr(ex, "_redraw", lambda: calls.append(1) or original())
    ex.update(lambda_d=0.1, lambda_g=0.05, c=0.5, h=0.3)
    assert len(calls) == 1


@pytest.mark.parametrize("values, match", [
    ({"lambda": 0.1}, "unknown control"),
    ({"lambda_d": 0.123}, "must be one of the slider stops"),
    ({"lambda_d": -0.1}, "lambda_d must be >= 0"),
    ({"lambda_g": float("nan")}, "lambda_g must be a finite number"),
    ({"h": 0.0}, "must lie in the slider range"),
    ({"h": float("nan")}, "h \\(step size\\) must be a finite real number"),
    ({"c": 7.0}, "must lie in the slider range"),
    ({"mode": "async"}, "mode must be one of"),
])
def test_dirac_update_rejects_bad_values_and_changes_nothing(dirac_explorer, values, match):
    ex = dirac_explorer
    before_png, before_values = bytes(ex.image.value), ex.values()
    with pytest.raises(ValueError, match=match):
        ex.update(**({"lambda_g": 0.15} | values))  # the good value must not be applied either
    assert bytes(ex.image.value) == before_png and ex.values() == before_values


def test_dirac_blitted_frame_equals_a_full_draw(dirac_explorer):
    """Redrawing only the moving parts must give the picture a full redraw gives."""
    ex = dirac_explorer
    for values in ({"lambda_d": 0.15}, {"c": 1.0, "lambda_g": 0.3}, {"lambda_d": 0.0, "lambda_g": 0.0}):
        ex.update(**values)
    canvas = ex.figure.canvas
    blitted = np.asarray(canvas.buffer_rgba()).copy()
    canvas.draw()
    full = np.asarray(canvas.buffer_rgba())
    assert blitted.shape == full.shape
    assert np.abs(blitted.astype(int) - full.astype(int)).mean() < 0.5


def test_dirac_redraw_is_fast(dirac_explorer):
    ex = dirac_explorer
    times = []
    for lam in widgets.DIRAC_LAMBDA_STOPS * 2:
        start = time.perf_counter()
        ex.update(lambda_d=lam)
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.5  # ~30-70 ms on a 2-core CI box; loose for loaded runners


def test_dirac_explorer_rejects_a_bad_start():
    with pytest.raises(ValueError, match="theta0 must be a finite real number"):
        widgets.make_dirac_explorer(theta0=float("nan"))
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        widgets.make_dirac_explorer(steps=0)
