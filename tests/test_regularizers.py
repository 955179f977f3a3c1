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
    power_iteration,
    r1_penalty,
    select_parameters,
    spectral_norm_prefixes,
    spectral_normalize,
    spectral_normalized,
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
    with pytest.raises((TypeError, AttributeError), match="list"):  # torch 2: 'list' object has no attribute
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
    with pytest.raises(AssertionError, match="Tensor-likes are not close"):
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


# --- R1: (γ/2)·E‖∇ₓ D(x)‖² on real data -------------------------------------------------------


def _smooth_d(seed: int = 0) -> nn.Module:
    """A small float64 D with a smooth activation, so finite differences of ∇ₓ D are clean."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1)).double()


def _central_diff(f, x: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    """∂f/∂x by central differences, f: tensor → scalar tensor; same shape as x."""
    out = torch.zeros_like(x)
    flat, grad = x.view(-1), out.view(-1)
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + h
        up = f(x).item()
        flat[i] = old - h
        down = f(x).item()
        flat[i] = old
        grad[i] = (up - down) / (2 * h)
    return out


def test_r1_value_matches_finite_differences_of_d():
    d, gamma = _smooth_d(), 0.7
    real = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x = real.clone().requires_grad_(True)
    value = r1_penalty(d(x).squeeze(1), x, gamma)
    with torch.no_grad():
        # ∇ₓ D(x_i) sample by sample, by finite differences of the logit (no autograd)
        grads = torch.stack([_central_diff(lambda xi: d(xi.unsqueeze(0)).sum(), real[i].clone()) for i in range(4)])
    assert_close(value, gamma / 2 * grads.pow(2).sum(1).mean(), rtol=1e-8, atol=1e-10)


def test_r1_gradient_in_d_parameters_matches_finite_differences():
    # the double backward: ∂R1/∂w by autograd against central differences of R1's value
    d, gamma = _smooth_d(2), 1.3
    real = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))

    def r1_of_d() -> torch.Tensor:
        x = real.clone().requires_grad_(True)
        return r1_penalty(d(x).squeeze(1), x, gamma)

    # the last bias shifts every logit alike, so it does not reach ∇ₓ D: no gradient, and FD says 0
    params = list(d.parameters())
    autograd_grads = [torch.zeros_like(p) if g is None else g
                      for p, g in zip(params, torch.autograd.grad(r1_of_d(), params, allow_unused=True), strict=True)]
    for p, g in zip(params, autograd_grads, strict=True):
        # R1's value needs autograd (∇ₓ D), so grad stays on; p.data is nudged in place
        fd = _central_diff(lambda _p: r1_of_d().detach(), p.data)
        assert_close(g, fd, rtol=1e-6, atol=1e-9)
    assert any(g.abs().max() > 1e-3 for g in autograd_grads)  # not a test of zeros


def test_r1_of_stacked_members_is_each_members_own():
    ds, gammas = [_smooth_d(s) for s in (4, 5)], torch.tensor([0.5, 2.0], dtype=torch.float64)
    real = torch.randn(2, 6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    x = real.clone().requires_grad_(True)
    logits = torch.stack([d(x[k]).squeeze(1) for k, d in enumerate(ds)])
    together = r1_penalty(logits, x, gammas)
    for k, d in enumerate(ds):
        xk = real[k].clone().requires_grad_(True)
        assert_close(together[k], r1_penalty(d(xk).squeeze(1), xk, float(gammas[k])), rtol=1e-12, atol=1e-14)


def test_r1_bad_input():
    d = _smooth_d()
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    with pytest.raises(ValueError, match="r1_gamma must be >= 0, got -1.0"):
        r1_penalty(d(x).squeeze(1), x, -1.0)
    with pytest.raises(ValueError, match="real must be a tensor with requires_grad=True"):
        r1_penalty(d(x.detach()).squeeze(1), x.detach(), 1.0)
    with pytest.raises(ValueError, match=r"real_logits must have shape \(N,\) or \(K, N\)"):
        r1_penalty(d(x), x, 1.0)  # (N, 1) logits


# --- spectral normalization -----------------------------------------------------------------


def _sn_layer(seed: int = 0, shape: tuple[int, int] = (5, 7)) -> nn.Linear:
    torch.manual_seed(seed)
    layer = nn.Linear(shape[1], shape[0]).double()
    with torch.no_grad():
        layer.weight.mul_(4.0)  # top singular value well away from 1
    return spectral_normalize(layer)


def test_spectral_normed_layer_has_top_singular_value_one():
    layer = _sn_layer()
    raw = layer.parametrizations.weight.original
    assert torch.linalg.matrix_norm(raw.detach(), ord=2) > 2.0
    for _ in range(100):  # one power iteration per access in training mode
        weight = layer.weight
    assert_close(torch.linalg.matrix_norm(weight.detach(), ord=2), torch.tensor(1.0, dtype=torch.float64),
                 rtol=1e-10, atol=0.0)


@pytest.mark.parametrize("n_iterations", [1, 3])
def test_functional_spectral_norm_equals_torchs_parametrization(n_iterations):
    layers = [_sn_layer(s) for s in (0, 1)]
    sn = [layer.parametrizations.weight[0] for layer in layers]
    raw = [layer.parametrizations.weight.original for layer in layers]
    start = [(m._u.clone(), m._v.clone()) for m in sn]
    torch_weights = []
    for layer in layers:
        for _ in range(n_iterations):  # every access of .weight in training mode is one power iteration
            weight = layer.weight
        torch_weights.append(weight)
    # the same computation as plain functions, vmapped over the two layers as over batched members
    u0, v0 = torch.stack([s[0] for s in start]), torch.stack([s[1] for s in start])
    w = torch.stack(raw).detach().requires_grad_(True)
    u, v = torch.func.vmap(lambda w_, u_, v_: power_iteration(w_, u_, v_, n_iterations))(w, u0, v0)
    normed = torch.func.vmap(spectral_normalized)(w, u, v)
    probe = torch.randn(5, 7, dtype=torch.float64)
    for k, (torch_weight, m) in enumerate(zip(torch_weights, sn, strict=True)):
        assert_close(u[k], m._u, rtol=1e-12, atol=1e-14)
        assert_close(v[k], m._v, rtol=1e-12, atol=1e-14)
        assert_close(normed[k], torch_weight, rtol=1e-12, atol=1e-14)
        # and the same gradient through σ̂ = uᵀ W v (u, v held constant)
        (g_torch,) = torch.autograd.grad((torch_weight * probe).sum(), [raw[k]])
        (g_func,) = torch.autograd.grad((normed[k] * probe).sum(), [w], retain_graph=True)
        assert_close(g_func[k], g_torch, rtol=1e-10, atol=1e-12)
    assert not torch.equal(u0, u)  # the iterations moved u


def test_spectral_norm_eval_mode_runs_no_power_iteration():
    layer = _sn_layer()
    u = layer.parametrizations.weight[0]._u.clone()
    layer.eval()
    _ = layer.weight
    assert torch.equal(u, layer.parametrizations.weight[0]._u)


def test_spectral_normalize_covers_every_linear_layer_and_rejects_bad_input():
    net = spectral_normalize(MLPDiscriminator())
    names = [n for n, _ in net.named_parameters()]
    assert spectral_norm_prefixes(names) == ["model.0", "model.2", "model.4"]
    assert spectral_norm_prefixes([n for n, _ in MLPDiscriminator().named_parameters()]) == []
    with pytest.raises(ValueError, match="needs nn.Linear layers; ReLU has none"):
        spectral_normalize(nn.ReLU())
    with pytest.raises(ValueError, match="n_power_iterations must be a positive integer, got 0"):
        spectral_normalize(nn.Linear(2, 2), n_power_iterations=0)
