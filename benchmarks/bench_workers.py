"""Benchmark: a sweep trained here (serial) vs. on a local Dask cluster (``--workers N``).

Usage:  python benchmarks/bench_workers.py [--workers 2] [--out benchmarks/results/workers.json]

Runs ``python -m gan_l2_lib sweep`` as a user does, each time from an empty cache folder:
  ring8    - 12 runs (λ_G, λ_D ∈ {0, 1e-2}, 3 seeds), 2,000 steps, ``--max-batch 6``;
  mnist5k  - the ``--quick`` preset with 2 seeds (4 runs), 200 steps, ``--max-batch 2``;
once serially (PyTorch's default threads) and once with ``--workers N`` (single-threaded
worker processes). Wall time counts the whole command (process start, imports, the cluster's
start and stop, data and classifier loading). Each call appends one dated entry (machine, load
average before and after) to the JSON file. Not a test: numbers depend on the machine and on
what else runs on it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dask
import torch

ROOT = Path(__file__).resolve().parents[1]

WORKLOADS = {
    "ring8": ["--dataset", "ring8", "--quick", "--seeds", "3", "--steps", "2000", "--max-batch", "6"],
    "mnist5k": ["--dataset", "mnist5k", "--quick", "--seeds", "2", "--steps", "200", "--max-batch", "2"],
}


def run_cli(args: list[str], cache_dir: Path) -> dict:
    """Run the sweep command once; its wall time, the sweep's own time and the runs it trained."""
    cmd = [sys.executable, "-m", "gan_l2_lib", "sweep", *args, "--cache-dir", str(cache_dir), "--no-progress"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    wall = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    found = re.search(r"trained (\d+) runs, \d+ from the cache, in ([\d.]+) s", proc.stdout)
    return {"command_wall_s": wall, "run_sweep_s": float(found.group(2)), "trained": int(found.group(1))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", choices=sorted(WORKLOADS), nargs="+", default=sorted(WORKLOADS))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "workers.json")
    args = parser.parse_args()

    entry = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                    "python": platform.python_version(), "torch": torch.__version__, "dask": dask.__version__},
        "workers": args.workers,
        "load_average_before": list(os.getloadavg()),
        "workloads": {},
    }
    for name in args.only:
        row = {"args": WORKLOADS[name]}
        for variant, extra in (("serial", []), (f"workers_{args.workers}", ["--workers", str(args.workers)])):
            with tempfile.TemporaryDirectory() as tmp:
                load = list(os.getloadavg())
                row[variant] = {**run_cli(WORKLOADS[name] + extra, Path(tmp)), "load_average_before": load}
            print(f"{name} {variant}: {row[variant]['command_wall_s']:.1f} s "
                  f"(run_sweep {row[variant]['run_sweep_s']:.1f} s, load {load[0]:.2f})", flush=True)
        row["speedup_command"] = row["serial"]["command_wall_s"] / row[f"workers_{args.workers}"]["command_wall_s"]
        row["speedup_run_sweep"] = row["serial"]["run_sweep_s"] / row[f"workers_{args.workers}"]["run_sweep_s"]
        entry["workloads"][name] = row
    entry["load_average_after"] = list(os.getloadavg())

    history = json.loads(args.out.read_text()) if args.out.exists() else {"runs": []}
    history["runs"].append(entry)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(history, indent=2) + "\n")
    print(f"appended to {args.out}")


if __name__ == "__main__":
    main()
