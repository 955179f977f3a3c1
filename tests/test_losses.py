import math

import pytest
import torch
from torch.testing import assert_close

from gan_l2_lib.losses import (
    discriminator_loss,
    generator_loss,
    regularized_discriminator_loss,
    regularized_generator_loss,
)
from gan_l2_lib.models import MLPDiscriminator, MLPGenerator
from gan_l2_lib.regularizers import l2_penalty


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
