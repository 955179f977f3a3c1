"""Plotting functions: they draw what they are given, label it, and reject bad input."""

from __future__ import annotations

import dataclasses

import matplotlib.colors
import matplotlib.patches
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from gan_l2_lib import plotting
from gan_l2_lib.train import TrainConfig, train_gan


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --- data sets -------------------------------------------------------------------------------


def test_plot_mixture_marks_centres_and_magnifies_one_mode():
    from gan_l2_lib.data import make_mixture

    mix = make_mixture("ring8")
    pts = mix.sample(400, torch.Generator().manual_seed(0))
    fig = plotting.plot_mixture(mix, pts, zoom_mode=2)
    (ax,) = fig.axes
    (inset,) = ax.child_axes
    samples, centres = ax.collections[:2]
    np.testing.assert_allclose(samples.get_offsets(), pts.numpy())
    np.testing.assert_allclose(centres.get_offsets(), mix.centers.numpy())
    (circle,) = [p for p in inset.patches if isinstance(p, matplotlib.patches.Circle)]
    x0, y0 = mix.centers[2].tolist()
    assert circle.center == pytest.approx((x0, y0)) and circle.radius == pytest.approx(3 * mix.std)
    assert inset.get_xlim() == pytest.approx((x0 - 5 * mix.std, x0 + 5 * mix.std))
    assert inset.get_ylim() == pytest.approx((y0 - 5 * mix.std, y0 + 5 * mix.std))
    assert "3σ" in " ".join(t.get_text() for t in ax.get_legend().get_texts())
    plt.close(fig)
    fig = plotting.plot_mixture(mix, pts)
    assert not fig.axes[0].child_axes  # no inset unless asked
    with pytest.raises(ValueError, match="zoom_mode"):
        plotting.plot_mixture(mix, pts, zoom_mode=8)
    plt.close("all")


# --- penalty and losses ----------------------------------------------------------------------


def _labels_ok(fig):
    for ax in fig.axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        assert ax.get_legend() is not None


def test_plot_weight_trajectories_draws_paths_and_distances():
    t = torch.linspace(0, 1, 11)
    traj = torch.stack([t, 1 - t], 1)
    w1, w2 = np.meshgrid(np.linspace(0, 1, 5), np.linspace(0, 1, 5))
    fig = plotting.plot_weight_trajectories({"a": traj, "b": traj * 0.5}, loss_grid=(w1, w2, w1 + w2),
                                   points={"min": (0.5, 0.5)}, distances={"a": t, "b": 1 - t})
    assert len(fig.axes) == 2
    _labels_ok(fig)
    assert fig.axes[1].get_yscale() == "log"
    fig = plotting.plot_weight_trajectories({"a": traj}, distances={"a": t}, distance_label="distance to (1, 1)",
                                            log_steps=True)
    assert fig.axes[1].get_xscale() == "log" and "(1, 1)" in fig.axes[1].get_ylabel()
    assert fig.axes[1].lines[0].get_xdata()[0] == 1, "step 0 cannot be drawn on a log axis"
    _assert_start_and_end_marked(fig.axes[0], starts=[(0.0, 1.0)], ends=[(1.0, 0.0)])


def _assert_start_and_end_marked(ax, starts, ends):
    """The one convention: START_MARKER at each start, END_MARKER at each end, named in the legend."""
    def at(marker):
        return sorted((float(line.get_xdata()[0]), float(line.get_ydata()[0])) for line in ax.lines
                      if line.get_marker() == marker and len(line.get_xdata()) == 1)
    assert at(plotting.START_MARKER) == sorted(starts) and at(plotting.END_MARKER) == sorted(ends)
    legend = {t.get_text(): h for t, h in zip(ax.get_legend().get_texts(), ax.get_legend().legend_handles,
                                             strict=True)}
    assert legend["start"].get_marker() == plotting.START_MARKER
    assert legend["end"].get_marker() == plotting.END_MARKER


def test_plot_penalized_loss_on_lines_panels():
    t = torch.logspace(-3, 0, 5)
    ratios = {"3 layers": (t, {"λ = 0.1": (torch.ones(4, 5), torch.ones(5))}),
              "2 layers": (t, {"λ = 0.1": (-torch.ones(4, 5), torch.ones(5))})}
    line_t = torch.linspace(0, 2, 7)
    fig = plotting.plot_penalized_loss_on_lines(ratios, (line_t, {"λ = 0.1": line_t**2}, "line"), title="t")
    assert len(fig.axes) == 3
    assert all(ax.get_title() and ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
    assert fig.axes[0].get_xscale() == "log" and len(fig.axes[0].lines) == 4 + 1 + 2  # rows, d*, 0 and 1
    (legend,) = fig.legends  # one shared legend: the colour per λ, then the line styles
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts[0] == "λ = 0.1" and "thin: 4 random unit directions d" in texts
    # readable in a notebook: shown at most ~900 px wide, the legend text stays >= 8 pt
    shown = min(1.0, 900 / (fig.get_figwidth() * 100))
    assert min(t.get_fontsize() for t in legend.get_texts()) * shown >= 8


def test_plot_penalized_loss_on_lines_axes_and_zoom():
    t = torch.logspace(-3, 0, 5)
    ratios = {"near 1": (t, {"λ = 0.1": (1 + 0.1 * torch.rand(4, 5), 0.5 * torch.ones(5))}),
              "wide": (t, {"λ = 0.1": (torch.ones(4, 5), -20 * torch.ones(5))})}
    line_t = torch.linspace(0, 2, 7)
    line = (line_t, {"λ = 0.1": line_t**2}, "line")
    fig = plotting.plot_penalized_loss_on_lines(ratios, line, zoom=(1.0, -0.1, 0.2))
    near, wide, along = fig.axes
    assert near.get_yscale() == "linear" and near.get_ylim()[0] < 0 < 1 < near.get_ylim()[1]
    assert wide.get_yscale() == "symlog"
    assert wide.yaxis.get_major_formatter()(-10.0, 0) == "-10"  # plain labels, not 10⁰
    (inset,) = along.child_axes
    assert inset.get_xlim() == (0.0, 1.0) and inset.get_ylim() == (-0.1, 0.2) and len(inset.lines) == 2
    assert not plotting.plot_penalized_loss_on_lines(ratios, line).axes[-1].child_axes
    for bad in [(0.0, -0.1, 0.2), (1.0, 0.2, 0.1), (1.0, 0.1)]:
        with pytest.raises(ValueError, match="zoom must be"):
            plotting.plot_penalized_loss_on_lines(ratios, line, zoom=bad)


def test_plot_penalty_vs_norm_log_axes():
    r = torch.logspace(-1, 1, 20)
    fig = plotting.plot_penalty_vs_norm(r, {"sq": r**2, "abs": r}, {"sq": 2 * r, "abs": torch.ones_like(r)},
                               markers={"init": 3.0}, log=True)
    _labels_ok(fig)
    assert all(ax.get_xscale() == "log" and ax.get_yscale() == "log" for ax in fig.axes)


def test_plot_discriminators_1d_three_panels():
    x = torch.linspace(-2, 2, 50)
    p = torch.exp(-(x**2))
    d = torch.sigmoid(x)
    fig = plotting.plot_discriminators_1d(x, p, p.flip(0), d, {"λ=0": d}, {"λ=0": d * (1 - d)}, d * (1 - d))
    assert len(fig.axes) == 3
    _labels_ok(fig)


def test_plot_loss_and_grad_shades_nonfinite_ranges():
    x = np.linspace(0, 10, 101)
    bad = np.where(x > 7, np.inf, x)
    fig = plotting.plot_loss_and_grad(x, {"ok": x, "bad": bad}, {"ok": np.ones_like(x), "bad": np.where(x > 7, np.nan, 1.0)},
                             title="demo")
    _labels_ok(fig)
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "bad: inf/NaN here" in texts and "ok: inf/NaN here" not in texts
    # one shaded span per panel, covering exactly the non-finite x range
    spans = list(fig.axes[0].patches)
    assert len(spans) == 1
    x0, x1 = spans[0].get_x(), spans[0].get_x() + spans[0].get_width()
    assert x0 == pytest.approx(7.1) and x1 == pytest.approx(10.0)


# --- Dirac-GAN ---------------------------------------------------------------------------------


def test_plot_dirac_field_marks_start_and_end_of_every_run():
    from gan_l2_lib.dirac import DiracGAN

    game = DiracGAN(lambda_d=0.15)
    runs = [(mode, game.simulate(1.0, 0.5, h=0.2, steps=50, mode=mode)) for mode in ("simultaneous", "alternating")]
    fig = plotting.plot_dirac_field(game.field_grid(n=5), runs, fixed_point=(0.0, 0.0), title="t")
    _assert_start_and_end_marked(fig.axes[0], starts=[(1.0, 0.5)] * 2, ends=[run.final for _, run in runs])
    plt.close(fig)


def test_plot_dirac_efold_marks_predicted_and_measured_efold_times():
    steps = np.arange(2001)
    curves = {"fast": 2.0 * np.exp(-steps / 100), "slow": 2.0 * np.exp(-steps / 1000), "flat": np.full(2001, 2.0)}
    fig = plotting.plot_dirac_efold(curves, {"fast": 100.0, "slow": 1000.0}, title="t")
    ax = fig.axes[0]
    _labels_ok(fig)
    assert ax.get_xscale() == ax.get_yscale() == "log"
    dots = [line for line in ax.lines if line.get_marker() == "o" and len(line.get_xdata()) == 1]
    assert sorted(int(d.get_xdata()[0]) for d in dots) == [101, 1001]  # first steps below 2/e; none for "flat"
    vertical = sorted(line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == ":"
                      and len(line.get_xdata()) == 2 and line.get_xdata()[0] == line.get_xdata()[1])
    assert vertical == [100.0, 1000.0]
    assert ax.get_ylim()[0] == pytest.approx(2e-3)  # floor 1e-3 of the start distance
    plt.close(fig)


# --- training curves and digit metrics ---------------------------------------------------------


@pytest.fixture(scope="module")
def digits_history():
    cfg = TrainConfig.preset("digits8", steps=12, log_every=3, eval_every=6, n_eval_samples=16,
                             latent_dim=8, lambda_g=1e-2, lambda_d=1e-2)
    return train_gan(cfg, progress=False).history


def test_dashboard_draws_every_logged_series_and_the_latest_samples(digits_history):
    h = digits_history
    fig = plotting.plot_training_dashboard(h, title="λ = 1e-2")
    ax_loss, ax_pen, ax_dout, ax_grad, ax_wn, ax_img = fig.axes
    # the adversarial losses on their own axis; the two penalty curves (λ > 0) on a second, log one,
    # each with all logged points
    assert len(ax_loss.lines) == 2 and len(ax_pen.lines) == 2
    np.testing.assert_array_equal(ax_loss.lines[0].get_ydata(), h.array("d_loss"))
    np.testing.assert_array_equal(ax_pen.lines[0].get_ydata(), h.array("d_penalty"))
    np.testing.assert_array_equal(ax_pen.lines[1].get_ydata(), h.array("g_penalty"))
    assert ax_pen.get_yscale() == "log" and ax_pen.get_shared_x_axes().joined(ax_pen, ax_loss)
    low, high = ax_loss.get_ylim()  # the losses' axis spans the losses, not the penalties
    adversarial = np.concatenate([h.array("d_loss"), h.array("g_loss")])
    assert low <= adversarial.min() and high >= adversarial.max()
    assert high - low < 1.5 * (adversarial.max() - adversarial.min())
    np.testing.assert_array_equal(ax_dout.lines[1].get_ydata(), h.array("d_fake"))
    assert ax_grad.get_yscale() == "log"
    np.testing.assert_array_equal(ax_wn.lines[1].get_ydata(), h.array("weight_norm_g"))
    assert ax_img.images and "step 12" in ax_img.get_title()
    assert fig._suptitle.get_text().startswith("λ = 1e-2: step 12 of 12")
    for ax in (ax_loss, ax_pen, ax_dout, ax_grad, ax_wn):
        assert ax.get_title() and ax.get_ylabel() and ax.get_legend() is not None
    for ax in (ax_pen, ax_dout, ax_grad, ax_wn):
        assert ax.get_xlabel()
    plt.close(fig)


def test_dashboard_without_penalty_or_samples_yet(digits_history):
    h = digits_history
    unpenalized = type(h)(config=h.config, steps=h.steps[:2],
                          scalars={k: ([0.0, 0.0] if "penalty" in k else v[:2]) for k, v in h.scalars.items()})
    fig = plotting.plot_training_dashboard(unpenalized)
    assert len(fig.axes[0].lines) == 2
    # no penalty curves when the penalties are 0: the penalty panel says so instead
    assert not fig.axes[1].lines and "no penalty" in fig.axes[1].texts[0].get_text()
    assert not fig.axes[5].images and fig.axes[5].texts[0].get_text() == "no samples yet"
    plt.close(fig)
    empty = type(h)(config=h.config)
    fig = plotting.plot_training_dashboard(empty)  # before the first log: draws, does not raise
    assert "step 0 of 12" in fig._suptitle.get_text()
    plt.close(fig)


def test_dashboard_labels_a_short_log_range_and_keeps_legends_off_the_curves(digits_history):
    h = digits_history
    n = len(h.steps)
    scalars = dict(h.scalars, grad_norm_d=list(np.linspace(0.3, 7.0, n)), grad_norm_g=list(np.linspace(0.5, 3.0, n)))
    fig = plotting.plot_training_dashboard(type(h)(config=h.config, steps=h.steps, scalars=scalars))
    ax_loss, _, _, ax_grad, _, _ = fig.axes
    fig.canvas.draw()
    lo, hi = ax_grad.get_ylim()
    labelled = [float(t.get_text()) for t in ax_grad.get_yticklabels(minor=True) + ax_grad.get_yticklabels()
                if t.get_text() and lo <= float(t.get_text()) <= hi]
    assert len(labelled) >= 3, labelled  # 0.3 … 7 holds only the power of ten 1: 2 and 5 are labelled too
    for ax, key in ((ax_loss, "d_loss"), (ax_grad, "grad_norm_d")):  # the legend sits above every curve
        legend_box = ax.get_legend().get_window_extent()
        top_of_curves = max(ax.transData.transform(np.column_stack([h.steps, scalars[k]]))[:, 1].max()
                            for k in ((key, "g_loss") if key == "d_loss" else (key, "grad_norm_g")))
        assert legend_box.y0 > top_of_curves
    plt.close(fig)


def test_class_histograms_draw_shares_in_percent():
    fig = plotting.plot_class_histograms({"a": [10, 0, 0, 0, 0, 0, 0, 0, 0, 30],
                                          "b": torch.ones(10, dtype=torch.int64)})
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert len(heights) == 20
    np.testing.assert_allclose(heights[:10], [25, 0, 0, 0, 0, 0, 0, 0, 0, 75])
    np.testing.assert_allclose(heights[10:], 10.0)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "a (n = 40)" in labels and "b (n = 10)" in labels
    plt.close(fig)


@pytest.mark.parametrize("counts", [{}, {"a": [1, 2, 3]}, {"a": np.zeros(10)}, {"a": -np.ones(10)}])
def test_class_histograms_reject_bad_counts(counts):
    with pytest.raises(ValueError, match="counts"):
        plotting.plot_class_histograms(counts)
    plt.close("all")


def test_seed_curves_mean_and_range_cut_to_the_shortest_run():
    x = np.arange(4.0)
    runs = [(x, np.array([0.0, 1, 2, 3])), (x, np.array([2.0, 3, 4, 5])), (x[:3], np.array([1.0, 2, 6]))]
    fig = plotting.plot_seed_curves({"λ = 0": runs, "one": [(x, x)]}, ylabel="classes", reference=10)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [1.0, 2.0, 4.0])  # mean of the first 3 points
    assert len(ax.collections) == 1  # a band only where there is more than one seed
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == 0.0 and band[:, 1].max() == 6.0
    assert ax.lines[-1].get_ydata()[0] == 10  # the reference line
    assert ax.get_ylabel() == "classes"
    plt.close(fig)


def test_seed_curves_reject_mismatched_runs():
    with pytest.raises(ValueError, match="same length"):
        plotting.plot_seed_curves({"a": [(np.arange(3), np.arange(4))]}, ylabel="y")
    with pytest.raises(ValueError, match="no runs"):
        plotting.plot_seed_curves({"a": []}, ylabel="y")
    plt.close("all")


def test_seed_curves_log_axis_has_plain_tick_labels():
    x = np.arange(5.0)
    fig = plotting.plot_seed_curves({"a": [(x, np.linspace(45, 51, 5))]}, ylabel="‖w‖", logy=True)
    ax = fig.axes[0]
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels(minor=True) + ax.get_yticklabels() if t.get_text()]
    assert ax.get_yscale() == "log" and labels  # a range under a decade still gets labelled ticks
    assert all("10^" not in s and "times" not in s for s in labels), labels
    plt.close(fig)


def test_seed_lines_per_label_draw_every_seed_in_its_columns_colour():
    x = np.arange(5.0)
    rows = {"L_D (nats)": {"λ = 0": [(x, x + 1), (x, x + 2)], "λ = 1": [(x, 2 * x), (x, 3 * x), (x, x)]},
            "gap": {"λ = 0": [(x, -x), (x, x)], "λ = 1": [(x[:3], x[:3])]}}
    fig = plotting.plot_seed_lines_per_label(rows, window_start=3.0, references={"gap": (0.0, "0: D cannot tell")},
                                             notes={"L_D (nats)": {"λ = 1": "std 0.1"}}, title="D over training")
    axes = np.array(fig.axes).reshape(2, 2)
    seed_lines = [[[ln for ln in ax.lines if ln.get_linestyle() == "-"] for ax in row] for row in axes]
    assert [[len(lines) for lines in row] for row in seed_lines] == [[2, 3], [2, 1]]  # one line per seed
    np.testing.assert_array_equal(seed_lines[0][1][1].get_ydata(), 3 * x)
    for row in seed_lines:
        for k, lines in enumerate(row):
            assert all(matplotlib.colors.same_color(ln.get_color(), f"C{k}") for ln in lines)
    assert [ax.get_title() for ax in axes[0]] == ["λ = 0", "λ = 1"]
    assert axes[0, 0].get_ylabel() == "L_D (nats)" and axes[1, 0].get_ylabel() == "gap"
    assert fig.get_supxlabel() and axes[0, 0].get_shared_y_axes().joined(axes[0, 0], axes[0, 1])
    for ax in axes.flat:  # the window is shaded from its start to the last x
        (span,) = ax.patches
        assert span.get_x() == 3.0 and span.get_x() + span.get_width() == pytest.approx(x[-1] if ax is not axes[1, 1] else 2.0)
    assert [ln.get_ydata()[0] for ax in axes[1] for ln in ax.lines if ln.get_linestyle() == ":"] == [0.0, 0.0]
    assert not any(ln.get_linestyle() == ":" for ax in axes[0] for ln in ax.lines)  # only the row it was given
    assert [t.get_text() for ax in axes.flat for t in ax.texts] == ["std 0.1"]
    (legend,) = fig.legends  # one legend for every panel, under them
    texts = [t.get_text() for t in legend.get_texts()]
    assert "0: D cannot tell" in texts and any("window" in t for t in texts) and any("seed" in t for t in texts)
    assert not any(ax.get_legend() for ax in axes.flat)
    fig.canvas.draw()
    panels_bottom = min(ax.get_window_extent().y0 for ax in axes.flat)
    assert legend.get_window_extent().y1 < panels_bottom
    assert fig.get_size_inches()[0] <= 5.0  # two labels: 2 inches each and a margin
    note_top = axes[0, 1].texts[0].get_window_extent().y0  # the note's row got room above its curves
    top_curve = axes[0, 1].transData.transform(np.column_stack([x, 3 * x]))[:, 1].max()
    assert note_top > top_curve
    plt.close(fig)


@pytest.mark.parametrize("rows, match", [({}, "rows is empty"),
                                         ({"a": {"x": [(np.arange(2), np.arange(2))]}, "b": {"y": [(np.arange(2), np.arange(2))]}},
                                          "same labels"),
                                         ({"a": {"x": []}}, "no runs"),
                                         ({"a": {"x": [(np.arange(3), np.arange(4))]}}, "same length")])
def test_seed_lines_per_label_reject_bad_input(rows, match):
    with pytest.raises(ValueError, match=match):
        plotting.plot_seed_lines_per_label(rows)
    plt.close("all")


# --- sweep maps and curves ----------------------------------------------------------------------


def test_lambda_labels_and_positions():
    assert [plotting.lambda_label(v) for v in (0.0, 1e-4, 1e-3, 0.01, 0.1, 3e-3, 2.5e-3)] == \
        ["0", "1e-4", "1e-3", "1e-2", "1e-1", "3e-3", "2.5e-3"]
    grid = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)
    assert [plotting.lambda_position(v, grid) for v in grid] == [0, 1, 2, 3, 4]
    assert plotting.lambda_position(10 ** -2.5, grid) == pytest.approx(2.5)  # log-midway between 1e-3 and 1e-2
    assert plotting.lambda_position(1e-6, grid) == 0.5  # between 0 and 1e-4: never on the 0 stop
    assert plotting.lambda_position(10.0, grid) == 4.5  # beyond the last stop: at the edge


def test_metric_maps_and_curves_of_a_sweep(lab_sweeps):
    results = lab_sweeps[0]
    ring = results["ring8"]
    assert not any(r.diverged for r in ring.records)
    # no run diverged: no divergence map (a panel of zeros), and the title says why
    assert plotting.lab_metrics(ring) == ["modes_covered", "high_quality_fraction", "reverse_kl", "d_loss_tail_std"]
    blown = dataclasses.replace(ring, records=[dataclasses.replace(ring.records[0], diverged=True),
                                               *ring.records[1:]])
    assert plotting.lab_metrics(blown)[-1] == "diverged"
    assert plotting.lab_metrics(results["digits8"])[:3] == ["classes_covered", "mean_confidence", "frechet_distance"]
    fig = plotting.plot_metric_maps(ring, marks={"article: λ = 1e-3": (0.0, 1e-3)})
    assert f"none of the {len(ring.records)} runs diverged, so no divergence map" in fig._suptitle.get_text()
    map_axes = [ax for ax in fig.axes if ax.get_xlabel()]
    assert [ax.get_title() for ax in map_axes] == ["modes covered", "high-quality samples",
                                                   "reverse KL to uniform", "oscillation"]
    assert map_axes[2].images[0].get_clim()[0] == 0.0  # a KL's colours start at its best value, 0
    assert map_axes[0].get_xlabel() == "λ_D (penalty on D)" and map_axes[0].get_ylabel() == "λ_G (penalty on G)"
    grid = ring.grid("modes_covered")
    shown = map_axes[0].images[0].get_array()
    np.testing.assert_allclose(np.ma.filled(shown, np.nan), grid)  # row i = λ_G[i], column j = λ_D[j]
    diag = plotting.plot_metric_maps(results["digits8"])  # off-diagonal cells have no run: masked
    assert np.ma.getmaskarray(diag.axes[0].images[0].get_array())[0, 1]
    curves = plotting.plot_metric_curves(ring, [(0.0, 0.0), (1e-2, 1e-2)])
    assert len(curves.axes[0].lines) == 2 and curves.axes[0].get_xlabel() == "training step"
    for f in (fig, diag, curves):
        plt.close(f)


def test_mode_map_colours_scale_to_what_a_perfect_generator_can_hit():
    from gan_l2_lib.sweep import SweepConfig, run_sweep, shipped_results_dir

    def mode_axes(result):
        fig = plotting.plot_metric_maps(result, metrics=["modes_covered"])
        return fig, fig.axes[0], fig.axes[1]  # the map, then its colour bar

    stacked = run_sweep(SweepConfig.default("stacked_mnist"), shipped_results_dir(), progress=False,
                        train_missing=False)
    fig, ax, cbar = mode_axes(stacked)
    # 500 samples of 1,000 equally likely triples hit 1000·(1 − 0.999^500) ≈ 393.6 on average
    assert ax.images[0].get_clim() == pytest.approx((0.0, 1000 * (1 - 0.999**500)))
    assert "perfect G ≈ 394 with 500 samples" in cbar.get_ylabel()
    plt.close(fig)
    ring = run_sweep(SweepConfig.default("ring8", quick=True), shipped_results_dir(), progress=False,
                     train_missing=False)
    fig, ax, cbar = mode_axes(ring)  # 8 modes, 500 samples: all 8 reachable, scale unchanged
    assert ax.images[0].get_clim() == (0.0, 8.0) and cbar.get_ylabel() == "modes hit (of 8)"
    plt.close(fig)


# --- sweep sample panels (notebook 05) ----------------------------------------------------


@pytest.fixture(scope="module")
def stacked_sweep():
    from gan_l2_lib.sweep import SweepConfig, run_sweep, shipped_results_dir

    return run_sweep(SweepConfig.default("stacked_mnist"), shipped_results_dir(), progress=False,
                     train_missing=False)


def test_sample_panels_show_one_seeds_images_per_point(stacked_sweep):
    fig = plotting.plot_sample_panels(stacked_sweep, [(0.0, 0.0, "no penalty"), (1e-2, 1e-2, "strong")],
                                      "two panels", seed=1, n_images=4, nrow=2)
    assert [ax.get_title() for ax in fig.axes] == ["no penalty", "strong"]
    assert fig.texts[0].get_text() == "two panels"
    img = fig.axes[0].images[0].get_array()
    assert img.shape[:2] == (2 * 28 + 3 * 2, 2 * 28 + 3 * 2) and img.shape[2] == 3  # 2 × 2 images, padding 2
    plt.close(fig)


def test_sample_panels_reject_bad_input(stacked_sweep):
    from gan_l2_lib.sweep import SweepConfig, run_sweep, shipped_results_dir

    with pytest.raises(ValueError, match="no points"):
        plotting.plot_sample_panels(stacked_sweep, [])
    with pytest.raises(ValueError, match="n_images must be a positive integer"):
        plotting.plot_sample_panels(stacked_sweep, [(0.0, 0.0, "a")], n_images=0)
    with pytest.raises(ValueError, match="no run with"):
        plotting.plot_sample_panels(stacked_sweep, [(0.0, 1e-2, "off the diagonal")])
    ring = run_sweep(SweepConfig.default("ring8", quick=True), shipped_results_dir(), progress=False,
                     train_missing=False)
    with pytest.raises(ValueError, match="draws image samples"):
        plotting.plot_sample_panels(ring, [(0.0, 0.0, "2-D points")])



def test_sample_grid_draws_each_cells_samples_surface_and_dead_mark_where_the_maps_put_the_cell():
    from gan_l2_lib.sweep import DEAD_SURFACE_RANGE, run_sweep, shipped_results_dir, shipped_sweeps

    ring = run_sweep(shipped_sweeps()["ring8"], shipped_results_dir(), progress=False, train_missing=False)
    lg, ld = ring.config.lambda_g, ring.config.lambda_d
    fig = plotting.plot_sample_grid(ring, seed=3, n_points=200)
    panels = np.array(fig.axes[: len(lg) * len(ld)]).reshape(len(lg), len(ld))
    dead_cells = 0
    for i, g in enumerate(lg):
        for j, d in enumerate(ld):
            rec = ring.record(g, d, 3)
            ax = panels[len(lg) - 1 - i, j]  # row 0 of the figure: the strongest λ_G
            samples, centres = ax.collections[0].get_offsets(), ax.collections[1].get_offsets()
            torch.testing.assert_close(np.asarray(samples), rec.samples[:200].astype(np.float64))
            torch.testing.assert_close(np.asarray(centres), plotting.make_mixture("ring8").centers.numpy(),
                                       check_dtype=False)
            torch.testing.assert_close(np.asarray(ax.images[0].get_array()), rec.surface)
            dead = np.ptp(rec.surface) < DEAD_SURFACE_RANGE
            dead_cells += dead
            assert [t.get_text() for t in ax.texts if t.get_gid() == "dead-d"] == (["† D dead"] if dead else [])
            assert f"{rec.curves['modes_covered'][-1]:.0f}/8" in [t.get_text() for t in ax.texts]
        assert panels[len(lg) - 1 - i, 0].get_ylabel() == f"λ_G = {plotting.lambda_label(g)}"
    assert [ax.get_xlabel() for ax in panels[-1]] == [f"λ_D = {plotting.lambda_label(d)}" for d in ld]
    assert 0 < dead_cells < len(lg) * len(ld)  # seed 3 has dead and living discriminators
    assert "seed 3" in fig._suptitle.get_text()
    assert fig.axes[-1].get_ylabel() == "D(x) = P(real)"  # the colour bar
    plt.close(fig)


def test_sample_grid_rejects_bad_input(stacked_sweep):
    from gan_l2_lib.sweep import SweepConfig, run_sweep, shipped_results_dir

    ring = run_sweep(SweepConfig.default("ring8", quick=True), shipped_results_dir(), progress=False,
                     train_missing=False)
    for seed in (1, True, "0"):
        with pytest.raises(ValueError, match=r"seed must be one of the sweep's seeds \[0\]"):
            plotting.plot_sample_grid(ring, seed=seed)
    for n in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="n_points must be a positive integer or None"):
            plotting.plot_sample_grid(ring, n_points=n)
    with pytest.raises(ValueError, match="dead_tol must be >= 0"):
        plotting.plot_sample_grid(ring, dead_tol=-1e-3)
    with pytest.raises(ValueError, match="draws 2-D samples; stacked_mnist is an image data set"):
        plotting.plot_sample_grid(stacked_sweep, seed=0)

# --- a cell's curves over training: has it levelled off? ----------------------------------------


def test_baseline_curves_draw_every_seed_the_mean_and_the_averaged_window():
    from gan_l2_lib.sweep import SweepConfig, run_sweep, shipped_results_dir

    res = run_sweep(SweepConfig.default("ring8"), shipped_results_dir(), progress=False, train_missing=False)
    fig = plotting.plot_baseline_curves(res, ("modes_covered",))
    ax = fig.axes[0]
    recs = res.records_at(0.0, 0.0)
    assert len(ax.lines) == len(recs) + 1  # one line per seed, then the mean
    mean = np.mean([r.curves["modes_covered"] for r in recs], axis=0)
    np.testing.assert_allclose(ax.lines[-1].get_ydata(), mean)
    span = ax.patches[0]  # the shaded span: the last eval_last evaluations
    steps = recs[0].eval_steps
    assert span.get_x() == steps[-res.config.eval_last] and span.get_x() + span.get_width() == steps[-1]
    plt.close(fig)
    with pytest.raises(ValueError, match="has a 'no_such_curve' curve"):
        plotting.plot_baseline_curves(res, ("no_such_curve",))


# --- maps marked with paired effects (notebook 05) ----------------------------------------


def _marks(ax, kind: str) -> int:
    """How many cells of a map carry the effect mark ``kind`` (points of its lines, or veils)."""
    if kind == "neutral":
        return sum(p.get_gid() == "effect-neutral" for p in ax.patches)
    return sum(len(line.get_xdata()) for line in ax.lines if line.get_gid() == f"effect-{kind}")


def _hand_made_effects(result, metric, verdict):
    """An EffectGrid with chosen verdicts on ``result``'s grid (the figure only draws what it gets)."""
    from gan_l2_lib.sweep import EffectGrid

    verdict = np.array(verdict, dtype=object)
    nan = np.full(verdict.shape, np.nan)
    return EffectGrid(metric=metric, baseline=(0.0, 0.0), baseline_index=(0, 0), lambda_g=result.config.lambda_g,
                      lambda_d=result.config.lambda_d, mean=nan, low=nan, high=nan, verdict=verdict,
                      n=np.full(verdict.shape, 2), effects={})


def test_a_map_with_effects_marks_exactly_the_cells_it_is_told(lab_sweeps):
    ring = lab_sweeps[0]["ring8"]  # 2 × 3 grid
    effects = _hand_made_effects(ring, "modes_covered", [["neutral", "better", "worse"],
                                                         ["neutral", "better", "neutral"]])
    fig = plotting.plot_metric_maps(ring, metrics=["modes_covered", "diverged"], effects={"modes_covered": effects})
    marked, plain = [ax for ax in fig.axes if ax.get_xlabel()]  # the maps, not their colour bars
    assert (marked.get_title(), plain.get_title()) == ("modes covered", "divergence")
    assert [_marks(marked, k) for k in ("better", "worse", "neutral", "baseline", "none")] == [2, 1, 2, 1, 0]
    better = next(line for line in marked.lines if line.get_gid() == "effect-better")
    np.testing.assert_allclose(np.round(better.get_xdata()), [1, 1])  # columns, i.e. λ_D index
    np.testing.assert_allclose(np.round(better.get_ydata()), [0, 1])  # rows, i.e. λ_G index
    assert all(_marks(plain, k) == 0 for k in ("better", "worse", "neutral", "baseline"))
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "better than λ_G = 0, λ_D = 0" in texts and "worse than λ_G = 0, λ_D = 0" in texts
    assert any(t.startswith("faded: neutral\n(95 % interval contains 0)") for t in texts)
    # a neutral cell's number is written in black on its white veil
    veiled = [t for t in marked.texts if round(t.get_position()[0]) == 2 and round(t.get_position()[1]) == 1]
    assert len(veiled) == 1 and veiled[0].get_color() == "black"


def test_the_shipped_ring8_maps_mark_every_computed_effect():
    from gan_l2_lib.sweep import effect_grid, run_sweep, shipped_results_dir, shipped_sweeps

    ring = run_sweep(shipped_sweeps()["ring8"], shipped_results_dir(), progress=False, train_missing=False)
    metrics = ["modes_covered", "reverse_kl"]
    effects = {m: effect_grid(ring, m) for m in metrics}
    fig = plotting.plot_metric_maps(ring, metrics=metrics, effects=effects)
    maps = [ax for ax in fig.axes if ax.get_xlabel()]
    for ax, m in zip(maps, metrics, strict=True):
        v, values = effects[m].verdict, ring.grid(m)
        assert _marks(ax, "better") == (v == "better").sum() and _marks(ax, "worse") == (v == "worse").sum()
        assert _marks(ax, "neutral") == (v == "neutral").sum() - 1 and _marks(ax, "baseline") == 1
        assert _marks(ax, "none") == ((v == "") & np.isfinite(values)).sum()
    assert _marks(maps[1], "none") > 0  # reverse KL: cells where fewer than 2 seeds hit a mode


def test_effects_of_another_metric_or_grid_are_rejected(lab_sweeps):
    ring = lab_sweeps[0]["ring8"]
    good = _hand_made_effects(ring, "modes_covered", [["neutral"] * 3] * 2)
    with pytest.raises(ValueError, match="effects must be the sweep.EffectGrid of 'diverged'"):
        plotting.plot_metric_maps(ring, metrics=["diverged"], effects={"diverged": good})
    with pytest.raises(ValueError, match=r"effects has shape \(2, 2\), the map \(2, 3\)"):
        plotting.plot_metric_maps(ring, metrics=["modes_covered"], effects={
            "modes_covered": _hand_made_effects(ring, "modes_covered", [["neutral"] * 2] * 2)})
    with pytest.raises(ValueError, match=r"effects given for metrics not on the maps: \['modes_covered'\]"):
        plotting.plot_metric_maps(ring, metrics=["diverged"], effects={"modes_covered": good})


# --- training replay ---------------------------------------------------------------------------


def test_save_replay_gif_writes_one_frame_per_evaluation(replay_sweeps, tmp_path):
    from PIL import Image

    for name in ("ring8", "digits8"):
        rec = replay_sweeps[name].records[-1]
        n_frames = len(rec.eval_steps)
        path = plotting.save_replay_gif(rec, tmp_path / f"{name}.gif", fps=5)
        with Image.open(path) as gif:
            assert gif.format == "GIF" and gif.n_frames == n_frames == len(rec.snapshot_samples)
            gif.seek(0)
            first = np.asarray(gif.convert("RGB"))
            gif.seek(n_frames - 1)
            last = np.asarray(gif.convert("RGB"))
            assert gif.info["duration"] == 200  # 5 frames per second
        assert np.any(first != last)
    assert plt.get_fignums() == []  # the GIF's figure is not pyplot's: nothing shows up under a cell


def test_plot_replay_frame_draws_the_snapshot_it_is_asked_for(replay_sweeps):
    rec = replay_sweeps["ring8"].record(0.0, 0.0, 0)
    fig = plotting.plot_replay_frame(rec, 1)
    ax_s, ax_d, ax_c = fig.axes[:3]
    torch.testing.assert_close(np.asarray(ax_s.collections[0].get_offsets()), rec.snapshot_samples[1],
                               check_dtype=False)
    torch.testing.assert_close(np.asarray(ax_d.images[0].get_array()), rec.snapshot_surfaces[1])
    step = int(rec.eval_steps[1])
    assert f"step {step:,} of {rec.config.steps:,}" in fig._suptitle.get_text()
    assert list(ax_c.lines[1].get_xdata()) == [step, step]  # the cursor on the mode-count curve
    for ax in (ax_s, ax_d, ax_c):
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    digits = replay_sweeps["digits8"].records[0]
    fig = plotting.plot_replay_frame(digits, -1)  # the last evaluation
    n_show, ncol = plotting.square_grid_size(digits.snapshot_samples.shape[1])
    torch.testing.assert_close(np.asarray(fig.axes[0].images[0].get_array()),
                               plotting.image_grid_array(digits.snapshot_samples[-1], n_show, ncol))


def test_replay_rejects_runs_without_snapshots_and_bad_arguments(lab_sweeps, replay_sweeps, tmp_path):
    old = lab_sweeps[0]["ring8"].records[0]  # written without snapshots
    with pytest.raises(ValueError, match="keeps only its last evaluation"):
        plotting.plot_replay_frame(old)
    with pytest.raises(ValueError, match="keeps only its last evaluation"):
        plotting.save_replay_gif(old, tmp_path / "x.gif")
    rec = replay_sweeps["ring8"].records[0]
    for frame in (4, -5, 1.0):
        with pytest.raises(ValueError, match=r"frame must be an integer in \[-4, 4\)"):
            plotting.plot_replay_frame(rec, frame)
    for fps in (0, -1.0, float("nan"), True):
        with pytest.raises(ValueError, match="fps must be a positive number"):
            plotting.save_replay_gif(rec, tmp_path / "x.gif", fps=fps)
    assert not (tmp_path / "x.gif").exists()


def test_plot_replay_strip_draws_the_fixed_noise_grid_at_each_chosen_evaluation(replay_sweeps):
    rec = replay_sweeps["digits8"].record(0.0, 0.0, 0)  # 3 evaluations of 9 images
    fig = plotting.plot_replay_strip(rec, n_images=4)  # default: spread from the first to the last
    assert len(fig.axes) == 3
    for ax, k in zip(fig.axes, range(3), strict=True):
        torch.testing.assert_close(np.asarray(ax.images[0].get_array()),
                                   plotting.image_grid_array(rec.snapshot_samples[k], 4, 2))
        covered = rec.curves["classes_covered"][k]
        assert ax.get_title() == f"step {int(rec.eval_steps[k]):,}\n{covered:.0f}/10 classes"
    assert "the same 4 fixed-noise images" in fig._suptitle.get_text()
    fig = plotting.plot_replay_strip(rec, frames=[-1, 0])  # in the order given
    torch.testing.assert_close(np.asarray(fig.axes[0].images[0].get_array()),
                               plotting.image_grid_array(rec.snapshot_samples[2], 9, 3))
    assert [ax.get_title().split("\n")[0] for ax in fig.axes] == [f"step {int(rec.eval_steps[k]):,}" for k in (2, 0)]
    assert len(plotting.plot_replay_strip(rec, n_frames=2).axes) == 2
    plt.close("all")


def test_plot_replay_strip_rejects_bad_arguments(replay_sweeps, lab_sweeps):
    rec = replay_sweeps["digits8"].records[0]
    with pytest.raises(ValueError, match="keeps only its last evaluation"):
        plotting.plot_replay_strip(lab_sweeps[0]["digits8"].records[0])
    with pytest.raises(ValueError, match="plot_replay_strip draws image runs"):
        plotting.plot_replay_strip(replay_sweeps["ring8"].records[0])
    with pytest.raises(ValueError, match=r"frame must be an integer in \[-3, 3\), got 3"):
        plotting.plot_replay_strip(rec, frames=[0, 3])
    with pytest.raises(ValueError, match="frames is empty"):
        plotting.plot_replay_strip(rec, frames=[])
    for name in ("n_frames", "n_images"):
        with pytest.raises(ValueError, match=f"{name} must be a positive integer"):
            plotting.plot_replay_strip(rec, **{name: 0})
    assert plt.get_fignums() == []  # nothing half-drawn left behind


def test_plot_nearest_neighbours_draws_a_row_per_sample(tmp_path):
    from gan_l2_lib.data import held_out_images, load_images
    from gan_l2_lib.metrics import data_copying, nearest_training_images

    train, held = load_images("mnist5k_train1k"), held_out_images("mnist5k_train1k")
    samples = torch.cat([train.images[:2], held.images[:2]])  # two copies, two new digits
    images, dist, _ = nearest_training_images(samples, train.images, k=3)
    ref = float(np.median(data_copying(held.images[:100], train.images, held.images[100:]).held_out_to_train))
    fig = plotting.plot_nearest_neighbours(samples, images, dist, reference_distance=ref)
    assert len(fig.axes) == 4 * 4
    assert fig.axes[1].get_xlabel() == "d = 0.00" and fig.axes[13].get_xlabel() != "d = 0.00"
    assert f"{ref:.2f}" in fig._suptitle.get_text()
    fig.savefig(tmp_path / "nn.png")
    with pytest.raises(ValueError, match=r"neighbours \(M, k, C, H, W\)"):
        plotting.plot_nearest_neighbours(samples, images[:3], dist)


def test_metric_along_draws_each_seeds_value_and_their_mean_per_lambda_d():
    from gan_l2_lib.plotting import plot_metric_along
    from gan_l2_lib.sweep import SweepConfig, run_sweep, shipped_results_dir

    res = run_sweep(SweepConfig.default("ring8", quick=True), shipped_results_dir(), progress=False,
                    train_missing=False)
    fig = plot_metric_along(res, ("d_loss_tail_std", "modes_covered"), lambda_g=1e-2)
    for ax, key in zip(fig.axes, ("d_loss_tail_std", "modes_covered"), strict=True):
        dots, mean = ax.lines[:-1], ax.lines[-1]
        want = [res.seed_values(key, 1e-2, d)[0] for d in res.config.lambda_d]  # one seed: the mean is it
        np.testing.assert_allclose(mean.get_ydata(), want)
        np.testing.assert_allclose([ln.get_ydata()[0] for ln in dots], want)
        assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1e-2"]
    plt.close(fig)
    with pytest.raises(ValueError, match=r"lambda_g = 0.001 is not a row of this grid; rows: \[0.0, 0.01\]"):
        plot_metric_along(res, lambda_g=1e-3)


def test_metric_curves_band_is_the_middle_half_of_ten_seeds():
    from gan_l2_lib.plotting import plot_metric_curves
    from gan_l2_lib.sweep import run_sweep, shipped_results_dir, shipped_sweeps

    res = run_sweep(shipped_sweeps()["ring8"], shipped_results_dir(), progress=False, train_missing=False)
    fig = plot_metric_curves(res, [(0.0, 0.0)], metrics=("high_quality_fraction",))
    ax = fig.axes[0]
    assert "band: middle half of the seeds" in ax.get_title()
    ys = np.array([r.curves["high_quality_fraction"] for r in res.records_at(0.0, 0.0)])
    band = ax.collections[0].get_paths()[0].vertices
    lo, hi = np.percentile(ys, [25, 75], axis=0)
    np.testing.assert_allclose([band[:, 1].min(), band[:, 1].max()], [lo.min(), hi.max()])
    plt.close(fig)


def test_metric_maps_paint_failed_cells_grey_and_mark_collapse():
    from gan_l2_lib.plotting import failed_cells, plot_metric_maps
    from gan_l2_lib.sweep import SweepConfig, run_sweep, shipped_results_dir

    res = run_sweep(SweepConfig.default("ring8", quick=True), shipped_results_dir(), progress=False,
                    train_missing=False)
    dead = np.array([[0.0, 1.0], [0.5, np.nan]])
    collapsed = np.array([[1.0, 0.0], [0.75, 0.25]])  # rows λ_G, columns λ_D
    np.testing.assert_array_equal(failed_cells(dead, collapsed), [[True, True], [False, False]])
    np.testing.assert_array_equal(failed_cells(None, collapsed), [[True, False], [False, False]])
    assert not failed_cells().any()
    fig = plot_metric_maps(res, ["modes_covered", "high_quality_fraction"], dead=dead, collapsed=collapsed)
    n = len(res.config.seeds)
    for ax in [ax for ax in fig.axes if ax.get_title()]:
        grey = sorted((round(p.get_x() + 0.5), round(p.get_y() + 0.5)) for p in ax.patches if p.get_gid() == "failed-cell")
        assert grey == [(0, 0), (1, 0)]  # (column, row): both cells of the λ_G = 0 row failed
        marks = sorted((t.get_text(), round(t.get_position()[0] - 0.45), round(t.get_position()[1] + 0.44))
                       for t in ax.texts if t.get_gid() == "collapsed-g")
        # every seed: ⊙; a majority (3 of 4): ⊙k; a minority is not marked
        assert marks == sorted([("⊙", 0, 0), (f"⊙{round(0.75 * n)}", 0, 1)])
        values = [t for t in ax.texts if t.get_gid() is None and t.get_text()[:1].isdigit()]
        on_grey = [t for t in values if round(t.get_position()[1]) == 0]
        assert on_grey and all(t.get_color() == "white" for t in on_grey)
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()] + fig.legends  # 2 maps: below them
    legend_texts = [t.get_text() for leg in legends for t in leg.get_texts()]
    assert any(t.startswith("failed in every seed") for t in legend_texts)
    assert any(t.startswith("⊙ G on ≤ 1 mode in every seed") for t in legend_texts)
    plt.close(fig)


def test_metric_maps_mark_dead_discriminators_and_wrap_into_rows():
    from gan_l2_lib.plotting import plot_metric_maps
    from gan_l2_lib.sweep import SweepConfig, run_sweep, shipped_results_dir

    res = run_sweep(SweepConfig.default("ring8", quick=True), shipped_results_dir(), progress=False,
                    train_missing=False)
    dead = np.array([[0.0, 1.0], [0.5, np.nan]])
    fig = plot_metric_maps(res, ["modes_covered", "high_quality_fraction", "reverse_kl", "d_loss_tail_std"], dead=dead)
    maps = [ax for ax in fig.axes if ax.get_title()]
    assert len(maps) == 4 and len({round(ax.get_position().y0, 3) for ax in maps}) == 2  # 3 + 1 in two rows
    for ax in maps:
        marks = sorted((t.get_text(), round(t.get_position()[0] + 0.45), round(t.get_position()[1] + 0.42))
                       for t in ax.texts if t.get_gid() == "dead-d")
        assert marks == [("(†)", 0, 1), ("†", 1, 0)]  # (x = λ_D column, y = λ_G row)
    legend_texts = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("† D dead in every seed") for t in legend_texts)
    plt.close(fig)
    with pytest.raises(ValueError, match=r"dead must have the grid's shape \(2, 2\)"):
        plot_metric_maps(res, ["modes_covered"], dead=np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"collapsed must have the grid's shape \(2, 2\)"):
        plot_metric_maps(res, ["modes_covered"], collapsed=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="ncols must be a positive integer"):
        plot_metric_maps(res, ["modes_covered"], ncols=0)
