"""How long must the 2-D baselines train before their mode metrics stop moving?

A study, not a test: it trains the λ_G × λ_D grid with many seeds and long runs on the
library's batched trainer, evaluates every ``--eval-every`` steps and keeps, per run and
evaluation, the per-mode counts of high-quality samples (``metrics.mode_stats``). From those
counts every mode metric can be recomputed later (modes covered, high-quality fraction,
reverse KL, how far the mode histogram moves between evaluations), so the settings of the
shipped sweeps can be chosen from data: plateau, seed-to-seed spread, mode hopping.

Each setting's step count is fitted to a time budget after timing a short warm-up, so the
script ends inside a fixed wall time on any machine (it was written for a lent GPU).

    python benchmarks/plateau.py --out benchmarks/results/plateau --budget-s 420

Writes one ``<setting>.npz`` per setting and ``summary.json`` (timings, machine).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from gan_l2_lib.batched import train_batched
from gan_l2_lib.data import load_dataset
from gan_l2_lib.metrics import mode_stats
from gan_l2_lib.sweep import SweepConfig
from gan_l2_lib.train import TrainConfig

LAMS = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)

# name, dataset, base overrides, λ_G values, λ_D values, seeds, share of the time budget
SETTINGS = [
    ("ring8_b256_grid", "ring8", dict(batch_size=256), LAMS, LAMS, 10, 0.34),
    ("grid25_b256_grid", "grid25", dict(batch_size=256), LAMS, LAMS, 10, 0.34),
    ("grid25_wide400_b256", "grid25", dict(batch_size=256, toy_hidden=400), (0.0,), (0.0, 1e-4, 1e-3, 1e-2), 10, 0.18),
    ("ring8_b100_base", "ring8", dict(batch_size=100), (0.0, 1e-4), (0.0, 1e-4), 10, 0.14),
]


def members_of(dataset: str, overrides: dict, lam_g, lam_d, n_seeds: int, steps: int,
               eval_every: int, n_eval: int) -> list[TrainConfig]:
    base = TrainConfig.preset(dataset, steps=steps, log_every=100, eval_every=eval_every,
                              n_eval_samples=n_eval, **overrides)
    sweep = SweepConfig(base, lambda_g=tuple(lam_g), lambda_d=tuple(lam_d), seeds=tuple(range(n_seeds)))
    return sweep.members()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--budget-s", type=float, default=420.0, help="training time for all settings")
    p.add_argument("--max-steps", type=int, default=40_000)
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--n-eval", type=int, default=2500)
    p.add_argument("--only", nargs="*", help="setting names to run")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.set_flush_denormal(True)
    summary = {"machine": {"device": torch.cuda.get_device_name() if device.type == "cuda" else platform.processor(),
                           "torch": torch.__version__, "python": platform.python_version()},
               "settings": {}}
    settings = [s for s in SETTINGS if not args.only or s[0] in args.only]
    share_total = sum(s[-1] for s in settings)
    for name, dataset, overrides, lam_g, lam_d, n_seeds, share in settings:
        data = load_dataset(dataset)
        # time a short warm-up of the full member batch, then fit the steps to the budget
        warm = members_of(dataset, overrides, lam_g, lam_d, n_seeds, 300, 300, args.n_eval)
        t0 = time.perf_counter()
        train_batched(warm, data, device, progress=False)
        per_step = (time.perf_counter() - t0) / 300
        budget = args.budget_s * share / share_total
        steps = int(min(args.max_steps, budget / per_step) // args.eval_every * args.eval_every)
        steps = max(steps, 2 * args.eval_every)
        members = members_of(dataset, overrides, lam_g, lam_d, n_seeds, steps, args.eval_every, args.n_eval)
        print(f"{name}: {len(members)} runs, {per_step * 1e3:.2f} ms/step in warm-up -> {steps} steps", flush=True)
        t0 = time.perf_counter()
        runs = train_batched(members, data, device, progress=False)
        train_s = time.perf_counter() - t0
        n_eval_steps = steps // args.eval_every
        counts = np.full((len(members), n_eval_steps, data.n_modes), -1, dtype=np.int16)
        for i, h in enumerate(runs.histories):
            for j, x in enumerate(h.samples):
                counts[i, j] = mode_stats(x, data.centers.cpu(), data.std).counts
        keys = ("d_loss", "g_loss", "d_real", "d_fake", "weight_norm_d", "weight_norm_g")
        n_log = max(len(h.steps) for h in runs.histories)
        scal = np.full((len(members), len(keys), n_log), np.nan, dtype=np.float32)
        for i, h in enumerate(runs.histories):
            for j, k in enumerate(keys):
                scal[i, j, : len(h.steps)] = h.scalars[k]
        last = np.stack([h.samples[-1][:500].numpy() if h.samples else np.full((500, 2), np.nan)
                         for h in runs.histories]).astype(np.float16)
        np.savez_compressed(
            args.out / f"{name}.npz",
            lambda_g=np.array([m.lambda_g for m in members]), lambda_d=np.array([m.lambda_d for m in members]),
            seed=np.array([m.seed for m in members]),
            eval_steps=np.arange(1, n_eval_steps + 1) * args.eval_every, counts=counts,
            n_eval=np.array(args.n_eval), scalar_keys=np.array(keys),
            log_steps=np.array(max((h.steps for h in runs.histories), key=len)), scalars=scal,
            last_samples=last, diverged_step=np.array([h.diverged_step or -1 for h in runs.histories]),
        )
        covered = (counts[:, -1] >= 1).sum(1)
        summary["settings"][name] = {
            "dataset": dataset, "overrides": overrides, "runs": len(members), "steps": steps,
            "train_s": round(train_s, 1), "member_steps_per_s": round(len(members) * steps / train_s, 1),
            "warmup_ms_per_step": round(per_step * 1e3, 3),
            "final_modes_covered_mean": float(covered.mean()),
        }
        print(f"  trained in {train_s:.1f} s ({len(members) * steps / train_s:,.0f} member-steps/s); "
              f"final modes covered, mean over runs {covered.mean():.2f}", flush=True)
        (args.out / "summary.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()


def plot(out: Path) -> Path:
    """Modes covered and high-quality fraction over training, unpenalized runs, one line per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n, *_ in SETTINGS if (out / f"{n}.npz").exists()]
    fig, axes = plt.subplots(2, len(names), figsize=(4 * len(names), 6), squeeze=False)
    for col, name in enumerate(names):
        z = np.load(out / f"{name}.npz")
        base = (z["lambda_g"] == 0) & (z["lambda_d"] == 0)
        counts, steps = z["counts"][base], z["eval_steps"]
        covered = (counts >= 1).sum(2)
        quality = counts.sum(2) / int(z["n_eval"])
        for row, (values, label) in enumerate([(covered, f"modes covered (of {counts.shape[2]})"),
                                               (quality, "high-quality fraction")]):
            ax = axes[row, col]
            ax.plot(steps, values.T, color="0.6", lw=0.8)
            ax.plot(steps, values.mean(0), color="C3", lw=2, label=f"mean of {len(values)} seeds")
            ax.set_xlabel("training step")
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
            if row == 0:
                ax.set_title(f"{name}\nλ_G = λ_D = 0", fontsize=9)
                ax.legend(fontsize=7)
    fig.suptitle("Unpenalized 2-D baselines: do the mode metrics reach a plateau? (grey: one seed each)")
    fig.tight_layout()
    path = out / "plateau.png"
    fig.savefig(path, dpi=80)
    return path
