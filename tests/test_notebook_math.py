"""The mathematical claims of notebooks 01–02, checked independently of the notebooks.

Each test re-derives one claim the notebooks teach (weight decay vs. the L2 penalty, Adam vs.
AdamW, the article's torch.norm line, the halved D loss, BCELoss saturation, the penalized
optimal discriminator). The figures those notebooks draw are tested in ``test_plotting.py``.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from gan_l2_lib.losses import (
    discriminator_loss,
    generator_loss,
    regularized_discriminator_loss,
    regularized_generator_loss,
)
from gan_l2_lib.models import MLPDiscriminator, MLPGenerator
from gan_l2_lib.regularizers import l2_norm, l2_penalty

SMALL = (1, 8, 8)  # the article's architectures on 8x8 images: same structure, fast tests


# --- notebook 01: weight decay, Adam vs. AdamW, the article's torch.norm ---------------------


def test_sgd_with_penalty_is_sgd_with_weight_decay_2lambda():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(20, 4, generator=gen), torch.randn(20, generator=gen)
    eta, lam = 0.05, 0.3
    w0 = torch.randn(4, generator=gen)
    w_pen, w_wd = w0.clone().requires_grad_(True), w0.clone().requires_grad_(True)
    w_hand = w0.clone()
    opt_pen = torch.optim.SGD([w_pen], lr=eta)
    opt_wd = torch.optim.SGD([w_wd], lr=eta, weight_decay=2 * lam)
    for _ in range(4):
        opt_pen.zero_grad()
        (((x @ w_pen - y) ** 2).mean() + lam * (w_pen**2).sum()).backward()
        opt_pen.step()
        opt_wd.zero_grad()
        ((x @ w_wd - y) ** 2).mean().backward()
        opt_wd.step()
        # analytic gradient of the mean squared error: 2/N Xᵀ(Xw − y)
        grad_l = 2 * x.T @ (x @ w_hand - y) / len(y)
        w_hand = (1 - 2 * eta * lam) * w_hand - eta * grad_l
        assert_close(w_pen.detach(), w_hand)
        assert_close(w_wd.detach(), w_hand)


def _adam_paths(lam: float, lr: float, steps: int) -> dict[str, torch.Tensor]:
    a = torch.tensor([4.0, 0.25], dtype=torch.float64)
    makers = {
        "adam_l2": (lambda p: torch.optim.Adam(p, lr=lr), lam),
        "adam_wd": (lambda p: torch.optim.Adam(p, lr=lr, weight_decay=2 * lam), 0.0),
        "adamw": (lambda p: torch.optim.AdamW(p, lr=lr, weight_decay=2 * lam), 0.0),
    }
    out = {}
    for name, (make, lam_in_loss) in makers.items():
        w = torch.tensor([-1.5, 2.5], dtype=torch.float64, requires_grad=True)
        opt = make([w])
        path = [w.detach().clone()]
        for _ in range(steps):
            opt.zero_grad()
            (0.5 * (a * (w - 1) ** 2).sum() + lam_in_loss * (w**2).sum()).backward()
            opt.step()
            path.append(w.detach().clone())
        out[name] = torch.stack(path)
    out["w_star"] = a / (a + 2 * lam)
    out["a"] = a
    return out


def test_adam_weight_decay_argument_is_the_coupled_penalty():
    paths = _adam_paths(lam=0.25, lr=0.05, steps=50)
    assert_close(paths["adam_l2"], paths["adam_wd"])


def _adam_run(make, lam_in_loss: float, steps: int, noise_std: torch.Tensor | None = None) -> torch.Tensor:
    """Path (steps + 1, 2) on ½Σa(w - 1)² + λΣw² with the gradient written out (fast for long runs)."""
    a = torch.tensor([4.0, 0.25], dtype=torch.float64)
    w = torch.tensor([-1.5, 2.5], dtype=torch.float64, requires_grad=True)
    opt = make([w])
    gen = torch.Generator().manual_seed(0)
    path = [w.detach().clone()]
    for _ in range(steps):
        grad = a * (w.detach() - 1) + 2 * lam_in_loss * w.detach()
        if noise_std is not None:
            grad = grad + noise_std * torch.randn(2, generator=gen, dtype=torch.float64)
        w.grad = grad
        opt.step()
        path.append(w.detach().clone())
    return torch.stack(path)


def test_adam_with_penalty_solves_penalized_problem_and_adamw_drifts_to_the_unpenalized_one():
    paths = _adam_paths(lam=0.25, lr=0.05, steps=400)
    assert_close(paths["adam_l2"][-1], paths["w_star"], atol=1e-6, rtol=0)
    # the written-out gradient is the one autograd took
    assert_close(_adam_run(lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=0.5), 0.0, 400), paths["adamw"])
    # full-batch gradients: AdamW has no resting point but L's own minimizer (1, 1)
    adamw = _adam_run(lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=0.5), 0.0, 20_000)
    assert (adamw[-1] - 1).norm() < 2e-3 < (adamw[5000] - 1).norm()
    lam_eff = -paths["a"] * (adamw[-1] - 1) / (2 * adamw[-1])
    assert lam_eff.max() < 2e-3


def test_adamw_with_gradient_noise_rests_at_lambda_eff_wd_sigma_over_two():
    a, lam, sigma = torch.tensor([4.0, 0.25], dtype=torch.float64), 0.25, torch.tensor([2.0, 0.2], dtype=torch.float64)
    adamw = _adam_run(lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=2 * lam), 0.0, 20_000, sigma)
    adam_l2 = _adam_run(lambda p: torch.optim.Adam(p, lr=0.05), lam, 20_000, sigma)
    rest = adamw[10_000:].mean(dim=0)
    lam_eff = -a * (rest - 1) / (2 * rest)
    assert_close(lam_eff, lam * sigma, rtol=0.15, atol=0)  # wd·σ/2 with wd = 2λ
    assert_close(adam_l2[10_000:].mean(dim=0), a / (a + 2 * lam), atol=0.01, rtol=0)


def test_article_torch_norm_of_a_list_does_not_run():
    d = MLPDiscriminator(SMALL)
    with pytest.raises((AttributeError, TypeError), match="list"):
        torch.norm(list(d.parameters()), p=2)


def test_unsquared_norm_has_gradient_of_unit_length():
    d = MLPDiscriminator(SMALL).double()
    params = list(d.parameters())
    grads = torch.autograd.grad(l2_norm(d), params)
    norm = l2_norm(d).detach()
    for p, g in zip(params, grads, strict=True):
        assert_close(g, p.detach() / norm)
    assert_close(torch.sqrt(sum((g**2).sum() for g in grads)), torch.tensor(1.0, dtype=torch.float64))
    # the squared penalty's gradient is 2‖w‖ long instead: a different regularizer
    sq_grads = torch.autograd.grad(l2_penalty(d), params)
    assert_close(torch.sqrt(sum((g**2).sum() for g in sq_grads)), 2 * norm)


def test_generator_hidden_linears_are_scale_invariant_but_output_layer_is_not():
    torch.manual_seed(0)
    g = MLPGenerator(latent_dim=16, img_shape=SMALL).double().train()
    z = torch.randn(32, 16, dtype=torch.float64)
    linears = [m for m in g.model if isinstance(m, nn.Linear)]
    with torch.no_grad():
        before = g(z)
        for m in linears[:-1]:
            m.weight.mul_(3.0)
            m.bias.mul_(3.0)
        after_hidden = g(z)
        linears[-1].weight.mul_(3.0)
        after_output = g(z)
    assert_close(after_hidden, before, atol=1e-3, rtol=0)  # BatchNorm's ε makes it not exact
    assert (after_output - before).abs().max() > 0.1


# --- notebook 02: the regularized GAN losses ------------------------------------------------


def test_generator_loss_derivatives_minimax_and_nonsaturating():
    d = torch.tensor([1e-4, 0.01, 0.3, 0.9], dtype=torch.float64)
    logits = torch.log(d / (1 - d)).requires_grad_(True)
    (g_mm,) = torch.autograd.grad(generator_loss(logits, "minimax") * len(d), logits)
    (g_ns,) = torch.autograd.grad(generator_loss(logits, "nonsaturating") * len(d), logits)
    assert_close(g_mm, -d)
    assert_close(g_ns, -(1 - d))


def test_penalties_reach_only_their_own_network():
    torch.manual_seed(0)
    g, d = MLPGenerator(latent_dim=8, img_shape=SMALL), MLPDiscriminator(SMALL)
    z, real = torch.randn(8, 8), torch.rand(8, *SMALL) * 2 - 1
    fake = g(z)
    out_d = regularized_discriminator_loss(d(real), d(fake), d, 0.5)
    out_g = regularized_generator_loss(d(g(z)), g, 0.5)
    assert all(x is None for x in torch.autograd.grad(out_d.penalty, list(g.parameters()),
                                                      retain_graph=True, allow_unused=True))
    assert all(x is None for x in torch.autograd.grad(out_g.penalty, list(d.parameters()),
                                                      retain_graph=True, allow_unused=True))
    tot = torch.autograd.grad(out_d.total, list(d.parameters()), retain_graph=True)
    adv = torch.autograd.grad(out_d.adversarial, list(d.parameters()), retain_graph=True)
    for t, a, p in zip(tot, adv, d.parameters(), strict=True):
        assert_close(t, a + 2 * 0.5 * p)


def test_halved_d_loss_is_doubled_lambda_for_gradients_and_adam():
    torch.manual_seed(0)
    d = MLPDiscriminator(SMALL)
    real, fake = torch.rand(8, *SMALL) * 2 - 1, torch.rand(8, *SMALL) * 2 - 1
    half = regularized_discriminator_loss(d(real), d(fake), d, 1e-2, halve=True).total
    full = regularized_discriminator_loss(d(real), d(fake), d, 2e-2).total
    g_half = torch.autograd.grad(half, list(d.parameters()))
    g_full = torch.autograd.grad(full, list(d.parameters()))
    for a, b in zip(g_half, g_full, strict=True):
        assert_close(2 * a, b)

    def adam_end(lam, halve):
        torch.manual_seed(1)
        net = MLPDiscriminator(SMALL)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.5, 0.999), eps=1e-30)
        for _ in range(3):
            opt.zero_grad()
            regularized_discriminator_loss(net(real), net(fake), net, lam, halve=halve).total.backward()
            opt.step()
        return torch.cat([p.detach().flatten() for p in net.parameters()])

    # scaling by 2 is exact in binary floating point, so with ε negligible the runs are bit-identical
    assert torch.equal(adam_end(1e-2, True), adam_end(2e-2, False))
    assert not torch.equal(adam_end(1e-2, True), adam_end(1e-2, False))


@pytest.mark.parametrize("logit,ok", [(16.0, True), (17.0, False), (30.0, False)])
def test_sigmoid_bceloss_saturates_on_fakes_where_logits_version_does_not(logit, ok):
    lg = torch.tensor([logit], requires_grad=True)
    loss = nn.BCELoss()(torch.sigmoid(lg), torch.zeros(1))
    (grad,) = torch.autograd.grad(loss, lg)
    assert (grad.item() > 0.99) == ok
    assert (loss.item() == 100.0) == (not ok)  # PyTorch clamps log at -100
    lg2 = torch.tensor([logit], requires_grad=True)
    loss2 = F.binary_cross_entropy_with_logits(lg2, torch.zeros(1))
    (grad2,) = torch.autograd.grad(loss2, lg2)
    assert_close(loss2, F.softplus(torch.tensor(logit)))
    assert_close(grad2, torch.sigmoid(torch.tensor([logit])))


def test_sigmoid_bceloss_loses_nonsaturating_generator_gradient_below_minus_28():
    def bce_grad(v):
        lg = torch.tensor([v], requires_grad=True)
        (g,) = torch.autograd.grad(nn.BCELoss()(torch.sigmoid(lg), torch.ones(1)), lg)
        return g.item()

    assert bce_grad(-25.0) == pytest.approx(-1.0, rel=1e-3)  # exact value: -(1 - σ) ≈ -1
    assert abs(bce_grad(-35.0)) < 0.01
    assert discriminator_loss(torch.tensor([-35.0]), torch.tensor([35.0])).item() == pytest.approx(70.0)


def _fit_logistic_d(lam: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """Penalized logistic D on φ(x) = (1, x, x²) for N(1, 0.5²) vs N(-1, 1); returns (w, D, D*, JSD)."""
    x = torch.linspace(-6, 4.5, 801, dtype=torch.float64)
    dx = x[1] - x[0]
    p_d = torch.exp(-0.5 * ((x - 1) / 0.5) ** 2) / (0.5 * math.sqrt(2 * math.pi))
    p_g = torch.exp(-0.5 * (x + 1) ** 2) / math.sqrt(2 * math.pi)
    phi = torch.stack([torch.ones_like(x), x, x**2], 1)
    w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=300, tolerance_grad=1e-12, tolerance_change=1e-14,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        logit = phi @ w
        loss = ((p_d * F.softplus(-logit)).sum() + (p_g * F.softplus(logit)).sum()) * dx
        (loss + lam * (w**2).sum()).backward()
        return loss

    opt.step(closure)
    m = p_d + p_g
    jsd = 0.5 * ((p_d * torch.log(2 * p_d / m)).sum() + (p_g * torch.log(2 * p_g / m)).sum()) * dx
    support = m > 1e-3
    return w.detach(), torch.sigmoid(phi @ w.detach())[support], (p_d / m)[support], float(jsd)


def test_unpenalized_logistic_d_recovers_optimal_d():
    _, d, d_star, _ = _fit_logistic_d(0.0)
    assert_close(d, d_star, atol=1e-4, rtol=0)


@pytest.mark.parametrize("lam", [1e-2, 1e-1, 1.0])
def test_penalized_d_lies_in_the_ball_sqrt_2jsd_over_lambda(lam):
    w, d, d_star, jsd = _fit_logistic_d(lam)
    assert w.norm() <= math.sqrt(2 * jsd / lam)
    assert (d - d_star).abs().max() > 0.05  # and it is no longer D*
