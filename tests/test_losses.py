import copy
import math

import pytest
import torch
from torch.nn.utils import parameters_to_vector, vector_to_parameters
from torch.testing import assert_close

from gan_l2_lib.dirac import DiracGAN
from gan_l2_lib.losses import (
    discriminator_loss,
    generator_loss,
    regularized_discriminator_loss,
    regularized_discriminator_loss_along,
    regularized_generator_loss,
)
from gan_l2_lib.models import MLPDiscriminator, MLPGenerator, ToyDiscriminator
from gan_l2_lib.regularizers import l2_penalty, r1_penalty


def test_discriminator_loss_matches_formula():
    real = torch.tensor([0.3, -1.2, 2.0])
    fake = torch.tensor([-0.5, 0.7])
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    expected = -torch.log(d_real).mean() - torch.log(1 - d_fake).mean()
    assert_close(discriminator_loss(real, fake), expected)
    assert_close(discriminator_loss(real, fake, halve=True), expected / 2)


def test_generator_losses_match_formulas():
    fake = torch.tensor([-0.5, 0.7, 3.0])
    d = torch.sigmoid(fake)
    assert_close(generator_loss(fake), -torch.log(d).mean())
    assert_close(generator_loss(fake, gen_loss="minimax"), torch.log(1 - d).mean())


def test_accepts_column_logits():
    real = torch.randn(5, 1)
    fake = torch.randn(4, 1)
    assert_close(discriminator_loss(real, fake), discriminator_loss(real.squeeze(1), fake.squeeze(1)))


def test_logits_stay_finite_where_sigmoid_bce_saturates():
    fake = torch.tensor([40.0])  # D is sure a fake is real: sigmoid rounds to exactly 1 in float32
    loss = discriminator_loss(torch.tensor([0.0]), fake)
    assert torch.isfinite(loss)
    assert_close(loss, torch.tensor(math.log(2) + 40.0), rtol=1e-5, atol=1e-5)
    # The sigmoid + log route loses it: log(1 - 1) = -inf
    assert torch.isinf(torch.log(1 - torch.sigmoid(fake))).all()


def test_regularized_losses_add_lambda_times_sum_of_squares():
    torch.manual_seed(0)
    gen, disc = MLPGenerator(), MLPDiscriminator()
    z = torch.randn(4, 100)
    real = torch.rand(4, 1, 28, 28) * 2 - 1
    fake = gen(z)
    out = regularized_discriminator_loss(disc(real), disc(fake.detach()), disc, 1e-4)
    assert_close(out.penalty, 1e-4 * l2_penalty(disc))
    assert_close(out.total, out.adversarial + out.penalty)
    g_out = regularized_generator_loss(disc(fake), gen, 1e-3, penalize="weights")
    assert_close(g_out.penalty, 1e-3 * l2_penalty(gen, "weights"))


def test_d_penalty_never_reaches_generator():
    torch.manual_seed(0)
    gen, disc = MLPGenerator(), MLPDiscriminator()
    z = torch.randn(4, 100)
    fake = gen(z)
    pen = regularized_discriminator_loss(disc(fake), disc(fake), disc, 1.0).penalty
    grads = torch.autograd.grad(pen, list(gen.parameters()), allow_unused=True)
    assert all(g is None for g in grads)


def test_halving_doubles_relative_weight_of_penalty():
    torch.manual_seed(0)
    disc = MLPDiscriminator()
    real, fake = torch.randn(8), torch.randn(8)
    full = regularized_discriminator_loss(real, fake, disc, 1e-4)
    half = regularized_discriminator_loss(real, fake, disc, 1e-4, halve=True)
    assert_close(half.penalty / half.adversarial, 2 * full.penalty / full.adversarial)


@pytest.mark.parametrize("lam", [-1.0, float("nan")])
def test_bad_lambda_raises(lam):
    disc, gen = MLPDiscriminator(), MLPGenerator()
    with pytest.raises(ValueError, match="lambda_d"):
        regularized_discriminator_loss(torch.zeros(2), torch.zeros(2), disc, lam)
    with pytest.raises(ValueError, match="lambda_g"):
        regularized_generator_loss(torch.zeros(2), gen, lam)


def test_bad_shapes_and_kind_raise():
    with pytest.raises(ValueError, match="shape"):
        discriminator_loss(torch.zeros(2, 2), torch.zeros(2))
    with pytest.raises(ValueError, match="shape"):
        generator_loss(torch.zeros(0))
    with pytest.raises(ValueError, match="floating-point"):
        generator_loss(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="gen_loss must be one of"):
        generator_loss(torch.zeros(3), gen_loss="wasserstein")


# ----- the penalized D loss along lines in parameter space (notebook 03, deep D) ----------


def _toy_batches():
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(64, 2, generator=gen, dtype=torch.float64) + torch.tensor([2.0, 0.0], dtype=torch.float64)
    fake = 0.3 * torch.randn(64, 2, generator=gen, dtype=torch.float64)
    return real, fake, gen


def test_loss_along_lines_matches_the_module_loss():
    real, fake, gen = _toy_batches()
    disc = ToyDiscriminator(hidden=8, n_hidden=2).double()
    n = sum(p.numel() for p in disc.parameters())
    directions = torch.randn(3, n, generator=gen, dtype=torch.float64)
    center = torch.randn(n, generator=gen, dtype=torch.float64)
    scales = torch.tensor([-0.5, 0.0, 0.3], dtype=torch.float64)
    for penalize in ("all", "weights"):
        got = regularized_discriminator_loss_along(disc, real, fake, 0.07, directions, scales, penalize, center)
        for k in range(3):
            for s in range(3):
                ref = copy.deepcopy(disc)
                vector_to_parameters(center + scales[s] * directions[k], ref.parameters())
                expected = regularized_discriminator_loss(ref(real), ref(fake), ref, 0.07, penalize).total
                assert_close(got[k, s], expected.detach())


def _one_path_direction(n_hidden: int) -> tuple[ToyDiscriminator, torch.Tensor]:
    """A unit direction along which D's logit is t^(n_hidden+1) · relu(x₀) (one path of weights)."""
    disc = ToyDiscriminator(hidden=4, n_hidden=n_hidden).double()
    with torch.no_grad():
        for p in disc.parameters():
            p.zero_()
        linears = [m for m in disc.modules() if isinstance(m, torch.nn.Linear)]
        for m in linears:
            m.weight[0, 0] = 1.0
    d = parameters_to_vector(disc.parameters()).detach()
    return disc, d / d.norm()


@pytest.mark.parametrize("lam", [1e-3, 1e-1])
def test_zero_weights_are_a_strict_local_minimum_with_three_weight_layers(lam):
    # real at x₀ = 1, fake at x₀ = -1: along the one-path direction the logit on real data is
    # (t/√3)³ and 0 on fakes, so L_adv = 2 log 2 - t³/(2·3√3) + O(t⁶) and the penalty is λt².
    real = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    fake = torch.tensor([[-1.0, 0.0]], dtype=torch.float64)
    disc, d = _one_path_direction(n_hidden=2)
    zero = 2 * math.log(2)
    small = lam * torch.arange(-10, 11, dtype=torch.float64) / 10  # inside the basin t < 6√3 λ; [10] = 0
    f = regularized_discriminator_loss_along(disc, real, fake, lam, d[None], small)[0]
    assert_close(f[10], torch.tensor(zero, dtype=torch.float64))
    assert (f[small != 0] > zero).all()
    # ... but only a local one: far out along the same line the loss falls below 2 log 2
    far = torch.linspace(0.5, 20, 40, dtype=torch.float64)
    assert regularized_discriminator_loss_along(disc, real, fake, lam, d[None], far).min() < zero
    # and random directions (biases included, all penalized) rise at small t as well
    disc = ToyDiscriminator(hidden=16, n_hidden=2).double()
    n = sum(p.numel() for p in disc.parameters())
    dirs = torch.randn(10, n, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    dirs = dirs / dirs.norm(dim=1, keepdim=True)
    t = torch.tensor([-lam, -lam / 10, lam / 10, lam], dtype=torch.float64)
    assert (regularized_discriminator_loss_along(disc, real, fake, lam, dirs, t) > zero).all()


def test_two_weight_layers_are_not_a_minimum_below_a_threshold():
    # logit (t/√2)² on real, 0 on fakes: L_adv = 2 log 2 - t²/4 + O(t⁴), penalty λt²:
    # w = 0 is a minimum along this line only for λ > 1/4.
    real = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    fake = torch.tensor([[-1.0, 0.0]], dtype=torch.float64)
    disc, d = _one_path_direction(n_hidden=1)
    t = torch.tensor([1e-3, 1e-2], dtype=torch.float64)
    zero = 2 * math.log(2)
    below = regularized_discriminator_loss_along(disc, real, fake, 0.2, d[None], t)[0]
    above = regularized_discriminator_loss_along(disc, real, fake, 0.3, d[None], t)[0]
    assert (below < zero).all() and (above > zero).all()
    assert_close((below - zero) / t**2, torch.full_like(t, 0.2 - 0.25), rtol=1e-3, atol=0)


def test_loss_along_lines_bad_input_raises():
    real, fake, _ = _toy_batches()
    disc = ToyDiscriminator(hidden=4, n_hidden=1).double()
    n = sum(p.numel() for p in disc.parameters())
    ok_dirs, ok_t = torch.zeros(1, n, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    with pytest.raises(ValueError, match="directions must have shape"):
        regularized_discriminator_loss_along(disc, real, fake, 0.1, torch.zeros(1, n + 1), ok_t)
    with pytest.raises(ValueError, match="scales must have shape"):
        regularized_discriminator_loss_along(disc, real, fake, 0.1, ok_dirs, torch.zeros(2, 2))
    with pytest.raises(ValueError, match="center must have shape"):
        regularized_discriminator_loss_along(disc, real, fake, 0.1, ok_dirs, ok_t, center=torch.zeros(3))
    with pytest.raises(ValueError, match="lambda_d"):
        regularized_discriminator_loss_along(disc, real, fake, -1.0, ok_dirs, ok_t)


# --- R1 on the Dirac GAN: the linear D(x) = ψx has ∇ₓ D = ψ, so (γ/2)‖∇ₓ D‖² = (γ/2) ψ² --------


@pytest.mark.parametrize(("theta", "psi", "c", "lam"), [(0.7, -1.3, 0.0, 1e-2), (-0.4, 0.9, 1.5, 0.3), (2.0, 0.2, -1.0, 1.0)])
def test_r1_with_gamma_two_lambda_is_l2_on_psi_for_the_dirac_d(theta, psi, c, lam):
    d = torch.nn.Linear(1, 1, bias=False).double()  # D(x) = ψx, its only weight is ψ
    with torch.no_grad():
        d.weight.fill_(psi)
    real = torch.full((3, 1), c, dtype=torch.float64, requires_grad=True)
    fake = torch.full((3, 1), theta, dtype=torch.float64)

    def d_loss(**reg) -> tuple[torch.Tensor, torch.Tensor]:
        out = regularized_discriminator_loss(d(real).squeeze(1), d(fake).squeeze(1), d, real=real, **reg)
        (grad_psi,) = torch.autograd.grad(out.total, [d.weight])
        return out.total, grad_psi.squeeze()

    l2_total, l2_grad = d_loss(lambda_d=lam)
    r1_total, r1_grad = d_loss(lambda_d=0.0, r1_gamma=2 * lam)
    assert_close(r1_total, l2_total, rtol=1e-10, atol=1e-10)
    assert_close(r1_grad, l2_grad, rtol=1e-10, atol=1e-10)
    # and both are the Dirac GAN's closed-form field: v_ψ = -∂L_D/∂ψ
    _, v_psi = DiracGAN(lambda_d=lam, c=c).vector_field(theta, psi)
    assert_close(-r1_grad, torch.tensor(float(v_psi), dtype=torch.float64), rtol=1e-10, atol=1e-10)


def test_r1_term_is_the_penalty_of_the_regularized_d_loss():
    torch.manual_seed(0)
    disc = MLPDiscriminator(img_shape=(1, 4, 4))
    real = (torch.rand(5, 1, 4, 4) * 2 - 1).requires_grad_(True)
    fake = torch.rand(5, 1, 4, 4)
    out = regularized_discriminator_loss(disc(real), disc(fake), disc, 0.0, r1_gamma=3.0, real=real)
    assert_close(out.penalty, r1_penalty(disc(real), real, 3.0))
    assert_close(out.total, out.adversarial + out.penalty)
    assert out.penalty > 0
    plain = regularized_discriminator_loss(disc(real), disc(fake), disc, 0.0, r1_gamma=0.0)
    assert plain.penalty == 0


def test_r1_needs_the_real_batch_and_a_valid_gamma():
    disc = MLPDiscriminator(img_shape=(1, 2, 2))
    with pytest.raises(ValueError, match="r1_gamma > 0 needs real"):
        regularized_discriminator_loss(torch.zeros(2), torch.zeros(2), disc, 0.0, r1_gamma=1.0)
    with pytest.raises(ValueError, match=r"r1_gamma must be >= 0, got -0\.5"):
        regularized_discriminator_loss(torch.zeros(2), torch.zeros(2), disc, 0.0, r1_gamma=-0.5)
