"""Benchmark: batched (vmapped) sweep training vs. plain loops, and the fraction of matmul peak.

Usage:  python benchmarks/bench_sweep.py [--steps 200] [--members 75] [--out benchmarks/results/bench_sweep.json]

Measures, with the same config for every variant (the notebook's ring8 sweep config,
``SweepConfig.default("ring8")``: batch 100, 2-D MLPs with 128 hidden units):
  batched  - all members trained as one vmapped model (``batched.train_batched``), 2 threads;
  loop     - the same runs one after another with ``train.train_gan``, 2 threads;
  loop_2p  - that loop split over 2 processes with 1 thread each.
Reported as member-steps per second and ratios; plus the machine's float32 matmul peak
(a large ``torch.mm``) and the fraction of it the batched sweep reaches, counting the FLOPs of
the linear layers only. The same comparison runs for the source article's networks on mnist5k.
Not a test: numbers depend on the machine and on what else runs on it (the load average is
recorded).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import time
from pathlib import Path

import torch

from gan_l2_lib.batched import train_batched
from gan_l2_lib.data import dataset_facts, load_dataset
from gan_l2_lib.sweep import SweepConfig
from gan_l2_lib.train import TrainConfig, build_models, train_gan


def linear_flops_per_member_step(cfg: TrainConfig, img_shape=None) -> float:
    """FLOPs of the linear layers in one (D step, G step) pair of one member.

    Forward of a Linear(i, o) on a batch B costs 2·B·i·o; its backward costs the same for the
    input gradient and the same again for the weight gradient. Per step: D step = G forward,
    D forward on real and on fake, D backward (weights and inputs) on both; G step = G forward,
    D forward, D backward (inputs only: D's weights are held fixed), G backward (weights and
    inputs; the first layer's input gradient is not needed but counted, a small overestimate).
    """
    gen, disc = build_models(cfg, img_shape)
    b = cfg.batch_size

    def fwd(net: torch.nn.Module) -> float:
        return sum(2.0 * b * m.in_features * m.out_features for m in net.modules()
                   if isinstance(m, torch.nn.Linear))

    g, d = fwd(gen), fwd(disc)
    d_step = g + 2 * d + 2 * (2 * d)
    g_step = g + d + d + 2 * g
    return d_step + g_step


def matmul_peak_gflops(threads: int, n: int = 2048, reps: int = 10) -> float:
    """float32 GFLOP/s of a large square matmul with ``threads`` threads (best of ``reps``)."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def _loop(members: list[TrainConfig], data_name: str, threads: int) -> float:
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)  # as in the sweep CLI; the spawned workers need it too
    data = load_dataset(data_name)
    t = time.perf_counter()
    for m in members:
        train_gan(m, data=data, progress=False)
    return time.perf_counter() - t


def _loop_worker(args) -> float:
    members, data_name = args
    return _loop(members, data_name, threads=1)


def bench(members: list[TrainConfig], loop_members: int, label: str) -> dict:
    """Time batched vs. loop vs. 2-process loop for ``members`` (the loops run a subset)."""
    cfg = members[0]
    data = load_dataset(cfg.dataset)
    img_shape = None if dataset_facts(cfg.dataset).is_2d else data.img_shape
    steps, k = cfg.steps, len(members)
    torch.set_num_threads(2)
    train_batched([m.replace(steps=3) for m in members], data, progress=False)  # warm-up
    t = time.perf_counter()
    train_batched(members, data, progress=False)
    t_batched = time.perf_counter() - t

    sub = members[:loop_members]
    t_loop = _loop(sub, cfg.dataset, threads=2)
    half = (len(sub) + 1) // 2
    with mp.get_context("spawn").Pool(2) as pool:
        # each worker times its own loop (after imports and data loading); the pair finishes
        # when the slower one does
        t_2p = max(pool.map(_loop_worker, [(sub[:half], cfg.dataset), (sub[half:], cfg.dataset)]))

    flops = linear_flops_per_member_step(cfg, img_shape)
    rate_b = k * steps / t_batched
    rate_l = len(sub) * steps / t_loop
    rate_2p = len(sub) * steps / t_2p
    return {
        "label": label, "members": k, "loop_members": len(sub), "steps": steps,
        "batch_size": cfg.batch_size,
        "member_steps_per_s": {"batched": rate_b, "loop": rate_l, "loop_2proc": rate_2p},
        "ratio_batched_over_loop": rate_b / rate_l, "ratio_batched_over_loop_2proc": rate_b / rate_2p,
        "linear_mflop_per_member_step": flops / 1e6,
        "gflops": {"batched": rate_b * flops / 1e9, "loop": rate_l * flops / 1e9, "loop_2proc": rate_2p * flops / 1e9},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--members", type=int, default=75, help="ring8 members in the batched model")
    parser.add_argument("--loop-members", type=int, default=8, help="runs timed in the plain loops")
    parser.add_argument("--image-members", type=int, default=12)
    parser.add_argument("--image-steps", type=int, default=30)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "bench_sweep.json")
    args = parser.parse_args()

    # every variant runs with subnormals flushed to zero, as the sweep CLI does (without it,
    # subnormal Adam state and weights slow all variants down several times)
    torch.set_flush_denormal(True)
    load_before = os.getloadavg()
    ring = [m.replace(steps=args.steps) for m in SweepConfig.default("ring8").members()[: args.members]]
    mnist = [m.replace(steps=args.image_steps) for m in SweepConfig.default("mnist5k").members()[: args.image_members]]
    results = {
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(), "torch": torch.__version__,
                    "load_average_before": load_before},
        "matmul_peak_gflops": {"1_thread": matmul_peak_gflops(1), "2_threads": matmul_peak_gflops(2)},
        "ring8": bench(ring, args.loop_members, "ring8, SweepConfig.default: batch 100, hidden 128"),
        "mnist5k": bench(mnist, min(args.loop_members, 4), "mnist5k, the article's networks, batch 64"),
    }
    results["machine"]["load_average_after"] = os.getloadavg()
    peak = results["matmul_peak_gflops"]["2_threads"]
    for key in ("ring8", "mnist5k"):
        r = results[key]
        r["fraction_of_peak"] = {v: g / peak for v, g in r["gflops"].items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))

    print(f"matmul peak: {results['matmul_peak_gflops']['1_thread']:.1f} GFLOP/s (1 thread), {peak:.1f} (2 threads)")
    print(f"{'workload':<10} {'variant':<11} {'member-steps/s':>15} {'GFLOP/s':>9} {'of peak':>8}")
    for key in ("ring8", "mnist5k"):
        r = results[key]
        for v in ("batched", "loop", "loop_2proc"):
            print(f"{key:<10} {v:<11} {r['member_steps_per_s'][v]:>15.1f} {r['gflops'][v]:>9.2f} "
                  f"{r['fraction_of_peak'][v]:>8.1%}")
        print(f"{key:<10} batched / loop = {r['ratio_batched_over_loop']:.2f}x, "
              f"batched / 2-process loop = {r['ratio_batched_over_loop_2proc']:.2f}x")
    print(f"load average before {load_before}, after {results['machine']['load_average_after']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
