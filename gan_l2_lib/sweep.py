"""Sweeps over λ_G × λ_D × seeds: batched training, a resumable per-run cache, a CLI.

Independent runs are trained as *members* of one batched model (``torch.func``:
``stack_module_state`` + ``functional_call`` + ``vmap``). The optimized loss is the **sum** of
the members' losses, so member k's gradient, and therefore its Adam state, is exactly that of
its own run; ``tests/test_sweep.py`` checks a member against the same run trained alone.

Each finished run is written to its own ``.npz`` file (``allow_pickle=False``) holding the
schema version and a hash of its config; files are written to a temporary name and renamed,
so an interrupted sweep never leaves a corrupt file and a restart skips finished runs.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import io
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.func import functional_call, stack_module_state, vmap
from tqdm.auto import tqdm

from .data import (
    MIXTURE_NAMES,
    ImageDataset,
    Mixture,
    dataset_facts,
    default_cache_dir,
    load_dataset,
)
from .evaluate import LEGACY_KEYS, METRICS, decision_surface, evaluate_run, surface_extent
from .losses import discriminator_loss, generator_loss
from .regularizers import validate_coef
from .train import SCALAR_KEYS, History, TrainConfig, build_models

#: What a run's cache key hashes besides its config: bump it when training changes results.
RUN_KEY_VERSION = 1
#: The run-file format written now; schema 1 files (classes covered stored as "modes_covered"
#: on digit sets) still load, renamed on the way in.
SCHEMA_VERSION = 2
READABLE_SCHEMAS = (1, 2)
DEFAULT_LAMBDAS = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)
SWEPT_FIELDS = ("lambda_g", "lambda_d", "seed")


def shipped_results_dir() -> Path:
    """The folder of sweep results that ship with the package (full-mode default sweeps)."""
    return Path(__file__).resolve().parent / "results"


def default_sweep_cache_dir() -> Path:
    """Where a user's own sweeps are cached: ``~/.cache/gan_l2/sweeps``."""
    return default_cache_dir() / "sweeps"


def _lambda_tuple(values: Sequence[float], name: str) -> tuple[float, ...]:
    if isinstance(values, (int, float)):
        values = (values,)
    vals = tuple(validate_coef(v, name) for v in values)
    if not vals:
        raise ValueError(f"{name} needs at least one value")
    if len(set(vals)) != len(vals):
        raise ValueError(f"{name} has repeated values: {vals}")
    return vals


@dataclass(frozen=True)
class SweepConfig:
    """A grid of runs: every (λ_G, λ_D, seed) combination on top of a base ``TrainConfig``.

    Attributes:
        base: the shared training config; its ``lambda_g``, ``lambda_d`` and ``seed`` are
            replaced member by member.
        lambda_g, lambda_d: the λ values (0 allowed; log-spaced by convention).
        seeds: the seeds.
        eval_last: metrics are summarized over this many final evaluations.
        n_stored_samples: generated samples kept per run in the cache (last evaluation).
        diagonal: pair ``lambda_g[i]`` with ``lambda_d[i]`` (a 1-D sweep along λ_G = λ_D, say)
            instead of taking every combination.
    """

    base: TrainConfig
    lambda_g: tuple[float, ...] = DEFAULT_LAMBDAS
    lambda_d: tuple[float, ...] = DEFAULT_LAMBDAS
    seeds: tuple[int, ...] = (0, 1, 2)
    eval_last: int = 3
    n_stored_samples: int = 500
    diagonal: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.base, TrainConfig):
            raise ValueError(f"base must be a TrainConfig, got {type(self.base).__name__}")
        if self.base.weight_decay_g or self.base.weight_decay_d:
            raise ValueError("sweeps batch L2 penalties only; set weight_decay_g = weight_decay_d = 0")
        object.__setattr__(self, "lambda_g", _lambda_tuple(self.lambda_g, "lambda_g"))
        object.__setattr__(self, "lambda_d", _lambda_tuple(self.lambda_d, "lambda_d"))
        seeds = tuple(self.seeds)
        if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
            raise ValueError(f"seeds must be integers >= 0 (at least one), got {self.seeds!r}")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds has repeated values: {seeds}")
        object.__setattr__(self, "seeds", seeds)
        if self.diagonal and len(self.lambda_g) != len(self.lambda_d):
            raise ValueError(f"a diagonal sweep pairs lambda_g with lambda_d: they need the same length, "
                             f"got {len(self.lambda_g)} and {len(self.lambda_d)}")
        for name in ("eval_last", "n_stored_samples"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")

    @classmethod
    def default(cls, dataset: str = "ring8", quick: bool = False) -> SweepConfig:
        """The default sweep for a data set (what ships with the package in full mode).

        2-D mixtures: λ_G × λ_D ∈ {0, 1e-4, 1e-3, 1e-2, 1e-1}² × 3 seeds, batch 100.
        Image sets (the source article's networks, so far costlier): a 1-D sweep along
        λ_G = λ_D ∈ {0, 1e-4, 1e-3, 1e-2} × 3 seeds. ``quick=True`` shrinks everything to CI size.
        """
        if dataset in MIXTURE_NAMES:
            base = TrainConfig.preset(dataset, batch_size=100, steps=10_000, log_every=100,
                                      eval_every=1000, n_eval_samples=1000)
            if quick:
                return cls(base.replace(steps=300, log_every=20, eval_every=100, n_eval_samples=500),
                           lambda_g=(0.0, 1e-2), lambda_d=(0.0, 1e-2), seeds=(0,), n_stored_samples=200)
            return cls(base)
        base = TrainConfig.preset(dataset, steps=5000, log_every=50, eval_every=500, n_eval_samples=500)
        if quick:
            return cls(base.replace(steps=100, log_every=10, eval_every=50, n_eval_samples=100),
                       lambda_g=(0.0, 1e-2), lambda_d=(0.0, 1e-2), seeds=(0,), n_stored_samples=16, diagonal=True)
        lams = (0.0, 1e-4, 1e-3, 1e-2)
        return cls(base, lambda_g=lams, lambda_d=lams, seeds=(0, 1, 2), n_stored_samples=64, diagonal=True)

    def members(self) -> list[TrainConfig]:
        """Every run of the grid, ordered λ_G-major, then λ_D, then seed."""
        pairs = zip(self.lambda_g, self.lambda_d, strict=True) if self.diagonal else \
            ((g, d) for g in self.lambda_g for d in self.lambda_d)
        return [self.base.replace(lambda_g=g, lambda_d=d, seed=s) for g, d in pairs for s in self.seeds]

    def to_dict(self) -> dict:
        return {"base": self.base.to_dict(), "lambda_g": list(self.lambda_g), "lambda_d": list(self.lambda_d),
                "seeds": list(self.seeds), "eval_last": self.eval_last, "n_stored_samples": self.n_stored_samples,
                "diagonal": self.diagonal}


def run_key(cfg: TrainConfig, sweep: SweepConfig) -> str:
    """Hash identifying one run's cache file: its config, what is stored, and the schema."""
    blob = json.dumps({"schema": RUN_KEY_VERSION, "config": cfg.to_dict(), "eval_last": sweep.eval_last,
                       "n_stored_samples": sweep.n_stored_samples}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def run_path(cfg: TrainConfig, sweep: SweepConfig, cache_dir: str | Path) -> Path:
    """``cache_dir/<dataset>/lg<λ_G>_ld<λ_D>_s<seed>_<hash>.npz`` (readable and unique)."""
    name = f"lg{cfg.lambda_g:g}_ld{cfg.lambda_d:g}_s{cfg.seed}_{run_key(cfg, sweep)}.npz"
    return Path(cache_dir) / cfg.dataset / name


# ---------------------------------------------------------------------------------------------
# Batched training
# ---------------------------------------------------------------------------------------------


def _check_batchable(members: Sequence[TrainConfig]) -> TrainConfig:
    if not members:
        raise ValueError("no runs to train")
    ref = members[0].replace(lambda_g=0.0, lambda_d=0.0, seed=0)
    for m in members:
        if m.replace(lambda_g=0.0, lambda_d=0.0, seed=0) != ref:
            raise ValueError("batched runs may differ only in lambda_g, lambda_d and seed")
        if m.weight_decay_g or m.weight_decay_d:
            raise ValueError("batched runs support L2 penalties only, not decoupled weight decay")
    return members[0]


def _per_member_sq_norm(tensors: Sequence[Tensor]) -> Tensor:
    """Σ over each member's slice of x² for stacked tensors (K, ...) → (K,)."""
    return sum(t.pow(2).flatten(1).sum(1) for t in tensors)


@dataclass
class BatchedRuns:
    """What ``train_batched`` returns: one history per member and the members' final networks.

    Attributes:
        histories: one ``History`` per member, as ``train_gan`` would return it.
        g_params, g_buffers, d_params, d_buffers: stacked final state, each tensor (K, ...);
            use ``member_state`` to get one member's ``state_dict``-style dict.
    """

    histories: list[History]
    g_params: dict[str, Tensor]
    g_buffers: dict[str, Tensor]
    d_params: dict[str, Tensor]
    d_buffers: dict[str, Tensor]

    def member_state(self, net: str, k: int) -> dict[str, Tensor]:
        """Member ``k``'s parameters and buffers of ``net`` ("g" or "d"), detached, on the CPU."""
        if net not in ("g", "d"):
            raise ValueError(f"net must be 'g' or 'd', got {net!r}")
        params, buffers = (self.g_params, self.g_buffers) if net == "g" else (self.d_params, self.d_buffers)
        return {n: t[k].detach().cpu().clone() for n, t in {**params, **buffers}.items()}


def _apply_step(opt: torch.optim.Optimizer, params: dict[str, Tensor], member_losses: Tensor) -> tuple[Tensor, ...]:
    """Gradient of the **sum** of member losses (K,) w.r.t. the stacked params, then one step.

    Summing keeps each member's gradient its own: member k's slice of the gradient is
    ∂loss_k/∂θ_k, since no other loss depends on θ_k.
    """
    grads = torch.autograd.grad(member_losses.sum(), list(params.values()))
    for p, g in zip(params.values(), grads, strict=True):
        p.grad = g
    opt.step()
    return grads


def train_batched(
    members: Sequence[TrainConfig],
    data: Mixture | ImageDataset | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    desc: str = "sweep",
) -> BatchedRuns:
    """Train K runs that differ only in (λ_G, λ_D, seed) as one vmapped model.

    Each member uses exactly the initialisation, data batches and noise of ``train_gan`` with
    its config (runs with the same seed share those draws, so they are made once per seed).
    The optimized loss is the sum over members, so every member's gradients and Adam state are
    its own. A member that hits NaN/inf is marked diverged at that step; the others go on.

    Args:
        members: the runs' configs (``SweepConfig.members()`` or a part of it).
        data: the data set; loaded from the configs' ``dataset`` when None.
        device: where to train.
        progress: show a tqdm bar.
        desc: the bar's label.

    Returns:
        A ``BatchedRuns``: the members' histories, in order, and their final networks.
    """
    cfg = _check_batchable(members)
    device = torch.device(device)
    if data is None:
        data = load_dataset(cfg.dataset)
    data = data.to(device)
    img_shape = None if isinstance(data, Mixture) else data.img_shape
    k = len(members)

    nets = [build_models(m, img_shape) for m in members]
    gens, discs = [n[0].to(device) for n in nets], [n[1].to(device) for n in nets]
    g_params, g_buffers = stack_module_state(gens)
    d_params, d_buffers = stack_module_state(discs)
    # stateless copies on the meta device: functional_call needs only their structure
    g_base, d_base = copy.deepcopy(gens[0]).to("meta"), copy.deepcopy(discs[0]).to("meta")
    del nets, gens, discs

    opt_g = torch.optim.Adam(list(g_params.values()), lr=cfg.lr_g, betas=cfg.betas)
    opt_d = torch.optim.Adam(list(d_params.values()), lr=cfg.lr_d, betas=cfg.betas)
    lam_g = torch.tensor([m.lambda_g for m in members], device=device)
    lam_d = torch.tensor([m.lambda_d for m in members], device=device)

    seeds = sorted({m.seed for m in members})
    seed_idx = torch.tensor([seeds.index(m.seed) for m in members], device=device)
    data_rngs = [torch.Generator().manual_seed(s * 3 + 1) for s in seeds]
    noise_rngs = [torch.Generator().manual_seed(s * 3 + 2) for s in seeds]
    fixed_z = torch.stack([
        torch.randn(cfg.n_eval_samples, cfg.latent_dim, generator=torch.Generator().manual_seed(s * 3 + 3))
        for s in seeds
    ]).to(device)[seed_idx]

    def g_fwd(p: dict, b: dict, z: Tensor) -> Tensor:
        return functional_call(g_base, (p, b), (z,))

    def d_fwd(p: dict, b: dict, x: Tensor) -> Tensor:
        return functional_call(d_base, (p, b), (x,))

    v_gen, v_disc = vmap(g_fwd), vmap(d_fwd)
    v_d_loss = vmap(partial(discriminator_loss, halve=cfg.halve_d_loss))
    v_g_loss = vmap(partial(generator_loss, kind=cfg.gen_loss))
    d_pen_params = [p for p in d_params.values() if cfg.penalize == "all" or p.dim() >= 3]
    g_pen_params = [p for p in g_params.values() if cfg.penalize == "all" or p.dim() >= 3]

    def draw_real() -> Tensor:
        return torch.stack([data.sample(cfg.batch_size, r) for r in data_rngs])[seed_idx]

    def draw_noise() -> Tensor:
        z = torch.stack([torch.randn(cfg.batch_size, cfg.latent_dim, generator=r) for r in noise_rngs])
        return z.to(device)[seed_idx]

    hists = [History(config=m.to_dict()) for m in members]
    alive = torch.ones(k, dtype=torch.bool)
    start = time.perf_counter()
    bar = tqdm(range(1, cfg.steps + 1), disable=not progress, desc=f"{desc} ({k} runs)", leave=False)
    for step in bar:
        # --- D step (as train_gan): penalty on D's selected weights, per member's λ_D ---
        real = draw_real()
        fake = v_gen(g_params, g_buffers, draw_noise())
        real_logits = v_disc(d_params, d_buffers, real)
        fake_logits = v_disc(d_params, d_buffers, fake.detach())
        d_adv = v_d_loss(real_logits, fake_logits)
        d_pen = lam_d * _per_member_sq_norm(d_pen_params)
        d_total = d_adv + d_pen
        d_grads = _apply_step(opt_d, d_params, d_total)

        # --- G step: fresh noise, D's parameters held fixed ---
        fake2 = v_gen(g_params, g_buffers, draw_noise())
        d_fixed = {n: p.detach() for n, p in d_params.items()}
        g_adv = v_g_loss(v_disc(d_fixed, d_buffers, fake2))
        g_pen = lam_g * _per_member_sq_norm(g_pen_params)
        g_total = g_adv + g_pen
        g_grads = _apply_step(opt_g, g_params, g_total)

        finite = (torch.isfinite(d_total) & torch.isfinite(g_total)).cpu()
        for i in torch.nonzero(alive & ~finite).flatten().tolist():
            hists[i].diverged, hists[i].diverged_step = True, step
        alive &= finite
        if not alive.any():
            break

        if step % cfg.log_every == 0 or step == 1:
            with torch.no_grad():
                rows = torch.stack([
                    d_adv, g_adv, d_pen, g_pen,
                    _per_member_sq_norm(d_grads).sqrt(), _per_member_sq_norm(g_grads).sqrt(),
                    _per_member_sq_norm(list(d_params.values())).sqrt(),
                    _per_member_sq_norm(list(g_params.values())).sqrt(),
                    torch.sigmoid(real_logits).mean(1), torch.sigmoid(fake_logits).mean(1),
                ]).double().cpu()
            row_ok = torch.isfinite(rows).all(0)
            for i in torch.nonzero(alive & ~row_ok).flatten().tolist():
                hists[i].diverged, hists[i].diverged_step = True, step
            alive &= row_ok
            for i in torch.nonzero(alive).flatten().tolist():
                hists[i].steps.append(step)
                for j, key in enumerate(SCALAR_KEYS):
                    hists[i].scalars[key].append(float(rows[j, i]))
        if step % cfg.eval_every == 0 or step == cfg.steps:
            samples = _generate_batched(g_base, v_gen, g_params, g_buffers, fixed_z)
            for i in torch.nonzero(alive).flatten().tolist():
                hists[i].sample_steps.append(step)
                hists[i].samples.append(samples[i])
    bar.close()
    elapsed = time.perf_counter() - start
    for h in hists:
        h.wall_time_s = elapsed / k  # the batch's time, shared equally
    return BatchedRuns(hists, g_params, g_buffers, d_params, d_buffers)


@torch.no_grad()
def _generate_batched(g_base, v_gen, g_params: dict, g_buffers: dict, z: Tensor) -> Tensor:
    """Members' samples in eval mode (BatchNorm running statistics), on the CPU: (K, N, ...)."""
    g_base.eval()
    try:
        # running statistics are only read in eval mode, so the buffers are not changed
        return v_gen(g_params, g_buffers, z).float().cpu()
    finally:
        g_base.train()


# ---------------------------------------------------------------------------------------------
# Per-run records: metrics, cache files
# ---------------------------------------------------------------------------------------------


@dataclass
class RunRecord:
    """One finished run as stored in the cache: curves, a few samples, metrics. No models.

    Attributes:
        config: the run's ``TrainConfig``.
        key: its cache hash (``run_key``).
        steps, scalars: the logged history (see ``train.History``).
        eval_steps: evaluation steps; ``curves`` maps metric names to arrays over them.
        samples: generated samples at the last evaluation, (n, 2) points or (n, C, H, W) in [-1, 1].
        surface: for 2-D data, σ(D(x)) at the last evaluation on a grid, (R, R), and
            ``surface_extent`` = (x_min, x_max, y_min, y_max); None for images.
        summary: scalar metrics (summarized over the last ``eval_last`` evaluations, plus
            stability numbers); NaN where undefined.
        diverged, diverged_step, wall_time_s: as in ``History``.
    """

    config: TrainConfig
    key: str
    steps: np.ndarray
    scalars: dict[str, np.ndarray]
    eval_steps: np.ndarray
    curves: dict[str, np.ndarray]
    samples: np.ndarray
    surface: np.ndarray | None
    surface_extent: tuple[float, float, float, float] | None
    summary: dict[str, float]
    diverged: bool
    diverged_step: int | None
    wall_time_s: float


def _to_record(cfg: TrainConfig, sweep: SweepConfig, hist: History, data, surface, extent,
               classifier) -> RunRecord:
    curves, summary = evaluate_run(hist, data, sweep.eval_last, classifier)
    if hist.samples:
        samples = hist.samples[-1][: sweep.n_stored_samples].numpy()
    else:
        shape = (0, 2) if isinstance(data, Mixture) else (0, *data.img_shape)
        samples = np.zeros(shape, dtype=np.float32)
    return RunRecord(
        config=cfg, key=run_key(cfg, sweep),
        steps=np.asarray(hist.steps, dtype=np.int64),
        scalars={k: hist.array(k) for k in SCALAR_KEYS},
        eval_steps=np.asarray(hist.sample_steps, dtype=np.int64),
        curves=curves, samples=samples, surface=surface, surface_extent=extent, summary=summary,
        diverged=hist.diverged, diverged_step=hist.diverged_step, wall_time_s=hist.wall_time_s,
    )


def save_record(record: RunRecord, path: str | Path) -> None:
    """Write a run atomically: a temporary file in the same folder, then a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "schema_version": SCHEMA_VERSION, "key": record.key, "config": record.config.to_dict(),
        "summary": record.summary, "diverged": record.diverged, "diverged_step": record.diverged_step,
        "wall_time_s": record.wall_time_s, "surface_extent": record.surface_extent,
        "curve_names": sorted(record.curves),
    }
    arrays = {
        "meta": np.array(json.dumps(meta, sort_keys=True)),
        "steps": record.steps, "eval_steps": record.eval_steps,
        **{f"scalar_{k}": v.astype(np.float32) for k, v in record.scalars.items()},
        **{f"curve_{k}": v.astype(np.float32) for k, v in record.curves.items()},
    }
    if record.samples.ndim == 2:
        arrays["samples"] = record.samples.astype(np.float16)
    else:  # images: 8 bits are plenty for a picture in [-1, 1]
        arrays["samples_u8"] = np.round((np.clip(record.samples, -1, 1) + 1) * 127.5).astype(np.uint8)
    if record.surface is not None:
        arrays["surface"] = record.surface.astype(np.float16)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(buf.getvalue())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_record(path: str | Path, expected_key: str | None = None) -> RunRecord:
    """Read a run file written by ``save_record`` (``allow_pickle=False``).

    Raises:
        ValueError: if the file is unreadable, of another schema version, or its key differs
            from ``expected_key``.
    """
    try:
        with np.load(Path(path), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays.pop("meta")))
    except Exception as exc:  # truncated zip, bad JSON, missing member ...
        raise ValueError(f"unreadable run file {path}: {type(exc).__name__}: {exc}") from exc
    if meta.get("schema_version") not in READABLE_SCHEMAS:
        raise ValueError(f"{path} has schema {meta.get('schema_version')}, expected one of {READABLE_SCHEMAS}")
    if expected_key is not None and meta["key"] != expected_key:
        raise ValueError(f"{path} holds run {meta['key']}, expected {expected_key}")
    if "samples" in arrays:
        samples = arrays["samples"].astype(np.float32)
    else:
        samples = arrays["samples_u8"].astype(np.float32) / 127.5 - 1.0
    extent = meta["surface_extent"]
    config = TrainConfig.from_dict(meta["config"])
    # schema 1 stored some metrics under another key (classes covered as "modes_covered")
    renames = LEGACY_KEYS.get(dataset_facts(config.dataset).kind, {}) if meta["schema_version"] == 1 else {}
    summary = {renames.get(k, k): (float("nan") if v is None else float(v)) for k, v in meta["summary"].items()}
    curves = {renames.get(k, k): arrays[f"curve_{k}"].astype(np.float64) for k in meta["curve_names"]}
    return RunRecord(
        config=config, key=meta["key"],
        steps=arrays["steps"], scalars={k: arrays[f"scalar_{k}"].astype(np.float64) for k in SCALAR_KEYS},
        eval_steps=arrays["eval_steps"],
        curves=curves,
        samples=samples, surface=arrays["surface"].astype(np.float32) if "surface" in arrays else None,
        surface_extent=tuple(extent) if extent else None,
        summary=summary,
        diverged=bool(meta["diverged"]), diverged_step=meta["diverged_step"],
        wall_time_s=float(meta["wall_time_s"]),
    )


def _try_load(path: Path, key: str) -> RunRecord | None:
    if not path.exists():
        return None
    try:
        return load_record(path, key)
    except ValueError:
        return None  # corrupt or stale: it is trained again and overwritten


# ---------------------------------------------------------------------------------------------
# Running a sweep
# ---------------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    """All runs of a sweep, loaded from the cache, with grid views for maps."""

    config: SweepConfig
    records: list[RunRecord]
    trained: int  # how many runs this call trained (the rest came from the cache)
    wall_time_s: float

    def record(self, lambda_g: float, lambda_d: float, seed: int) -> RunRecord:
        """The run at one grid point."""
        for r in self.records:
            c = r.config
            if math.isclose(c.lambda_g, lambda_g) and math.isclose(c.lambda_d, lambda_d) and c.seed == seed:
                return r
        raise ValueError(f"no run with lambda_g={lambda_g}, lambda_d={lambda_d}, seed={seed} in this sweep; "
                         f"grid: lambda_g {self.config.lambda_g}, lambda_d {self.config.lambda_d}, "
                         f"seeds {self.config.seeds}")

    def grid(self, metric: str, seed: int | None = None) -> np.ndarray:
        """A summary metric over the (λ_G, λ_D) grid: shape (len(lambda_g), len(lambda_d)).

        Args:
            metric: a key of ``RunRecord.summary`` (e.g. ``"modes_covered"``, ``"diverged"``).
            seed: one seed, or None for the mean over seeds (NaNs ignored).
        """
        names = set().union(*(r.summary for r in self.records)) if self.records else set()
        if metric not in names:
            raise ValueError(f"unknown metric {metric!r}; available: {', '.join(sorted(names))}")
        seeds = self.config.seeds if seed is None else (seed,)
        out = np.full((len(self.config.lambda_g), len(self.config.lambda_d)), np.nan)
        for i, g in enumerate(self.config.lambda_g):
            for j, d in enumerate(self.config.lambda_d):
                if self.config.diagonal and i != j:
                    continue  # a diagonal sweep has no run off the diagonal
                vals = [self.record(g, d, s).summary.get(metric, np.nan) for s in seeds]
                vals = [v for v in vals if np.isfinite(v)]
                out[i, j] = np.mean(vals) if vals else np.nan
        return out

    def table(self) -> list[dict]:
        """One row per (λ_G, λ_D): seed-averaged summary metrics (for printing)."""
        rows = []
        metrics = sorted(set().union(*(r.summary for r in self.records)))
        for i, g in enumerate(self.config.lambda_g):
            for j, d in enumerate(self.config.lambda_d):
                if self.config.diagonal and i != j:
                    continue
                row = {"lambda_g": g, "lambda_d": d}
                for m in metrics:
                    row[m] = float(self.grid(m)[i, j])
                rows.append(row)
        return rows


def run_sweep(
    sweep: SweepConfig,
    cache_dir: str | Path | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    max_batch: int | None = None,
    classifier=None,
    train_missing: bool = True,
) -> SweepResult:
    """Train every run of ``sweep`` that is not cached yet, then load them all.

    Runs are trained in batches of at most ``max_batch`` members; each batch's runs are
    written as soon as it finishes, so an interrupted sweep loses at most one batch.

    Args:
        sweep: the grid.
        cache_dir: where run files live; default ``default_sweep_cache_dir()``.
        device: where to train.
        progress: show progress bars.
        max_batch: members per batched model (None: all missing runs at once).
        classifier: a ``metrics.TrainedClassifier`` for image metrics (None: loaded or trained
            with the default config when the data set is an image set).
        train_missing: when False, missing runs raise instead of being trained.

    Returns:
        A ``SweepResult`` with every run's record.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_sweep_cache_dir()
    start = time.perf_counter()
    members = sweep.members()
    paths = [run_path(m, sweep, cache_dir) for m in members]
    keys = [run_key(m, sweep) for m in members]
    loaded = [_try_load(p, k) for p, k in zip(paths, keys, strict=True)]
    missing = [i for i, r in enumerate(loaded) if r is None]
    if missing and not train_missing:
        raise ValueError(f"{len(missing)} of {len(members)} runs are not in {cache_dir}")
    if missing:
        data = load_dataset(sweep.base.dataset)
        if classifier is None and isinstance(data, ImageDataset):
            from .metrics import ClassifierConfig, load_or_train_classifier

            classifier = load_or_train_classifier(ClassifierConfig.preset("mnist5k" if data.img_shape[-1] == 28
                                                                          else "digits8"))
        size = max_batch or len(missing)
        chunks = [missing[i:i + size] for i in range(0, len(missing), size)]
        for n, chunk in enumerate(tqdm(chunks, disable=not progress or len(chunks) == 1, desc="batches")):
            batch = [members[i] for i in chunk]
            runs = train_batched(batch, data, device, progress, desc=f"{sweep.base.dataset} batch {n + 1}")
            for j, (i, hist) in enumerate(zip(chunk, runs.histories, strict=True)):
                surface, extent = None, None
                if isinstance(data, Mixture) and hist.samples and not hist.diverged:
                    extent = surface_extent(data)
                    surface = decision_surface(members[i], runs.member_state("d", j), extent)
                rec = _to_record(members[i], sweep, hist, data, surface, extent, classifier)
                save_record(rec, paths[i])
                loaded[i] = rec
    return SweepResult(sweep, loaded, trained=len(missing), wall_time_s=time.perf_counter() - start)


# ---------------------------------------------------------------------------------------------
# Command line: python -m gan_l2_lib sweep ...
# ---------------------------------------------------------------------------------------------

def format_table(result: SweepResult) -> str:
    """A plain-text table: one row per (λ_G, λ_D), seed-averaged summary metrics."""
    rows = result.table()
    cols = [m.key for m in METRICS.values() if m.in_table and rows and m.key in rows[0]]
    header = f"{'lambda_g':>9} {'lambda_d':>9} " + " ".join(f"{c:>21}" for c in cols)
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(f"{r['lambda_g']:>9g} {r['lambda_d']:>9g} " + " ".join(f"{r[c]:>21.3f}" for c in cols))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m gan_l2_lib sweep``; returns the exit status."""
    from .data import DATASET_NAMES
    from .train import pick_device

    parser = argparse.ArgumentParser(prog="python -m gan_l2_lib", description="gan-l2 command line")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sweep", help="train a λ_G × λ_D × seeds grid (cached, resumable)")
    p.add_argument("--dataset", default="ring8", choices=[d for d in DATASET_NAMES if d != "mnist"])
    p.add_argument("--lambda-g", type=float, nargs="+", help="λ_G values (default: the data set's grid)")
    p.add_argument("--lambda-d", type=float, nargs="+", help="λ_D values (default: the data set's grid)")
    p.add_argument("--seeds", type=int, help="number of seeds, 0 … N-1 (default: the data set's)")
    p.add_argument("--steps", type=int, help="training steps per run")
    p.add_argument("--quick", action="store_true", help="the CI-sized preset")
    p.add_argument("--cache-dir", type=Path, help=f"run files (default {default_sweep_cache_dir()})")
    p.add_argument("--max-batch", type=int, help="runs per batched model (default: all)")
    p.add_argument("--cpu", action="store_true", help="stay on the CPU even if a GPU is present")
    p.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    # This process is ours: flush subnormal floats to zero. Long runs drift into subnormal
    # values (Adam state, decayed weights), which the CPU computes many times slower; measured
    # here: 80 vs 118 ms per step averaged over 2,000 steps of 10 ring8 members.
    torch.set_flush_denormal(True)
    try:
        sweep = SweepConfig.default(args.dataset, quick=args.quick)
        changes: dict = {}
        if args.lambda_g:
            changes["lambda_g"] = tuple(args.lambda_g)
        if args.lambda_d:
            changes["lambda_d"] = tuple(args.lambda_d)
        if args.seeds is not None:
            if args.seeds < 1:
                raise ValueError(f"--seeds must be >= 1, got {args.seeds}")
            changes["seeds"] = tuple(range(args.seeds))
        if args.steps is not None:
            changes["base"] = sweep.base.replace(steps=args.steps)
        sweep = dataclasses.replace(sweep, **changes)
        n = len(sweep.members())
        print(f"sweep {args.dataset}: {len(sweep.lambda_g)} λ_G × {len(sweep.lambda_d)} λ_D × "
              f"{len(sweep.seeds)} seeds = {n} runs, {sweep.base.steps} steps each")
        result = run_sweep(sweep, args.cache_dir, pick_device(not args.cpu), progress=not args.no_progress,
                           max_batch=args.max_batch)
    except ValueError as err:
        print(f"error: {err}")
        return 2
    print(f"trained {result.trained} runs, {n - result.trained} from the cache, in {result.wall_time_s:.1f} s")
    print(format_table(result))
    return 0


def point_sweep(sweep: SweepConfig, lambda_g: float, lambda_d: float, seed: int,
                steps: int | None = None) -> SweepConfig:
    """One (λ_G, λ_D, seed) run on a sweep's base config, ``steps`` long (e.g. a point off its grid).

    The logging and evaluation intervals are scaled with the steps, so the run logs as many
    rows and evaluates as many times as the sweep's runs; ``eval_last`` and
    ``n_stored_samples`` are the sweep's.

    Args:
        sweep: the sweep whose base config the run shares.
        lambda_g, lambda_d: the penalties, ≥ 0 (any value, not only grid values).
        seed: the run's seed, an integer ≥ 0.
        steps: training steps, ≥ 1 (None: the sweep's own).

    Returns:
        A one-member ``SweepConfig`` (train or load it with ``run_sweep``).

    Raises:
        ValueError: for a negative or non-finite λ, a seed that is not an integer ≥ 0, or
            steps that are not a positive integer.
    """
    lambda_g, lambda_d = validate_coef(lambda_g, "lambda_g"), validate_coef(lambda_d, "lambda_d")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    base = sweep.base
    steps = base.steps if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    steps = int(steps)
    scale = steps / base.steps  # keep the number of logged rows and evaluations
    base = base.replace(steps=steps, log_every=max(1, round(base.log_every * scale)),
                        eval_every=max(1, min(steps, round(base.eval_every * scale))))
    return SweepConfig(base, lambda_g=(lambda_g,), lambda_d=(lambda_d,), seeds=(int(seed),),
                       eval_last=sweep.eval_last, n_stored_samples=sweep.n_stored_samples)
