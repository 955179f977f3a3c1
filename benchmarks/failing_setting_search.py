"""Where does the unpenalized ring8 GAN actually fail? A pilot search over optimizer settings.

A study, not a test (issue: "a baseline that really fails"). The shipped ring8 baseline
(Adam 2e-4, β₁ = 0.5, non-saturating loss) never diverges, so "L2 improves stability" has
never faced an unstable baseline. This script trains λ_G = λ_D = 0 under a few harsher
settings on ring8's default harness (batch 100, an evaluation every 500 steps) with a few
seeds and prints each run's end-of-training metrics, so a failing setting can be chosen from
data before a rescue sweep is spent on it.

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/failing_setting_search.py \
        --steps 8000 --seeds 3 --out benchmarks/results/failing_setting_search.json

Runs are cached under ``--cache-dir`` (the sweep cache format), so the search resumes. The shipped
record holds the first four settings (default, beta1_0.9, lr_1e-3, lr_1e-3_beta1_0.9; 2026-12-01,
2-core CPU shared with other sweeps); the last three were not run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from gan_l2_lib.sweep import SweepConfig, run_sweep

# name -> TrainConfig overrides on ring8's default base
SETTINGS = {
    "default": {},
    "beta1_0.9": dict(betas=(0.9, 0.999)),
    "lr_1e-3": dict(lr_g=1e-3, lr_d=1e-3),
    "lr_1e-3_beta1_0.9": dict(lr_g=1e-3, lr_d=1e-3, betas=(0.9, 0.999)),
    "lr_d_1e-3": dict(lr_d=1e-3),
    "minimax": dict(gen_loss="minimax"),
    "minimax_lr_1e-3": dict(gen_loss="minimax", lr_g=1e-3, lr_d=1e-3),
}
METRICS = ("modes_covered", "high_quality_fraction", "reverse_kl", "mode_shift", "d_loss_tail_std", "gap_tail_mean",
           "grad_spikes_d", "diverged", "diverged_step")


def search_sweep(name: str, steps: int, seeds: int) -> SweepConfig:
    """ring8's default harness at λ_G = λ_D = 0 with one setting's overrides."""
    grid = SweepConfig.default("ring8")
    base = grid.base.replace(steps=steps, **SETTINGS[name])
    return dataclasses.replace(grid, base=base, lambda_g=(0.0,), lambda_d=(0.0,), seeds=tuple(range(seeds)),
                               eval_last=max(1, steps // 500 // 4), snapshots=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--settings", nargs="*", default=list(SETTINGS))
    parser.add_argument("--cache-dir", default="/tmp/failing_setting_search")
    parser.add_argument("--out", default="benchmarks/results/failing_setting_search.json")
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    out_path = Path(args.out)
    report = json.loads(out_path.read_text()) if out_path.exists() else {"settings": {}}
    report["machine"] = f"{platform.processor() or platform.machine()}, torch {torch.__version__}, " \
                        f"{torch.get_num_threads()} thread(s)"
    for name in args.settings:
        t0 = time.perf_counter()
        result = run_sweep(search_sweep(name, args.steps, args.seeds), cache_dir=args.cache_dir, progress=False)
        wall = time.perf_counter() - t0
        rows = {m: [float(v) for v in result.seed_values(m, 0.0, 0.0, last=1)] for m in METRICS
                if m in result.summary_keys()}
        report["settings"][name] = {"overrides": {k: list(v) if isinstance(v, tuple) else v
                                                  for k, v in SETTINGS[name].items()},
                                    "steps": args.steps, "seeds": args.seeds, "wall_s": round(wall, 1),
                                    "per_seed": rows}
        print(name, f"{wall:.0f}s", {m: np.round(v, 3).tolist() for m, v in rows.items()}, flush=True)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
