import dataclasses
from fractions import Fraction

import pytest
import torch
from torch.testing import assert_close

from gan_l2_lib.data import Mixture, load_images, make_mixture
from gan_l2_lib.train import (
    SCALAR_KEYS,
    TrainConfig,
    load_checkpoint,
    log_row,
    make_optimizer,
    run_generators,
    save_checkpoint,
    train_gan,
)


def _tiny(**kw) -> TrainConfig:
    base = dict(steps=30, batch_size=32, log_every=5, eval_every=10, n_eval_samples=50, toy_hidden=32)
    base.update(kw)
    return TrainConfig.preset("ring8", **base)


def test_presets_and_quick():
    art = TrainConfig()
    assert (art.batch_size, art.latent_dim, art.lr_g, art.lr_d, art.betas) == (64, 100, 2e-4, 2e-4, (0.5, 0.999))
    assert TrainConfig.quick("mnist5k").steps < TrainConfig.preset("mnist5k").steps
    assert TrainConfig.quick("ring8").latent_dim == 8
    cfg = TrainConfig.quick("ring8", lambda_d=1e-3)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.config_hash() != cfg.replace(seed=1).config_hash()


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (dict(lambda_d=-1e-4), r"lambda_d must be >= 0, got -0\.0001"),
        (dict(lambda_g=float("nan")), "lambda_g must be a finite number >= 0, got nan"),
        (dict(weight_decay_d=-0.1), r"weight_decay_d must be >= 0, got -0\.1"),
        (dict(lr_g=0.0), r"lr_g must be a finite number > 0, got 0\.0"),
        (dict(dataset="cifar"), "unknown data set 'cifar'; valid names are: ring8, grid25"),
        (dict(penalize="biases"), r"penalize must be one of \('all', 'weights'\), got 'biases'"),
        (dict(gen_loss="hinge"), r"gen_loss must be one of \('nonsaturating', 'minimax'\), got 'hinge'"),
        (dict(steps=0), "steps must be a positive integer, got 0"),
        (dict(betas=(0.5, 1.5)), r"betas must be two numbers in \[0, 1\), got \(0\.5, 1\.5\)"),
        (dict(seed=-1), "seed must be an integer >= 0, got -1"),
    ],
)
def test_bad_config_raises(bad, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**bad)


def test_run_is_bit_reproducible_on_cpu_and_seed_matters():
    a = train_gan(_tiny(lambda_d=1e-3), progress=False)
    b = train_gan(_tiny(lambda_d=1e-3), progress=False)
    c = train_gan(_tiny(lambda_d=1e-3, seed=1), progress=False)
    assert a.history.scalars == b.history.scalars
    for p, q in zip(a.generator.parameters(), b.generator.parameters(), strict=True):
        assert torch.equal(p, q)
    assert not torch.equal(a.history.samples[-1], c.history.samples[-1])


def test_history_contents():
    res = train_gan(_tiny(lambda_d=1e-2, lambda_g=0.0), progress=False)
    h = res.history
    assert h.steps == [1, 5, 10, 15, 20, 25, 30]
    assert set(h.scalars) == set(SCALAR_KEYS)
    assert all(len(v) == len(h.steps) for v in h.scalars.values())
    assert h.sample_steps == [10, 20, 30] and h.samples[0].shape == (50, 2)
    assert (h.array("d_penalty") > 0).all() and (h.array("g_penalty") == 0).all()
    assert ((h.array("d_real") > 0) & (h.array("d_real") < 1)).all()
    assert not h.diverged and h.diverged_step is None
    with pytest.raises(ValueError, match="unknown key"):
        h.array("fid")


def test_training_on_images_one_step_per_model():
    data = load_images("digits8")
    cfg = TrainConfig.quick("digits8", steps=2, log_every=1, eval_every=1, n_eval_samples=4, lambda_d=1e-4)
    res = train_gan(cfg, data=data, progress=False)
    assert res.history.samples[-1].shape == (4, 1, 8, 8)
    assert res.history.steps == [1, 2]


def _poisoned_ring(after_calls: int) -> Mixture:
    ring = make_mixture("ring8")
    calls = [0]

    @dataclasses.dataclass(frozen=True)
    class Poisoned(Mixture):
        def sample(self, n, generator=None):
            calls[0] += 1
            x = Mixture.sample(self, n, generator)
            return x * float("nan") if calls[0] > after_calls else x

        def to(self, device):
            return self

    return Poisoned(ring.name, ring.centers, ring.std)


def test_nan_is_recorded_as_divergence_not_raised():
    res = train_gan(_tiny(), data=_poisoned_ring(after_calls=12), progress=False)
    h = res.history
    assert h.diverged and h.diverged_step == 13
    assert h.steps[-1] <= 12  # rows logged before the NaN are kept
    # a sweep over several runs carries on past a diverged one
    results = [train_gan(_tiny(), data=d, progress=False) for d in (_poisoned_ring(0), make_mixture("ring8"))]
    assert [r.history.diverged for r in results] == [True, False]
    assert results[0].history.diverged_step == 1


def test_checkpoint_round_trip_weights_only(tmp_path):
    res = train_gan(_tiny(lambda_g=1e-3, weight_decay_d=1e-2), progress=False)
    path = tmp_path / "run.pt"
    save_checkpoint(res, path)
    back = load_checkpoint(path)
    assert back.config == res.config
    assert back.history.scalars == res.history.scalars
    for p, q in zip(res.discriminator.parameters(), back.discriminator.parameters(), strict=True):
        assert torch.equal(p, q)
    assert_close(back.opt_d.state_dict()["state"][0]["exp_avg"], res.opt_d.state_dict()["state"][0]["exp_avg"])
    assert isinstance(back.opt_d, torch.optim.AdamW) and type(back.opt_g) is torch.optim.Adam


def test_checkpoint_loading_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.pt"
    # a checkpoint that smuggles an arbitrary object (here a Fraction) must not be unpickled
    torch.save({"history": Fraction(1, 3)}, path)
    with pytest.raises(Exception, match="[Ww]eights only load failed|Unsupported global"):
        load_checkpoint(path)


def test_weight_decay_groups_follow_penalize():
    gen = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    opt = make_optimizer(gen, 1e-3, (0.5, 0.999), 0.1, "weights")
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]
    assert len(opt.param_groups[0]["params"]) == 1
    assert type(make_optimizer(gen, 1e-3, (0.5, 0.999), 0.0, "all")) is torch.optim.Adam


def test_data_must_match_config():
    with pytest.raises(ValueError, match="does not match"):
        train_gan(_tiny(), data=load_images("digits8"), progress=False)


def test_log_row_is_keyed_by_scalar_keys_for_one_run_and_for_members():
    for shape in ((), (3,)):
        values = {k: torch.full(shape, float(i)) for i, k in enumerate(SCALAR_KEYS[:8])}
        row = log_row(**values, real_logits=torch.zeros(*shape, 7), fake_logits=torch.full((*shape, 7), -1e9))
        assert tuple(row) == SCALAR_KEYS and all(v.shape == shape for v in row.values())
        assert_close(row["grad_norm_g"], torch.full(shape, 5.0))
        assert_close(row["d_real"], torch.full(shape, 0.5))
        assert_close(row["d_fake"], torch.zeros(shape))


def test_run_generators_are_seeded_apart():
    draws = [torch.rand(4, generator=g) for seed in (0, 1) for g in run_generators(seed)]
    assert len({tuple(d.tolist()) for d in draws}) == 6
    a, b = run_generators(2)[0], run_generators(2)[0]
    assert torch.equal(torch.rand(4, generator=a), torch.rand(4, generator=b))
