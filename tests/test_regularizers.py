import math

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from gan_l2_lib.models import MLPDiscriminator, MLPGenerator
from gan_l2_lib.regularizers import (
    is_penalized,
    l2_norm,
    l2_penalty,
    penalty_coverage,
    select_parameters,
    validate_coef,
)


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


def test_value_matches_hand_sum():
    net = _net()
    hand = 0.0
    for p in net.parameters():
        for v in p.detach().flatten().tolist():
            hand += v * v
    assert_close(l2_penalty(net), torch.tensor(hand), rtol=1e-6, atol=1e-6)


def test_accepts_module_list_and_single_tensor():
    net = _net()
    params = list(net.parameters())
    assert_close(l2_penalty(net), l2_penalty(params))
    assert_close(l2_penalty(params[0]), params[0].pow(2).sum())


def test_weights_only_keeps_dim2_tensors():
    net = _net()
    chosen = select_parameters(net, "weights")
    assert [tuple(p.shape) for p in chosen] == [(4, 3), (2, 4)]
    expected = net[0].weight.pow(2).sum() + net[3].weight.pow(2).sum()
    assert_close(l2_penalty(net, penalize="weights"), expected)


def test_gradient_is_two_p():
    net = _net()
    l2_penalty(net).backward()
    for p in net.parameters():
        assert_close(p.grad, 2 * p.detach())


def test_unsquared_norm_gradient_is_unit_direction():
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    n = l2_norm([w])
    assert_close(n, torch.tensor(5.0))
    n.backward()
    assert_close(w.grad, torch.tensor([0.6, 0.8]))


def test_torch_norm_of_list_does_not_run():
    # The source article's code: torch.norm(list(params)) raises instead of regularizing.
    net = _net()
    with pytest.raises((TypeError, AttributeError)):
        torch.norm(list(net.parameters()), p=2)


def test_empty_selection_is_zero():
    assert_close(l2_penalty([torch.ones(3)], penalize="weights"), torch.tensor(0.0))


def _loss_fn(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((x @ w - y) ** 2).mean()


def test_sgd_with_penalty_equals_sgd_weight_decay_2lambda():
    torch.manual_seed(0)
    x, y = torch.randn(16, 5), torch.randn(16)
    lam, lr = 0.05, 0.1
    w1 = torch.randn(5, requires_grad=True)
    w2 = w1.detach().clone().requires_grad_(True)
    opt1 = torch.optim.SGD([w1], lr=lr)
    opt2 = torch.optim.SGD([w2], lr=lr, weight_decay=2 * lam)
    for _ in range(20):
        opt1.zero_grad()
        (_loss_fn(w1, x, y) + lam * l2_penalty([w1])).backward()
        opt1.step()
        opt2.zero_grad()
        _loss_fn(w2, x, y).backward()
        opt2.step()
        assert_close(w1, w2, rtol=1e-6, atol=1e-7)


def test_sgd_update_formula():
    # w <- (1 - 2ηλ) w - η ∇L, written out by hand
    torch.manual_seed(1)
    x, y = torch.randn(8, 3), torch.randn(8)
    lam, lr = 0.1, 0.05
    w = torch.randn(3, requires_grad=True)
    w_before = w.detach().clone()
    grad_l = torch.autograd.grad(_loss_fn(w, x, y), w)[0]
    opt = torch.optim.SGD([w], lr=lr)
    (_loss_fn(w, x, y) + lam * l2_penalty([w])).backward()
    opt.step()
    assert_close(w.detach(), (1 - 2 * lr * lam) * w_before - lr * grad_l)


def test_adam_with_penalty_differs_from_adamw():
    torch.manual_seed(0)
    x, y = torch.randn(32, 5), torch.randn(32)
    lam, lr = 0.05, 0.01
    w0 = torch.randn(5)
    w_l2 = w0.clone().requires_grad_(True)
    w_dec = w0.clone().requires_grad_(True)
    opt_l2 = torch.optim.Adam([w_l2], lr=lr)
    # AdamW shrinks by lr * weight_decay per step; 2λ matches the gradient 2λw of λΣw²
    opt_dec = torch.optim.AdamW([w_dec], lr=lr, weight_decay=2 * lam)
    for _ in range(200):
        opt_l2.zero_grad()
        (_loss_fn(w_l2, x, y) + lam * l2_penalty([w_l2])).backward()
        opt_l2.step()
        opt_dec.zero_grad()
        _loss_fn(w_dec, x, y).backward()
        opt_dec.step()
    gap = (w_l2 - w_dec).norm().item()
    # Both shrink the weights, but Adam rescales the penalty's gradient per coordinate:
    # after 200 steps the end points differ by 0.039 in norm (weights ≈ 0.30 vs 0.28).
    assert gap > 1e-2, gap
    with pytest.raises(AssertionError):
        assert_close(w_l2, w_dec, rtol=1e-3, atol=1e-3)


def test_coverage_counts_for_article_networks():
    g_all = penalty_coverage(MLPGenerator(), "all")
    g_w = penalty_coverage(MLPGenerator(), "weights")
    d_w = penalty_coverage(MLPDiscriminator(), "weights")
    assert g_all.n_elements == 1_489_936
    # weights only: 100·256 + 256·512 + 512·1024 + 1024·784
    assert g_w.n_elements == 100 * 256 + 256 * 512 + 512 * 1024 + 1024 * 784
    assert g_w.n_tensors == 4 and g_all.n_tensors == 14
    assert d_w.n_elements == 784 * 512 + 512 * 256 + 256
    assert "penalizes" in str(g_w)


@pytest.mark.parametrize("bad", [-1e-4, float("nan"), float("inf"), "0.1", None, True])
def test_validate_coef_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="lambda_d"):
        validate_coef(bad, "lambda_d")


def test_validate_coef_accepts_zero_and_tensor():
    assert validate_coef(0) == 0.0
    assert math.isclose(validate_coef(torch.tensor(1e-4)), 1e-4, rel_tol=1e-6)


def test_bad_penalize_and_elements():
    with pytest.raises(ValueError, match="penalize must be one of"):
        l2_penalty(_net(), penalize="biases")
    with pytest.raises(ValueError, match="expected tensors"):
        l2_penalty([1.0, 2.0])


def test_unsquared_norm_gradient_at_zero_is_finite():
    w = torch.zeros(3, requires_grad=True)
    l2_norm([w]).backward()
    assert torch.isfinite(w.grad).all()


def test_weights_rule_is_one_rule_for_single_and_stacked_tensors():
    w, b, gamma = torch.zeros(4, 3), torch.zeros(4), torch.ones(4)
    assert [is_penalized(t, "weights") for t in (w, b, gamma)] == [True, False, False]
    # stacked: K members' copies, shape (K, ...); the leading member dimension does not count
    assert [is_penalized(t.expand(5, *t.shape), "weights", stacked=True) for t in (w, b)] == [True, False]
    assert is_penalized(b, "all") and is_penalized(b.expand(5, 4), "all", stacked=True)
    assert select_parameters([w.expand(5, 4, 3), b.expand(5, 4)], "weights", stacked=True)[0].shape == (5, 4, 3)
    with pytest.raises(ValueError, match="penalize must be one of"):
        is_penalized(w, "biases")
