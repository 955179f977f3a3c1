"""Benchmark: the cost of one training step under each regularizer of D, relative to plain L2.

Usage:  python benchmarks/bench_regularizers.py [--dataset ring8] [--threads 1] [--steps 200]
        [--members 10] [--repeats 5] [--out benchmarks/results/bench_regularizers.json]

On ``--dataset`` (``ring8``, or ``stacked_mnist``: the article's MLPs on 3 × 28 × 28 images, where
D's input gradient for R1 has 2,352 entries) with that data set's default sweep sizes
(``SweepConfig.default(dataset).base``; ring8: batch 100, hidden width 128, latent 8) it times
  batched - ``batched.train_batched`` on ``--members`` members (seeds 0, 1, ...), and
  single  - ``train.train_gan`` on one run (seed 0),
for each method: ``l2`` (λ_D = 1e-2, the reference), ``none`` (λ_D = 0), ``r1`` (γ = 1: R1's
double backward), ``spectral_norm`` (one power iteration per D forward pass) and ``adamw``
(decoupled decay 1e-2 on D's weights only). Logging every 100 steps and one evaluation at the
end, as in a sweep, after an untimed 5-step warm-up of each. The methods run in turn,
``--repeats`` times, so a slow spell of the machine hits all of them alike; each keeps its
fastest time (the least disturbed by other work; the median is kept too). Reported as seconds
per step and as ratios to ``l2``. Not a test: numbers depend on the machine and on what else
runs on it (the load average is recorded; ``none`` against ``l2``, the same batched computation,
shows the noise). Each call appends one dated entry to the output JSON's ``runs``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from gan_l2_lib.batched import train_batched
from gan_l2_lib.data import load_dataset
from gan_l2_lib.sweep import SweepConfig
from gan_l2_lib.train import train_gan

#: Each method as the fields it sets on the base config.
METHODS = {
    "l2": dict(lambda_d=1e-2),
    "none": dict(lambda_d=0.0),
    "r1": dict(d_regularizer="r1", r1_gamma=1.0),
    "spectral_norm": dict(d_regularizer="spectral_norm"),
    "adamw": dict(weight_decay_d=1e-2, penalize="weights"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("ring8", "stacked_mnist"), default="ring8")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "bench_regularizers.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    base = SweepConfig.default(args.dataset).base.replace(steps=args.steps, log_every=100, eval_every=args.steps)
    data = load_dataset(args.dataset)
    load_before = os.getloadavg()
    for fields in METHODS.values():  # warm-up, untimed: the first calls of vmap and autograd are slower
        warm = base.replace(steps=5, eval_every=5, **fields)
        train_batched([warm.replace(seed=s) for s in range(args.members)], data, progress=False)
        train_gan(warm, data, progress=False)
    times: dict[str, dict[str, list[float]]] = {m: {"batched": [], "single": []} for m in METHODS}
    for _ in range(args.repeats):
        for method, fields in METHODS.items():
            cfg = base.replace(**fields)
            members = [cfg.replace(seed=s) for s in range(args.members)]
            start = time.perf_counter()
            runs = train_batched(members, data, progress=False)
            times[method]["batched"].append(time.perf_counter() - start)
            assert not any(h.diverged for h in runs.histories), method
            start = time.perf_counter()
            train_gan(cfg, data, progress=False)
            times[method]["single"].append(time.perf_counter() - start)

    per_step = {m: {loop: min(ts) / args.steps for loop, ts in t.items()} for m, t in times.items()}
    median_per_step = {m: {loop: statistics.median(ts) / args.steps for loop, ts in t.items()} for m, t in times.items()}
    results = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__},
        "threads": args.threads, "steps": args.steps, "members": args.members, "repeats": args.repeats,
        "config": {k: v for k, v in base.to_dict().items()
                   if k in ("dataset", "batch_size", "toy_hidden", "latent_dim", "img_channels")},
        "methods": {m: {k: v for k, v in f.items()} for m, f in METHODS.items()},
        "load_average_before": load_before,
        "seconds_per_step": per_step,  # fastest of the repeats
        "ratio_to_l2": {m: {loop: s / per_step["l2"][loop] for loop, s in p.items()} for m, p in per_step.items()},
        "median_seconds_per_step": median_per_step,
        "median_ratio_to_l2": {m: {loop: s / median_per_step["l2"][loop] for loop, s in p.items()}
                               for m, p in median_per_step.items()},
        "all_times_s": times,
    }
    results["load_average_after"] = os.getloadavg()
    runs = json.loads(args.out.read_text())["runs"] if args.out.exists() else []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": [*runs, results]}, indent=2) + "\n")
    for m, r in results["ratio_to_l2"].items():
        print(f"{m:14s} batched {per_step[m]['batched'] * 1e3:7.2f} ms/step ({r['batched']:.2f}x)   "
              f"single {per_step[m]['single'] * 1e3:6.2f} ms/step ({r['single']:.2f}x)")
    print(f"load average before {load_before}, after {results['load_average_after']}")


if __name__ == "__main__":
    main()
