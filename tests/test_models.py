import pytest
import torch
from torch.testing import assert_close

from gan_l2_lib.losses import regularized_discriminator_loss, regularized_generator_loss
from gan_l2_lib.models import (
    MLPDiscriminator,
    MLPGenerator,
    ToyDiscriminator,
    ToyGenerator,
    count_parameters,
)


def test_article_parameter_counts():
    assert count_parameters(MLPGenerator()) == 1_489_936
    assert count_parameters(MLPDiscriminator()) == 533_505


def test_article_layer_order_linear_leaky_then_batchnorm():
    kinds = [type(m).__name__ for m in MLPGenerator().model]
    assert kinds[:3] == ["Linear", "LeakyReLU", "BatchNorm1d"]
    assert kinds[-1] == "Tanh"
    assert type(MLPDiscriminator().model[-1]).__name__ == "Linear"  # a logit, no Sigmoid


def test_shapes_follow_image_shape():
    gen = MLPGenerator(latent_dim=10, img_shape=(3, 8, 8))
    disc = MLPDiscriminator(img_shape=(3, 8, 8))
    imgs = gen(torch.randn(5, 10))
    assert imgs.shape == (5, 3, 8, 8)
    # a known output: last Linear zeroed, biases atanh(v) → every image is v laid out as (C, H, W)
    v = torch.linspace(-0.9, 0.9, 3 * 8 * 8)
    with torch.no_grad():
        gen.model[-2].weight.zero_()
        gen.model[-2].bias.copy_(torch.atanh(v))
    assert_close(gen(torch.randn(5, 10)), v.reshape(1, 3, 8, 8).expand(5, 3, 8, 8))
    assert disc(imgs).shape == (5,)
    assert disc(imgs.reshape(5, -1)).shape == (5,)


def test_toy_shapes():
    gen, disc = ToyGenerator(latent_dim=4), ToyDiscriminator()
    pts = gen(torch.randn(7, 4))
    assert pts.shape == (7, 2)
    assert disc(pts).shape == (7,)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match=r"z must have shape \(N, 100\)"):
        MLPGenerator()(torch.randn(3, 5))
    with pytest.raises(ValueError, match="784 values"):
        MLPDiscriminator()(torch.randn(3, 100))
    with pytest.raises(ValueError, match="img_shape"):
        MLPGenerator(img_shape=(28, 28))
    with pytest.raises(ValueError, match="latent_dim"):
        ToyGenerator(latent_dim=0)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 2\)"):
        ToyDiscriminator()(torch.randn(3, 3))


@pytest.mark.parametrize("pair", ["article", "toy"])
def test_one_training_step_updates_every_parameter(pair):
    torch.manual_seed(0)
    if pair == "article":
        gen, disc, real, latent = MLPGenerator(), MLPDiscriminator(), torch.rand(8, 1, 28, 28) * 2 - 1, 100
    else:
        gen, disc, real, latent = ToyGenerator(), ToyDiscriminator(), torch.randn(8, 2), 8
    opt_g = torch.optim.Adam(gen.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.5, 0.999))
    before_g = [p.detach().clone() for p in gen.parameters()]
    before_d = [p.detach().clone() for p in disc.parameters()]
    fake = gen(torch.randn(8, latent))
    d_out = regularized_discriminator_loss(disc(real), disc(fake.detach()), disc, 1e-4)
    opt_d.zero_grad()
    d_out.total.backward()
    opt_d.step()
    g_out = regularized_generator_loss(disc(gen(torch.randn(8, latent))), gen, 1e-4)
    opt_g.zero_grad()
    g_out.total.backward()
    opt_g.step()
    assert torch.isfinite(d_out.total) and torch.isfinite(g_out.total)
    # Adam's first step moves every parameter with a nonzero gradient by about lr
    for b, p in zip(before_d + before_g, list(disc.parameters()) + list(gen.parameters()), strict=True):
        assert not torch.equal(b, p.detach())
    with pytest.raises(AssertionError, match="Tensor-likes are not close"):
        assert_close(before_g[0], next(gen.parameters()).detach(), rtol=0, atol=1e-5)
