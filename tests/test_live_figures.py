"""Live figures: a blitted frame equals a full draw, and the one PNG encoder round-trips."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image
from torch.testing import assert_close

from gan_l2_lib.dirac import DiracGAN
from gan_l2_lib.live_figures import (
    DiracExplorerFigure,
    LambdaLabFigure,
    ReplayFigure,
    encode_png,
    figure_png,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _redrawn_in_full(figure) -> tuple[np.ndarray, np.ndarray]:
    """The canvas pixels as blitted, then after a full redraw of the same figure."""
    canvas = figure.canvas
    blitted = np.asarray(canvas.buffer_rgba()).copy()
    canvas.draw()
    return blitted, np.asarray(canvas.buffer_rgba())


# --- Dirac-GAN explorer ------------------------------------------------------------------------


def test_dirac_blitted_frame_equals_a_full_draw():
    """Redrawing only the moving parts must give the picture a full redraw gives."""
    fig = DiracExplorerFigure()
    with pytest.raises(RuntimeError, match="nothing drawn yet"):
        fig.to_png()
    # (λ_G, λ_D, c, window): a first layout, a new window (full render), then the same window and
    # distance axis (both runs get below 1e-6: blit)
    for lambda_g, lambda_d, c, lim in ((0.0, 0.15, 0.0, 2.0), (0.3, 0.15, 1.0, 3.0), (0.3, 0.3, 0.0, 3.0)):
        game = DiracGAN(lambda_g, lambda_d, c)
        traj = game.simulate(1.0, 1.0, h=0.2, steps=200)
        regions = fig._regions
        fig.draw(game.field_grid((-lim, lim), (-lim, lim), 17), traj, f"λ_D = {lambda_d:g}, λ_G = {lambda_g:g}")
    assert fig._regions is regions  # the last frame was blitted onto the saved background
    blitted, full = _redrawn_in_full(fig.figure)
    assert blitted.shape == full.shape
    assert np.abs(blitted.astype(int) - full.astype(int)).mean() < 0.5
    assert fig.to_png().startswith(PNG_MAGIC)


def test_dirac_efold_line_shows_only_within_the_run():
    fig = DiracExplorerFigure()
    game = DiracGAN(lambda_d=0.15)
    field = game.field_grid((-2, 2), (-2, 2), 9)
    traj = game.simulate(1.0, 1.0, h=0.2, steps=200)
    fig.draw(field, traj, "inside", efold=39.0)
    assert fig._efold_line.get_visible() and list(fig._efold_line.get_xdata()) == [39.0, 39.0]
    fig.draw(field, traj, "beyond the run", efold=5000.0)
    assert not fig._efold_line.get_visible()
    fig.draw(field, traj, "none", efold=float("inf"))
    assert not fig._efold_line.get_visible()
    legend = [t.get_text() for t in fig.figure.axes[0].get_legend().get_texts()]
    assert "start" in legend and "end" in legend


def test_dirac_distance_axis_follows_the_run():
    """A slow run (λ_D = 1e-4) gets a distance axis from 1e-2, not one squashed down to 1e-16."""
    fig = DiracExplorerFigure()
    fast, slow = DiracGAN(lambda_d=0.15), DiracGAN(lambda_d=1e-4)
    field = fast.field_grid((-2, 2), (-2, 2), 9)
    fig.draw(field, fast.simulate(1.0, 1.0, h=0.2, steps=500))
    assert fig._ax_dist.get_ylim()[0] == pytest.approx(1e-6)  # it ends near 5e-6
    regions = fig._regions
    fig.draw(field, slow.simulate(1.0, 1.0, h=0.2, steps=500, mode="alternating"))
    assert fig._ax_dist.get_ylim() == pytest.approx((1e-2, 1e2)) and fig._regions is not regions
    blitted, full = _redrawn_in_full(fig.figure)
    assert np.abs(blitted.astype(int) - full.astype(int)).mean() < 0.5


# --- λ lab -------------------------------------------------------------------------------------


def test_lambda_lab_blitted_frame_equals_a_full_draw(lab_sweeps):
    """Redrawing only the changed parts must give the picture a full redraw gives."""
    ring = lab_sweeps[0]["ring8"]
    fig = LambdaLabFigure()
    # (A, B) as (λ_G, λ_D, seed): the lab's start, then A moves, B moves, A moves
    frames = [((0.0, 0.0, 0), (0.0, 1e-2, 0)), ((0.0, 1e-2, 0), (0.0, 1e-2, 0)),
              ((0.0, 1e-2, 0), (1e-2, 1e-2, 1)), ((1e-2, 0.0, 0), (1e-2, 1e-2, 1))]
    for a, b in frames:
        regions = fig._regions
        fig.draw(ring, ring.record(*a), ring.record(*b))
    assert fig._regions is regions  # the last frame was blitted onto the saved background
    assert set(fig._regions) == {"maps", "A", "B"}  # partial redraws are in use
    blitted, full = _redrawn_in_full(fig.figure)
    assert np.abs(blitted.astype(int) - full.astype(int)).mean() < 0.5


def test_lambda_lab_draws_a_run_trained_here_on_its_own_step_axis(lab_sweeps):
    """A short run beside the grid fills its own panels instead of a sliver of the grid's steps."""
    import dataclasses

    ring = lab_sweeps[0]["ring8"]
    grid_run = ring.record(0.0, 0.0, 0)
    n = len(grid_run.steps) // 2
    short = dataclasses.replace(grid_run, steps=grid_run.steps[:n],
                                scalars={k: v[:n] for k, v in grid_run.scalars.items()})
    fig = LambdaLabFigure()
    fig.draw(ring, grid_run, short, extra=[short])
    last = max(int(r.steps[-1]) for r in ring.records)
    for tag, end in (("A", last), ("B", int(short.steps[-1]))):
        ax = fig._cols[tag]["loss"][0].axes
        assert ax.get_xlim() == pytest.approx((0, 1.02 * end)), tag
    assert "this run's" in fig._cols["B"]["loss"][0].axes.get_xlabel()
    assert fig._cols["A"]["loss"][0].axes.get_xlabel() == "training step"
    fig.draw(ring, grid_run, ring.record(0.0, 1e-2, 0))  # B back on the grid: the grid's axis again
    assert fig._cols["B"]["loss"][0].axes.get_xlim() == pytest.approx((0, 1.02 * last))


def test_lambda_lab_replay_frames_blit_like_a_full_draw(replay_sweeps):
    """Time moves redraw both columns from the snapshots; the picture equals a full redraw."""
    ring = replay_sweeps["ring8"]
    a, b = ring.record(0.0, 0.0, 0), ring.record(0.0, 1e-2, 0)
    fig = LambdaLabFigure()
    pngs = []
    for frames in ({}, {"A": 0, "B": 0}, {"A": 2, "B": 1}, {"A": 3}):
        regions = fig._regions
        fig.draw(ring, a, b, frames=frames)
        pngs.append(fig.to_png())
    assert fig._regions is regions and len(set(pngs)) == 4
    assert fig._shown["A"][2] == 3 and fig._shown["B"][2] is None  # B back at its end
    blitted, full = _redrawn_in_full(fig.figure)
    assert np.abs(blitted.astype(int) - full.astype(int)).mean() < 0.5


@pytest.mark.parametrize("frames, match", [
    ({"A": 4}, r"frame of run A must be None or an evaluation in \[0, 4\)"),
    ({"B": -1}, r"frame of run B must be None or an evaluation in \[0, 4\)"),
    ({"A": 1.0}, "frame of run A must be None"),
])
def test_lambda_lab_figure_rejects_a_frame_the_run_does_not_have(replay_sweeps, lab_sweeps, frames, match):
    ring = replay_sweeps["ring8"]
    with pytest.raises(ValueError, match=match):
        LambdaLabFigure().draw(ring, ring.records[0], ring.records[1], frames=frames)
    old = lab_sweeps[0]["ring8"]  # no snapshots: only its end
    with pytest.raises(ValueError, match=r"frame of run A must be None or an evaluation in \[0, 0\)"):
        LambdaLabFigure().draw(old, old.records[0], old.records[1], frames={"A": 0})


def test_lambda_lab_figure_rejects_a_run_of_another_data_set(lab_sweeps):
    results = lab_sweeps[0]
    ring, digits = results["ring8"], results["digits8"]
    with pytest.raises(ValueError, match="run B is on 'digits8', the maps on 'ring8'"):
        LambdaLabFigure().draw(ring, ring.records[0], digits.records[0])


# --- one run's replay ----------------------------------------------------------------------------


def test_replay_figure_blits_an_image_run_frame_like_a_fresh_full_draw(replay_sweeps):
    """A blitted frame keeps no trace of the one before: it equals a new figure drawn at that frame."""
    from gan_l2_lib.plotting import image_grid_array, square_grid_size

    rec = replay_sweeps["digits8"].record(0.0, 0.0, 0)  # 3 evaluations of 9 images
    fig = ReplayFigure()
    pngs = []
    for k in (0, 2, 1):
        regions = fig._regions
        fig.draw(rec, k)
        pngs.append(fig.to_png())
    assert fig._regions is regions and len(set(pngs)) == 3  # blitted, and every frame looks different
    n_show, ncol = square_grid_size(9)
    assert_close(np.asarray(fig.figure.axes[0].images[0].get_array()), image_grid_array(rec.snapshot_samples[1], n_show, ncol))
    assert list(fig.figure.axes[1].lines[1].get_xdata()) == [rec.eval_steps[1]] * 2  # the cursor
    fresh = ReplayFigure()
    fresh.draw(rec, 1)
    assert fresh.to_png() == pngs[-1]
    blitted, full = _redrawn_in_full(fig.figure)
    assert np.abs(blitted.astype(int) - full.astype(int)).mean() < 0.5


def test_replay_figure_rejects_a_frame_the_run_does_not_have(replay_sweeps, lab_sweeps):
    rec = replay_sweeps["digits8"].records[0]
    for frame in (3, -4, 1.0, True):
        with pytest.raises(ValueError, match=r"frame must be an integer in \[-3, 3\)"):
            ReplayFigure().draw(rec, frame)
    old = lab_sweeps[0]["digits8"].records[0]  # no snapshots
    with pytest.raises(ValueError, match="keeps only its last evaluation"):
        ReplayFigure().draw(old, 0)


# --- PNG ---------------------------------------------------------------------------------------


def test_encode_png_round_trips():
    rgba = np.random.default_rng(0).integers(0, 256, (7, 5, 4), dtype=np.uint8)
    back = np.asarray(Image.open(io.BytesIO(encode_png(rgba))))
    np.testing.assert_array_equal(back, rgba[..., :3])
    with pytest.raises(ValueError, match="pixels must be uint8"):
        encode_png(rgba.astype(np.float32))


def test_figure_png_is_a_png():
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    png = figure_png(fig, dpi=30)
    assert png.startswith(PNG_MAGIC)
    # the full figure at that dpi, whatever savefig.bbox says, and as savefig draws it
    with plt.rc_context({"savefig.bbox": "tight"}):
        pixels = np.asarray(Image.open(io.BytesIO(figure_png(fig, dpi=30))))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=30)
    plt.close(fig)
    np.testing.assert_array_equal(pixels, np.asarray(Image.open(buf))[..., :3])
