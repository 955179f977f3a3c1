"""The command line: ``python -m gan_l2_lib sweep ...`` trains (or loads) a sweep and prints a table;
``python -m gan_l2_lib reproduce ...`` re-makes the shipped results and compares them with the shipped files."""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from .data import DATASET_NAMES
from .reproduce import (
    CPU_MEMBER_STEPS_PER_S,
    STATUSES,
    TOLERANCE,
    all_reproduced,
    estimate_seconds,
    find_shipped_runs,
    fresh_reproduce_dir,
    group_runs,
    reproduce,
    summarize,
)
from .sweep import (
    SweepConfig,
    default_sweep_cache_dir,
    named_sweeps,
    run_sweep,
    shipped_results_dir,
)
from .tables import format_table
from .train import pick_device


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m gan_l2_lib`` (commands ``sweep`` and ``reproduce``)."""
    parser = argparse.ArgumentParser(prog="python -m gan_l2_lib", description="gan-l2 command line")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sweep", help="train a λ_G × λ_D × seeds grid (cached, resumable)")
    p.add_argument("--dataset", default="ring8", choices=[d for d in DATASET_NAMES if d != "mnist"])
    p.add_argument("--lambda-g", type=float, nargs="+", help="λ_G values (default: the data set's grid)")
    p.add_argument("--lambda-d", type=float, nargs="+", help="λ_D values (default: the data set's grid)")
    p.add_argument("--seeds", type=int, help="number of seeds, 0 … N-1 (default: the data set's)")
    p.add_argument("--steps", type=int, help="training steps per run")
    p.add_argument("--quick", action="store_true", help="the CI-sized preset")
    p.add_argument("--named", choices=sorted(named_sweeps()),
                   help="a named sweep (sweep.evidence_sweeps, sweep.regularizer_sweeps) instead of --dataset's default")
    p.add_argument("--cache-dir", type=Path, help=f"run files (default {default_sweep_cache_dir()})")
    p.add_argument("--max-batch", type=int, help="runs per batched model (default: all)")
    p.add_argument("--cpu", action="store_true", help="stay on the CPU even if a GPU is present")
    p.add_argument("--no-progress", action="store_true")
    engine = p.add_mutually_exclusive_group()
    engine.add_argument("--workers", type=int, metavar="N",
                        help="train the batches on a local Dask cluster of N single-threaded processes")
    engine.add_argument("--scheduler", metavar="ADDRESS",
                        help="train the batches on a running Dask cluster (e.g. tcp://host:8786)")
    _add_reproduce_parser(sub)
    return parser


def _add_reproduce_parser(sub) -> None:
    rates = ", ".join(f"{k} {v:,.0f}" for k, v in CPU_MEMBER_STEPS_PER_S.items())
    p = sub.add_parser(
        "reproduce", help="re-make every shipped result from its files and compare with the shipped ones",
        description="Re-make the shipped results (gan_l2_lib/results/<dataset>/*.npz) from the configuration "
                    "stored in their files, into a separate folder, and compare each re-made run with the shipped "
                    "one: 'bitwise' (every array and number equal), 'within tolerance' (every summary metric "
                    f"within |new - shipped| <= {TOLERANCE:g} * max(1, |shipped|)), 'differs', or 'missing' "
                    "(unreadable, unreproducible or not re-made). GAN training is chaotic: runs trained on "
                    "another device or in another batch composition can differ beyond the tolerance. "
                    "The exit status is 1 when any run differs or is missing. Time estimate from the 2-core "
                    f"development CPU's member-steps/s ({rates}).")
    p.add_argument("--dataset", nargs="+", metavar="NAME", help="only these data sets (default: all shipped)")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="where the re-made runs go (default: a new folder under ~/.cache/gan_l2/reproduce); "
                        "runs already there are reused, so the same DIR resumes an interrupted call")
    p.add_argument("--shipped", type=Path, metavar="DIR",
                   help=f"compare with the run files in DIR instead (default {shipped_results_dir()})")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N", help="train on N local worker processes")
    where.add_argument("--scheduler", metavar="ADDR", help="train on the cluster at this scheduler address")
    p.add_argument("--quick-only", action="store_true",
                   help="only the CI-sized shipped runs (the quick default sweeps, e.g. 4 ring8 runs)")
    p.add_argument("--max-batch", type=int, metavar="B", help="runs per batched model (default: a whole group)")
    p.add_argument("--gpu", action="store_true",
                   help="train on a GPU if present (the shipped runs were made on a CPU: expect no bitwise match)")
    p.add_argument("--no-progress", action="store_true")


def sweep_from_args(args: argparse.Namespace) -> SweepConfig:
    """The data set's default sweep with the command line's changes.

    Args:
        args: parsed by ``build_parser``.

    Returns:
        The ``SweepConfig`` to run.

    Raises:
        ValueError: if a value is not allowed (``--seeds`` below 1, a negative λ, ...).
    """
    if args.named is not None:
        if args.quick:
            raise ValueError("--named and --quick exclude each other: a named sweep has no quick preset")
        sweep = named_sweeps()[args.named]
    else:
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
    return dataclasses.replace(sweep, **changes)


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "unknown"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _print_reproduction(comparisons) -> None:
    """The table of ``reproduce``'s outcomes, per data set, then each run that is not reproduced."""
    rows = summarize(comparisons)
    header = ["dataset", "runs", *STATUSES, "largest rel. diff"]
    lines = []
    for name, row in rows.items():
        worst = max(row.largest.items(), key=lambda kv: kv[1], default=None)
        lines.append([name, str(row.runs), *(str(row.counts[s]) for s in STATUSES),
                      "-" if worst is None else f"{worst[1]:.3g} ({worst[0]})" if worst[1] else "0"])
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]
    for r in [header, *lines]:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    print(f"largest relative difference per metric (|new - shipped| / max(1, |shipped|); tolerance {TOLERANCE:g}):")
    for name, row in rows.items():
        if row.largest:
            print(f"  {name}: " + ", ".join(f"{k} {v:.3g}" for k, v in sorted(row.largest.items())))
    for c in comparisons:
        if c.status in ("differs", "missing"):
            print(f"{c.status}: {c.dataset}/{c.path.name}: {c.detail}")


def _reproduce_main(args: argparse.Namespace) -> int:
    """``python -m gan_l2_lib reproduce``: plan, estimate, train, compare, print."""
    for name in ("workers", "max_batch"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    runs = find_shipped_runs(args.shipped, args.dataset, args.quick_only)
    if not runs:
        raise ValueError("no shipped runs selected" + (" (--quick-only found none)" if args.quick_only else ""))
    groups = group_runs(runs)
    estimate = estimate_seconds(groups)
    per_set = ", ".join(f"{k} {sum(len(g.runs) for g in groups if g.sweep.base.dataset == k)} runs "
                        f"~{_duration(v)}" for k, v in estimate.items())
    print(f"reproduce: {len(runs)} shipped runs in {len(groups)} group(s); estimated training time on the "
          f"2-core development CPU: {_duration(sum(estimate.values()))} ({per_set or 'nothing to train'}; "
          "training steps only: the shipped ring8 sweep took twice its estimate, evaluation included)")
    out = args.out if args.out is not None else fresh_reproduce_dir()
    print(f"re-made runs go to {out}")
    start = time.perf_counter()
    try:
        comparisons = reproduce(runs, out, args.shipped, pick_device(args.gpu), progress=not args.no_progress,
                                max_batch=args.max_batch, workers=args.workers, scheduler=args.scheduler)
    except ValueError:
        if args.out is None and not any(Path(out).iterdir()):
            Path(out).rmdir()  # the fresh folder this call made, still empty
        raise
    print(f"done in {time.perf_counter() - start:.1f} s")
    _print_reproduction(comparisons)
    return 0 if all_reproduced(comparisons) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m gan_l2_lib sweep`` and ``python -m gan_l2_lib reproduce``.

    Args:
        argv: the arguments after the program name; None reads ``sys.argv``.

    Returns:
        The exit status: 0 on success, 2 when a value is not allowed (the message says why);
        ``reproduce`` returns 1 when a run differs beyond the tolerance or is missing.
    """
    args = build_parser().parse_args(argv)
    # This process is ours: flush subnormal floats to zero. Long runs drift into subnormal
    # values (Adam state, decayed weights), which the CPU computes many times slower; measured
    # here: 80 vs 118 ms per step averaged over 2,000 steps of 10 ring8 members.
    torch.set_flush_denormal(True)
    if args.command == "reproduce":
        try:
            return _reproduce_main(args)
        except ValueError as err:
            print(f"error: {err}")
            return 2
    try:
        sweep = sweep_from_args(args)
        n = len(sweep.members())
        print(f"sweep {args.named or sweep.base.dataset}: {len(sweep.lambda_g)} λ_G × {len(sweep.lambda_d)} λ_D × "
              f"{len(sweep.seeds)} seeds = {n} runs, {sweep.base.steps} steps each")
        result = run_sweep(sweep, args.cache_dir, pick_device(not args.cpu), progress=not args.no_progress,
                           max_batch=args.max_batch, workers=args.workers, scheduler=args.scheduler)
    except ValueError as err:
        print(f"error: {err}")
        return 2
    print(f"trained {result.trained} runs, {n - result.trained} from the cache, in {result.wall_time_s:.1f} s")
    print(format_table(result))
    return 0
