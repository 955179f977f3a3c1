"""Dirac-GAN: the field against autograd, the closed-form spectrum, fixed points, dynamics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gan_l2_lib import dirac
from gan_l2_lib.dirac import DiracGAN
from gan_l2_lib.losses import GEN_LOSS_CHOICES, discriminator_loss, generator_loss

LOSSES = GEN_LOSS_CHOICES
PENALTIES = [(0.0, 0.0), (0.15, 0.0), (0.0, 0.15), (0.1, 0.3), (0.7, 0.05), (0.0, 0.8), (1.0, 1.0)]
RNG_POINTS = np.random.default_rng(0).uniform(-2.5, 2.5, size=(6, 2))


# ----- the field and its Jacobian ---------------------------------------------------------


@pytest.mark.parametrize("gen_loss", LOSSES)
@pytest.mark.parametrize("lambda_g, lambda_d", PENALTIES)
def test_closed_form_eigenvalues_match_autograd_jacobian(gen_loss, lambda_g, lambda_d):
    game = DiracGAN(lambda_g, lambda_d, c=0.0, gen_loss=gen_loss)
    jac = dirac.autograd_jacobian(game, 0.0, 0.0)  # float64, autograd through losses.py
    expected = np.array([[-2 * lambda_g, 0.5], [-0.5, -2 * lambda_d]])
    np.testing.assert_allclose(jac, expected, atol=1e-12)
    numeric = np.sort_complex(np.linalg.eigvals(jac))
    closed = np.sort_complex(dirac.closed_form_eigenvalues(lambda_g, lambda_d))
    np.testing.assert_allclose(numeric, closed, atol=1e-6)


def test_no_penalty_eigenvalues_are_pure_imaginary():
    np.testing.assert_allclose(dirac.closed_form_eigenvalues(0, 0), [0.5j, -0.5j], atol=0)


@pytest.mark.parametrize("lambda_g", [0.0, 0.2])
def test_critical_damping_separates_complex_from_real(lambda_g):
    crit = dirac.critical_lambda_d(lambda_g)
    assert crit == pytest.approx(lambda_g + 0.5)
    below = dirac.closed_form_eigenvalues(lambda_g, crit - 1e-3)
    above = dirac.closed_form_eigenvalues(lambda_g, crit + 1e-3)
    assert np.all(np.abs(below.imag) > 0)
    assert np.all(below.real == pytest.approx(-(lambda_g + crit - 1e-3)))
    assert np.all(above.imag == 0) and above[0].real != above[1].real


@pytest.mark.parametrize("gen_loss", LOSSES)
@pytest.mark.parametrize("c", [0.0, 1.0, -0.7])
def test_vector_field_and_jacobian_match_autograd(gen_loss, c):
    game = DiracGAN(0.13, 0.21, c=c, gen_loss=gen_loss)
    for theta, psi in RNG_POINTS:
        v = np.array(game.vector_field(theta, psi))
        t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
        p = torch.tensor(psi, dtype=torch.float64, requires_grad=True)
        v_auto = dirac.autograd_vector_field(game, t, p).detach().numpy()
        np.testing.assert_allclose(v, v_auto, atol=1e-12)
        np.testing.assert_allclose(game.jacobian(theta, psi), dirac.autograd_jacobian(game, theta, psi),
                                   atol=1e-12)


@pytest.mark.parametrize("gen_loss", LOSSES)
def test_losses_match_project_loss_functions(gen_loss):
    game = DiracGAN(0.3, 0.2, c=0.8, gen_loss=gen_loss)
    theta, psi = 0.7, -1.3
    loss_d, loss_g = game.losses(theta, psi)
    real = torch.tensor([psi * game.c], dtype=torch.float64)
    fake = torch.tensor([psi * theta], dtype=torch.float64)
    ref_d = float(discriminator_loss(real, fake)) + 0.2 * psi**2
    ref_g = float(generator_loss(fake, gen_loss=gen_loss)) + 0.3 * theta**2
    assert float(loss_d) == pytest.approx(ref_d, abs=1e-12)
    assert float(loss_g) == pytest.approx(ref_g, abs=1e-12)


def test_vector_field_broadcasts_on_a_grid():
    grid = DiracGAN(0.1, 0.1).field_grid((-1, 2), (-3, 1), n=7)
    assert grid.theta.shape == grid.v_psi.shape == (7, 7)
    vt, vp = DiracGAN(0.1, 0.1).vector_field(grid.theta[3, 4], grid.psi[3, 4])
    assert (grid.v_theta[3, 4], grid.v_psi[3, 4]) == pytest.approx((vt, vp))


# ----- fixed points -------------------------------------------------------------------------


def test_fixed_point_without_generator_penalty_is_the_data_point():
    assert DiracGAN(0.0, 0.4, c=1.3).fixed_point() == (1.3, 0.0)
    assert DiracGAN(0.5, 0.4, c=0.0).fixed_point() == (0.0, 0.0)


@pytest.mark.parametrize("gen_loss", LOSSES)
@pytest.mark.parametrize("lambda_g, lambda_d, c", [(0.15, 0.0, 1.0), (0.15, 0.15, 1.0),
                                                   (0.2, 0.05, -0.7), (0.01, 0.3, 1.5)])
def test_biased_fixed_point_zeroes_the_field_and_is_the_simulation_endpoint(gen_loss, lambda_g, lambda_d, c):
    game = DiracGAN(lambda_g, lambda_d, c=c, gen_loss=gen_loss)
    fp = game.fixed_point()
    np.testing.assert_allclose(game.vector_field(*fp), [0, 0], atol=1e-12)
    assert abs(fp[0]) < abs(c) and np.sign(fp[0]) == np.sign(c)  # pulled toward 0, same side
    for mode in dirac.UPDATE_MODES:
        traj = game.simulate(1.0, 1.0, h=0.2, steps=3000, mode=mode)
        np.testing.assert_allclose(traj.final, fp, atol=1e-9)
        assert traj.distance()[-1] < 1e-9


@pytest.mark.parametrize("gen_loss", LOSSES)
def test_fixed_point_first_order_formula(gen_loss):
    c, lambda_d = 1.0, 0.15
    for lambda_g in (1e-3, 1e-2):
        theta, psi = DiracGAN(lambda_g, lambda_d, c=c, gen_loss=gen_loss).fixed_point()
        assert theta == pytest.approx(c * (1 - 4 * lambda_g * (c**2 + 4 * lambda_d)), abs=100 * lambda_g**2)
        assert psi == pytest.approx(4 * lambda_g * c, abs=100 * lambda_g**2)


# ----- discrete dynamics ----------------------------------------------------------------------


def test_minimax_without_penalty_spirals_out_or_cycles():
    game = DiracGAN(gen_loss="minimax")
    sim = game.simulate(1.0, 1.0, h=0.2, steps=500, mode="simultaneous").distance()
    alt = game.simulate(1.0, 1.0, h=0.2, steps=500, mode="alternating").distance()
    assert sim[-1] > 2 * sim[0]
    assert 0.9 * alt[0] < alt.min() and alt.max() < 1.1 * alt[0]


def test_nonsaturating_without_penalty_never_reaches_equilibrium():
    game = DiracGAN(gen_loss="nonsaturating")
    assert game.simulate(0.05, 0.05, h=0.2, steps=500).distance()[-1] > 5 * math.hypot(0.05, 0.05)
    assert game.simulate(1.0, 1.0, h=0.2, steps=500).distance()[-1] > 0.5
    assert game.simulate(1.0, 1.0, h=0.2, steps=500, mode="alternating").distance()[-1] > 0.2


@pytest.mark.parametrize("gen_loss", LOSSES)
@pytest.mark.parametrize("mode", dirac.UPDATE_MODES)
@pytest.mark.parametrize("lambda_g, lambda_d", [(0.0, 0.15), (0.15, 0.0)])
def test_penalty_converges_within_500_steps(gen_loss, mode, lambda_g, lambda_d):
    traj = DiracGAN(lambda_g, lambda_d, gen_loss=gen_loss).simulate(1.0, 1.0, h=0.2, steps=500, mode=mode)
    assert traj.steps == 500 and traj.theta.shape == traj.psi.shape == (501,)
    assert traj.distance()[-1] < 1e-3


@pytest.mark.parametrize("mode", dirac.UPDATE_MODES)
@pytest.mark.parametrize("c", [0.0, 1.0])
def test_update_matrix_is_the_jacobian_of_one_simulated_step(mode, c):
    game, h, eps = DiracGAN(0.15, 0.1, c=c), 0.3, 1e-6
    fp = np.array(game.fixed_point())
    numeric = np.empty((2, 2))
    for j in range(2):
        step = np.zeros(2)
        step[j] = eps
        plus = game.simulate(*(fp + step), h=h, steps=1, mode=mode).final
        minus = game.simulate(*(fp - step), h=h, steps=1, mode=mode).final
        numeric[:, j] = (np.array(plus) - np.array(minus)) / (2 * eps)
    np.testing.assert_allclose(dirac.update_matrix(game.jacobian(*fp), h, mode), numeric, atol=1e-8)


def test_spectral_radius_without_penalty():
    jac = DiracGAN().jacobian(0, 0)
    for h in (0.1, 0.5, 1.0):
        assert dirac.spectral_radius(jac, h, "simultaneous") == pytest.approx(math.sqrt(1 + h**2 / 4))
        assert dirac.spectral_radius(jac, h, "alternating") == pytest.approx(1.0)


def test_max_stable_step():
    mus = dirac.closed_form_eigenvalues(0.0, 0.15)
    h_max = dirac.max_stable_step(mus)
    assert h_max == pytest.approx(2 * 0.15 / 0.25)  # -2 Re μ / |μ|², |μ|² = det J = 1/4
    jac = DiracGAN(0.0, 0.15).jacobian()
    assert dirac.spectral_radius(jac, 0.99 * h_max) < 1 < dirac.spectral_radius(jac, 1.01 * h_max)
    assert dirac.max_stable_step(dirac.closed_form_eigenvalues(0, 0)) == 0.0


@pytest.mark.parametrize("gen_loss", LOSSES)
@pytest.mark.parametrize("mode", dirac.UPDATE_MODES)
def test_one_simulated_step_follows_the_vector_field(gen_loss, mode):
    """simulate's inlined loop is vector_field's formulas: one step, both orders, c and both λ nonzero."""
    game, h = DiracGAN(0.2, 0.3, c=0.7, gen_loss=gen_loss), 0.4
    for theta, psi in RNG_POINTS:
        vt, vp = game.vector_field(theta, psi)
        if mode == "simultaneous":
            expected = (theta + h * vt, psi + h * vp)
        else:
            psi_new = psi + h * vp
            expected = (theta + h * game.vector_field(theta, psi_new)[0], psi_new)
        np.testing.assert_allclose(game.simulate(theta, psi, h=h, steps=1, mode=mode).final, expected,
                                   rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("lambda_d", [1e-1, 1e-2, 1e-3, 1e-4])
def test_efold_steps_is_one_over_h_lambda_for_alternating_steps(lambda_d):
    h, game = 0.2, DiracGAN(lambda_d=lambda_d)
    n_e = dirac.efold_steps(game, h, "alternating")
    assert n_e == pytest.approx(-2 / math.log(1 - 2 * h * lambda_d), rel=1e-9)  # ρ² = det M = 1 - 2hλ_D
    assert n_e == pytest.approx(1 / (h * lambda_d), rel=0.025)
    expected_sim = -2 / math.log(1 - 2 * h * lambda_d + h**2 / 4) if h < 8 * lambda_d else math.inf
    assert dirac.efold_steps(game, h, "simultaneous") == pytest.approx(expected_sim, rel=1e-9)


def test_efold_steps_matches_a_simulated_run_near_the_equilibrium():
    """In the linear regime the simulated distance falls by e every -1/ln ρ steps (log-linear fit)."""
    h, game = 0.2, DiracGAN(lambda_d=1e-2)
    n_e = dirac.efold_steps(game, h, "alternating")
    dist = game.simulate(1e-3, 1e-3, h=h, steps=3000, mode="alternating").distance()
    slope = np.polyfit(np.arange(len(dist)), np.log(dist), 1)[0]
    assert -1 / slope == pytest.approx(n_e, rel=0.01)


def test_efold_steps_is_inf_without_convergence_and_checks_h():
    assert dirac.efold_steps(DiracGAN(), 0.2, "alternating") == math.inf  # ρ = 1: circles
    assert dirac.efold_steps(DiracGAN(lambda_d=1e-4), 0.2, "simultaneous") == math.inf  # h > 8λ_D
    assert dirac.efold_steps(DiracGAN(0.15, 0.0, c=1.0), 0.2, "alternating") < math.inf  # at the biased fixed point
    with pytest.raises(ValueError, match="h \\(step size\\) must be > 0"):
        dirac.efold_steps(DiracGAN(lambda_d=0.1), 0.0)


@pytest.mark.parametrize("h", [0.05, 0.2, 1.0, 3.0])
def test_steps_per_rotation_without_penalty(h):
    """No penalty: alternating steps turn by arccos(tr M / 2) = arccos(1 - h²/8) (det M = 1);
    simultaneous steps multiply by 1 ± ih/2, a turn of arctan(h/2)."""
    game = DiracGAN()
    assert dirac.steps_per_rotation(game, h, "alternating") == pytest.approx(
        2 * math.pi / math.acos(1 - h**2 / 8), rel=1e-12)
    assert dirac.steps_per_rotation(game, h, "simultaneous") == pytest.approx(
        2 * math.pi / math.atan(h / 2), rel=1e-12)


def test_steps_per_rotation_matches_a_simulated_run():
    """The angle of (θ, ψ) around the equilibrium advances by one turn every steps_per_rotation steps."""
    h, game = 0.2, DiracGAN(lambda_d=1e-2)
    traj = game.simulate(1e-3, 1e-3, h=h, steps=2000, mode="alternating")
    turns = np.unwrap(np.arctan2(traj.psi, traj.theta)) / (2 * math.pi)
    slope = np.polyfit(np.arange(len(turns)), turns, 1)[0]
    assert 1 / abs(slope) == pytest.approx(dirac.steps_per_rotation(game, h, "alternating"), rel=1e-3)


@pytest.mark.parametrize("h", [2e-4, 0.02, 0.2])
def test_turns_per_efold_are_about_one_over_4_pi_lambda_whatever_the_step(h):
    """e-fold time in turns = |Im μ| / (2π |Re μ|) of the field's eigenvalues ≈ 1/(4πλ_D), not a number of steps."""
    lambda_d = 1e-4
    game = DiracGAN(lambda_d=lambda_d)
    mu = dirac.closed_form_eigenvalues(0.0, lambda_d)[0]
    turns = dirac.efold_steps(game, h, "alternating") / dirac.steps_per_rotation(game, h, "alternating")
    assert turns == pytest.approx(abs(mu.imag) / (2 * math.pi * abs(mu.real)), rel=1e-3)
    assert turns == pytest.approx(1 / (4 * math.pi * lambda_d), rel=1e-3)


def test_steps_per_rotation_is_inf_for_real_eigenvalues_and_checks_h():
    # λ_D = 3: over-damped; a small alternating step has two real positive eigenvalues
    assert dirac.steps_per_rotation(DiracGAN(lambda_d=3.0), 0.01, "alternating") == math.inf
    with pytest.raises(ValueError, match="h \\(step size\\) must be > 0"):
        dirac.steps_per_rotation(DiracGAN(), -0.1)


def test_overflow_stops_the_run():
    traj = DiracGAN().simulate(1e300, 1e300, h=1e10, steps=10)  # θ + hψ > float max
    assert traj.diverged and traj.steps < 10 and np.isfinite(traj.theta).all()


# ----- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, match", [
    ({"lambda_g": -0.1}, "lambda_g must be >= 0"),
    ({"lambda_d": -1e-9}, "lambda_d must be >= 0"),
    ({"lambda_g": float("nan")}, "lambda_g must be a finite number"),
    ({"lambda_d": float("inf")}, "lambda_d must be a finite number"),
    ({"c": float("nan")}, "c \\(data point\\) must be a finite real number"),
    ({"c": "1"}, "c \\(data point\\) must be a finite real number"),
    ({"gen_loss": "wasserstein"}, "gen_loss must be one of"),
])
def test_bad_game_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DiracGAN(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    ({"h": 0.0}, "h \\(step size\\) must be > 0"),
    ({"h": -0.2}, "h \\(step size\\) must be > 0"),
    ({"h": float("nan")}, "h \\(step size\\) must be a finite real number"),
    ({"theta0": float("nan")}, "theta0 must be a finite real number"),
    ({"psi0": float("inf")}, "psi0 must be a finite real number"),
    ({"steps": 0}, "steps must be a positive integer"),
    ({"steps": True}, "steps must be a positive integer"),
    ({"mode": "async"}, "mode must be one of"),
])
def test_bad_simulation_input_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DiracGAN(0.1, 0.1).simulate(**kwargs)


def test_bad_helper_input_raises():
    with pytest.raises(ValueError, match="lambda_d must be >= 0"):
        dirac.closed_form_eigenvalues(0.0, -1.0)
    with pytest.raises(ValueError, match="h \\(step size\\) must be > 0"):
        dirac.update_matrix(np.eye(2), 0.0)
    with pytest.raises(ValueError, match="finite 2x2"):
        dirac.update_matrix(np.full((2, 2), np.nan), 0.1)
    with pytest.raises(ValueError, match="theta must be a finite"):
        DiracGAN().jacobian(float("nan"), 0.0)
    with pytest.raises(ValueError, match="n must be an integer >= 2"):
        DiracGAN().field_grid(n=1)
