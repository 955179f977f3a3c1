"""Benchmark: what could make the batched ring8 sweep step faster? (issue 6's "try ..." list)

Usage:  python benchmarks/bench_step_variants.py [--threads 2] [--steps 100]
        [--out benchmarks/results/bench_step_variants.json]

Times the bare training step of ``batched.train_batched`` (the 75 members of
``SweepConfig.default("ring8")``: one D step and one G step, no logging or evaluation) in
variants:
  base       - the library's own step, ``batched.stacked_step``: ``vmap(functional_call)``, one
               D pass on real and one on fake, ``torch.optim.Adam`` (for-loop implementation on CPU);
  fused      - ``Adam(fused=True)``: one kernel per parameter tensor instead of ~10;
  cat        - one D pass over real and fake concatenated (D has no BatchNorm, so it is the
               same function);
  compile    - the two loss functions under ``torch.compile`` (inductor, C++ on CPU);
  baddbmm    - the MLPs written by hand for stacked weights, one ``torch.baddbmm`` per layer
               (bias add fused into the matmul) instead of ``vmap(functional_call)``;
and combinations (the variants other than base run the step as written here, with the fake
batch of the D step made under ``no_grad``). Also times the large matmul-like ops of one step on
their own (``bmm`` of the shapes involved) to show the ceiling. Not a test: numbers depend on the
machine and its load, so compare variants only within one run. Each run is appended, with its
date, to the ``runs`` of the output JSON.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import time
from pathlib import Path

import torch

from gan_l2_lib.batched import per_member_sq_norm, stack_gans, stacked_step
from gan_l2_lib.data import load_dataset
from gan_l2_lib.sweep import SweepConfig


def _stacked_mlp(params: dict, _buffers: dict, x: torch.Tensor) -> torch.Tensor:
    """The ring8 ReLU MLPs on stacked weights (K, out, in): x (K, B, in) → (K, B, out), or (K, B) for D."""
    weights = [p for n, p in params.items() if n.endswith("weight")]
    biases = [p for n, p in params.items() if n.endswith("bias")]
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        x = torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))
        if i < len(weights) - 1:
            x = torch.relu(x)
    return x.squeeze(-1) if x.shape[-1] == 1 else x


def time_variant(variant: str, steps: int) -> dict:
    """Member-steps per second of the bare batched step in ``variant`` (after a 5-step warm-up)."""
    members = SweepConfig.default("ring8").members()
    cfg, k = members[0], len(members)
    data = load_dataset("ring8")
    gen = torch.Generator().manual_seed(0)
    gan = stack_gans(members)
    if "fused" in variant:
        gan.opt_g = torch.optim.Adam(list(gan.g_params.values()), lr=cfg.lr_g, betas=cfg.betas, fused=True)
        gan.opt_d = torch.optim.Adam(list(gan.d_params.values()), lr=cfg.lr_d, betas=cfg.betas, fused=True)
    v_gen, v_disc = (_stacked_mlp, _stacked_mlp) if "baddbmm" in variant else (gan.v_gen, gan.v_disc)
    seed_of = torch.arange(k) % 3

    def d_losses(params: dict, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        if "cat" in variant:
            logits = v_disc(params, gan.d_buffers, torch.cat([real, fake], 1))
            real_logits, fake_logits = logits[:, : real.shape[1]], logits[:, real.shape[1]:]
        else:
            real_logits, fake_logits = v_disc(params, gan.d_buffers, real), v_disc(params, gan.d_buffers, fake)
        return gan.v_d_loss(real_logits, fake_logits) + gan.lam_d * per_member_sq_norm(list(params.values()))

    def g_losses(params: dict, d_fixed: dict, z: torch.Tensor) -> torch.Tensor:
        logits = v_disc(d_fixed, gan.d_buffers, v_gen(params, gan.g_buffers, z))
        return gan.v_g_loss(logits) + gan.lam_g * per_member_sq_norm(list(params.values()))

    if "compile" in variant:
        d_losses, g_losses = torch.compile(d_losses), torch.compile(g_losses)

    def apply(opt: torch.optim.Optimizer, params: dict, losses: torch.Tensor) -> None:
        for p, g in zip(params.values(), torch.autograd.grad(losses.sum(), list(params.values())), strict=True):
            p.grad = g
        opt.step()

    def draw() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        real = torch.stack([data.sample(cfg.batch_size, gen) for _ in range(3)])[seed_of]
        z_d = torch.randn(3, cfg.batch_size, cfg.latent_dim, generator=gen)[seed_of]
        z_g = torch.randn(3, cfg.batch_size, cfg.latent_dim, generator=gen)[seed_of]
        return real, z_d, z_g

    def step() -> None:
        real, z_d, z_g = draw()
        if variant == "base":  # the library's own step
            stacked_step(gan, real, z_d, z_g)
            return
        with torch.no_grad():
            fake = v_gen(gan.g_params, gan.g_buffers, z_d)
        apply(gan.opt_d, gan.d_params, d_losses(gan.d_params, real, fake))
        apply(gan.opt_g, gan.g_params, g_losses(gan.g_params, {n: p.detach() for n, p in gan.d_params.items()}, z_g))

    t = time.perf_counter()
    for _ in range(5):
        step()
    warmup = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return {"member_steps_per_s": k * steps / (time.perf_counter() - t), "warmup_s": warmup}


def bmm_rates(k: int = 75, b: int = 100, reps: int = 30) -> dict:
    """GFLOP/s of one bmm for each (in, out) layer shape of the ring8 networks."""
    out = {}
    for i, o in ((8, 128), (128, 128), (128, 2), (2, 128), (128, 1)):
        x, w = torch.randn(k, b, i), torch.randn(k, i, o)
        for _ in range(3):
            torch.bmm(x, w)
        t = time.perf_counter()
        for _ in range(reps):
            torch.bmm(x, w)
        dt = (time.perf_counter() - t) / reps
        out[f"{i}x{o}"] = {"gflops": 2 * k * b * i * o / dt / 1e9, "ms": dt * 1e3}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--variants", nargs="+", default=["base", "fused", "cat", "fused_cat", "fused_baddbmm", "fused_compile"])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "bench_step_variants.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # as the sweep CLI does
    load_before = os.getloadavg()
    results = {"date": datetime.date.today().isoformat(), "threads": args.threads, "steps": args.steps,
               "torch": torch.__version__,
               "load_average_before": load_before, "variants": {}}
    for v in args.variants:
        results["variants"][v] = time_variant(v, args.steps)
        print(f"{v:<15} {results['variants'][v]['member_steps_per_s']:8.0f} member-steps/s "
              f"(warm-up {results['variants'][v]['warmup_s']:.1f} s)", flush=True)
    results["bmm"] = bmm_rates()
    for shape, r in results["bmm"].items():
        print(f"bmm 75 × (100 × {shape:<8}) {r['gflops']:7.1f} GFLOP/s {r['ms']:6.3f} ms")
    results["load_average_after"] = os.getloadavg()
    runs = json.loads(args.out.read_text())["runs"] if args.out.exists() else []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": [*runs, results]}, indent=2) + "\n")
    print(f"load average before {load_before}, after {results['load_average_after']}; "
          f"appended run {len(runs) + 1} to {args.out}")


if __name__ == "__main__":
    main()
