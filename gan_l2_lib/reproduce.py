"""Re-making the shipped results from their files alone, and comparing them with the shipped ones.

A shipped run file (``sweep.save_record``) holds its ``TrainConfig`` and its key; the key also
hashes two sweep fields (``eval_last``, ``n_stored_samples``; see ``sweep.run_key``) that files
written before schema 2 gained ``"sweep"`` in their meta do not store. They are recovered per
file (``recover_sweep_fields``); runs that differ only in (λ_G, λ_D, seed) are grouped and each
group is trained as one sweep (``sweep.run_sweep`` with an explicit member list) into a separate
folder, then every re-made record is compared with the shipped one (``compare_records``). The
command line is ``python -m gan_l2_lib reproduce`` (``cli.main``); this module returns data only.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .data import DATASET_NAMES, default_cache_dir
from .sweep import (
    RunRecord,
    SweepConfig,
    load_record,
    run_key,
    run_path,
    run_sweep,
    scoring_classifier_hash,
    shipped_results_dir,
)
from .train import TrainConfig

#: A summary metric is reproduced "within tolerance" when |new − shipped| ≤ TOLERANCE · max(1, |shipped|).
TOLERANCE = 0.02
#: ``eval_last`` values tried when a file does not store it (the key tells which one it was).
EVAL_LAST_TRIES = tuple(range(1, 21))
#: Member-steps per second of a batched sweep on the 2-core development CPU (README, "Benchmarks":
#: ring8, 75 members, 1,530; the article's digit nets on mnist5k, 12 members, 45.7; stacked_mnist
#: took 2.8× mnist5k's time in the shipped sweeps, so about a third). Only for the time estimate.
CPU_MEMBER_STEPS_PER_S = {"ring8": 1530.0, "grid25": 1530.0, "mnist5k": 45.7, "stacked_mnist": 15.0}
#: A batched step takes at least this long however few members it holds (measured on the same CPU,
#: one thread: the 4 quick ring8 members ran 112 steps/s, where the rate alone says 380).
CPU_MIN_STEP_S = 0.009
#: The outcomes of one run, in the table's order.
STATUSES = ("bitwise", "within tolerance", "differs", "missing")


# ---------------------------------------------------------------------------------------------
# Reading the shipped files
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShippedRun:
    """One shipped run file and what re-making it needs.

    Attributes:
        path: the file.
        dataset: its data set (the folder's name).
        record: its contents, None when unreadable.
        eval_last, n_stored_samples: the sweep fields its key hashes (stored or recovered);
            None when they could not be re-derived.
        problem: why it cannot be re-made (``"unreadable: …"``, ``"unreproducible: …"``), or None.
    """

    path: Path
    dataset: str
    record: RunRecord | None
    eval_last: int | None
    n_stored_samples: int | None
    problem: str | None

    @property
    def config(self) -> TrainConfig | None:
        """The run's ``TrainConfig`` (None when unreadable)."""
        return self.record.config if self.record is not None else None


def _one_run_sweep(cfg: TrainConfig, eval_last: int, n_stored_samples: int, snapshots: int = 0) -> SweepConfig:
    return SweepConfig(cfg, lambda_g=(cfg.lambda_g,), lambda_d=(cfg.lambda_d,), seeds=(cfg.seed,),
                       eval_last=eval_last, n_stored_samples=n_stored_samples, snapshots=snapshots)


def _known_n_stored() -> list[int]:
    """``n_stored_samples`` of every default sweep (quick or not), largest first."""
    values = {SweepConfig.n_stored_samples}
    for name in DATASET_NAMES:
        for quick in (False, True):
            try:
                values.add(SweepConfig.default(name, quick=quick).n_stored_samples)
            except ValueError:
                continue
    return sorted(values, reverse=True)


def recover_sweep_fields(record: RunRecord) -> tuple[int, int] | None:
    """The ``(eval_last, n_stored_samples)`` that give ``record.key`` with ``record.config``.

    Values stored in the file are tried first. Otherwise ``n_stored_samples`` is the stored
    samples' count (or, when a run kept fewer samples than asked, a default sweep's value above
    the count) and ``eval_last`` is tried over ``EVAL_LAST_TRIES`` until ``sweep.run_key``
    equals the stored key.

    Args:
        record: a loaded run (``sweep.load_record``).

    Returns:
        ``(eval_last, n_stored_samples)``, or None when no candidate re-derives the key.
    """
    cfg = record.config
    candidates = []
    if record.eval_last is not None and record.n_stored_samples is not None:
        candidates.append((record.eval_last, record.n_stored_samples))
    count = len(record.samples)
    n_values = [n for n in [count, *_known_n_stored()] if n >= max(count, 1)]
    candidates += [(e, n) for n in dict.fromkeys(n_values) for e in EVAL_LAST_TRIES]
    for eval_last, n_stored in candidates:
        try:
            sweep = _one_run_sweep(cfg, eval_last, n_stored, record.snapshots)
        except ValueError:  # a config no sweep can hold (weight decay): nothing to re-derive
            return None
        if run_key(cfg, sweep, record.classifier_hash) == record.key:  # the classifier: as it was scored
            return eval_last, n_stored
    return None


def _check_datasets(shipped_dir: Path, datasets: Sequence[str] | None) -> list[str]:
    if not shipped_dir.is_dir():
        raise ValueError(f"no shipped results folder at {shipped_dir}")
    present = sorted(p.name for p in shipped_dir.iterdir() if p.is_dir() and p.name in DATASET_NAMES)
    if datasets is None:
        return present
    if isinstance(datasets, str):
        datasets = [datasets]
    for name in datasets:
        if name not in DATASET_NAMES:
            raise ValueError(f"unknown data set {name!r}; valid names are: {', '.join(DATASET_NAMES)}")
        if name not in present:
            raise ValueError(f"no shipped results for {name!r} in {shipped_dir}; "
                             f"shipped: {', '.join(present) or 'none'}")
    return list(dict.fromkeys(datasets))


def is_quick(run: ShippedRun) -> bool:
    """Whether a run belongs to its data set's CI-sized default sweep (``SweepConfig.default(…, quick=True)``).

    Its config, the two stored sweep fields and its snapshots must all be the preset's.
    """
    if run.problem is not None:
        return False
    try:
        quick = SweepConfig.default(run.dataset, quick=True)
    except ValueError:
        return False
    return (run.eval_last, run.n_stored_samples, run.record.snapshots) == \
        (quick.eval_last, quick.n_stored_samples, quick.snapshots) and run.config in quick.members()


def find_shipped_runs(shipped_dir: str | Path | None = None, datasets: Sequence[str] | None = None,
                      quick_only: bool = False) -> list[ShippedRun]:
    """Every shipped run file, read, with its sweep fields recovered.

    Args:
        shipped_dir: the folder of ``<dataset>/*.npz`` files (default ``sweep.shipped_results_dir()``).
        datasets: only these data sets (default: every data set folder there).
        quick_only: only runs of the CI-sized default sweeps (``is_quick``); unreadable and
            unreproducible files are then left out too, since their config is unknown.

    Returns:
        One ``ShippedRun`` per file, sorted by data set and file name.

    Raises:
        ValueError: for an unknown data set name, one with no shipped folder, or a missing folder.
    """
    shipped_dir = Path(shipped_dir) if shipped_dir is not None else shipped_results_dir()
    runs = []
    for name in _check_datasets(shipped_dir, datasets):
        for path in sorted((shipped_dir / name).glob("*.npz")):
            try:
                record = load_record(path)
            except ValueError as err:
                runs.append(ShippedRun(path, name, None, None, None, f"unreadable: {err}"))
                continue
            if record.config.dataset != name:
                runs.append(ShippedRun(path, name, record, None, None,
                                       f"unreproducible: a {record.config.dataset} run in the {name} folder"))
                continue
            fields = recover_sweep_fields(record)
            if fields is None:
                runs.append(ShippedRun(path, name, record, None, None,
                                       f"unreproducible: its key {record.key} cannot be re-derived from its "
                                       f"config (eval_last tried {EVAL_LAST_TRIES[0]}…{EVAL_LAST_TRIES[-1]})"))
                continue
            runs.append(ShippedRun(path, name, record, *fields, None))
    return [r for r in runs if is_quick(r)] if quick_only else runs


# ---------------------------------------------------------------------------------------------
# Grouping and the time estimate
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunGroup:
    """Runs that differ only in (λ_G, λ_D, seed) and share the sweep fields: one batched sweep.

    Attributes:
        sweep: a ``SweepConfig`` spanning the members (its grid may hold more points than
            ``members``: only the members are trained).
        runs: the shipped runs, ordered like a sweep's members (λ_G, then λ_D, then seed).
    """

    sweep: SweepConfig
    runs: tuple[ShippedRun, ...]

    @property
    def members(self) -> list[TrainConfig]:
        """The runs' configs, in order."""
        return [r.config for r in self.runs]

    @property
    def member_steps(self) -> int:
        """Training steps of all members together."""
        return len(self.runs) * self.sweep.base.steps


def group_runs(runs: Sequence[ShippedRun]) -> list[RunGroup]:
    """Group re-makeable runs into sweeps that can be trained as batches.

    Args:
        runs: from ``find_shipped_runs``; those with a ``problem`` are skipped.

    Returns:
        The groups, in order of first appearance.
    """
    groups: dict[tuple, list[ShippedRun]] = {}
    for run in runs:
        if run.problem is not None:
            continue
        shared = run.config.replace(lambda_g=0.0, lambda_d=0.0, seed=0)
        groups.setdefault((shared, run.eval_last, run.n_stored_samples, run.record.snapshots), []).append(run)
    out = []
    for (base, eval_last, n_stored, snapshots), members in groups.items():
        members = sorted(members, key=lambda r: (r.config.lambda_g, r.config.lambda_d, r.config.seed))
        sweep = SweepConfig(base, lambda_g=tuple(sorted({r.config.lambda_g for r in members})),
                            lambda_d=tuple(sorted({r.config.lambda_d for r in members})),
                            seeds=tuple(sorted({r.config.seed for r in members})),
                            eval_last=eval_last, n_stored_samples=n_stored, snapshots=snapshots)
        out.append(RunGroup(sweep, tuple(members)))
    return out


def estimate_seconds(groups: Sequence[RunGroup]) -> dict[str, float]:
    """Estimated training time per data set on the 2-core development CPU.

    Per group: steps × max(members ÷ ``CPU_MEMBER_STEPS_PER_S``, ``CPU_MIN_STEP_S``), i.e.
    member-steps ÷ the rate for a large batch; evaluation is not counted.

    Args:
        groups: from ``group_runs``.

    Returns:
        Seconds per data set; NaN for a data set without a measured rate.
    """
    out: dict[str, float] = {}
    for g in groups:
        name = g.sweep.base.dataset
        rate = CPU_MEMBER_STEPS_PER_S.get(name, float("nan"))
        out[name] = out.get(name, 0.0) + g.sweep.base.steps * max(len(g.runs) / rate, CPU_MIN_STEP_S)
    return out


# ---------------------------------------------------------------------------------------------
# Comparing a re-made record with the shipped one
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunComparison:
    """How one shipped run was reproduced.

    Attributes:
        path: the shipped file.
        dataset: its data set.
        status: one of ``STATUSES``.
        rel_diffs: per summary metric in both records, |new − shipped| / max(1, |shipped|)
            (0 when both are NaN, inf when one is); empty when missing.
        detail: what differs or why it is missing ("" when reproduced bitwise).
    """

    path: Path
    dataset: str
    status: str
    rel_diffs: dict[str, float]
    detail: str

    @property
    def largest(self) -> tuple[str, float] | None:
        """The metric with the largest relative difference and that difference (None if none)."""
        if not self.rel_diffs:
            return None
        name = max(self.rel_diffs, key=lambda k: self.rel_diffs[k])
        return name, self.rel_diffs[name]


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=True))


def _same_dict(a: dict, b: dict) -> bool:
    return set(a) == set(b) and all(_same(a[k], b[k]) for k in a)


def bitwise_equal(shipped: RunRecord, new: RunRecord) -> bool:
    """Whether two records hold the same arrays and numbers (the wall time and stored sweep fields aside)."""
    return (_same(shipped.steps, new.steps) and _same(shipped.eval_steps, new.eval_steps)
            and _same_dict(shipped.scalars, new.scalars) and _same_dict(shipped.curves, new.curves)
            and _same(shipped.samples, new.samples) and _same(shipped.surface, new.surface)
            and shipped.surface_extent == new.surface_extent
            and _same_dict({k: np.float64(v) for k, v in shipped.summary.items()},
                           {k: np.float64(v) for k, v in new.summary.items()})
            and shipped.diverged == new.diverged and shipped.diverged_step == new.diverged_step)


def relative_differences(shipped: dict[str, float], new: dict[str, float]) -> dict[str, float]:
    """|new − shipped| / max(1, |shipped|) per metric of ``shipped`` (inf when ``new`` lacks it).

    Both NaN counts as equal (0); one NaN as inf.
    """
    out = {}
    for name, a in shipped.items():
        b = new.get(name)
        if b is None:  # a metric the re-made record lacks
            out[name] = math.inf
        elif math.isnan(a) or math.isnan(b):
            out[name] = 0.0 if math.isnan(a) and math.isnan(b) else math.inf
        elif a == b:  # also inf == inf, whose difference would be NaN
            out[name] = 0.0
        elif math.isinf(a) or math.isinf(b):  # (inf − x) / inf would be NaN too
            out[name] = math.inf
        else:
            out[name] = abs(b - a) / max(1.0, abs(a))
    return out


def compare_records(shipped: RunRecord, new: RunRecord, tolerance: float = TOLERANCE) -> tuple[str, dict, str]:
    """Classify a re-made record against the shipped one.

    Args:
        shipped, new: the two records of one run (same key).
        tolerance: the largest allowed relative difference of a summary metric.

    Returns:
        ``(status, rel_diffs, detail)``: status ``"bitwise"`` (``bitwise_equal``), ``"within
        tolerance"`` (every summary metric of the shipped record within ``tolerance``) or
        ``"differs"``; ``rel_diffs`` from ``relative_differences``.

    Raises:
        ValueError: for records of different runs or a tolerance that is not ≥ 0.
    """
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not tolerance >= 0:
        raise ValueError(f"tolerance must be a number >= 0, got {tolerance!r}")
    if shipped.key != new.key:
        raise ValueError(f"the records are of different runs: {shipped.key} and {new.key}")
    diffs = relative_differences(shipped.summary, new.summary)
    if bitwise_equal(shipped, new):
        return "bitwise", diffs, ""
    name, worst = max(diffs.items(), key=lambda kv: kv[1]) if diffs else ("", 0.0)
    if worst <= tolerance:
        return "within tolerance", diffs, f"largest: {name} {worst:.3g}" if name else "arrays differ"
    return "differs", diffs, f"largest: {name} {worst:.3g} (shipped {shipped.summary[name]:.4g}, " \
                             f"re-made {new.summary.get(name, float('nan')):.4g})"


# ---------------------------------------------------------------------------------------------
# Re-making
# ---------------------------------------------------------------------------------------------


def fresh_reproduce_dir() -> Path:
    """A new, empty folder under ``~/.cache/gan_l2/reproduce`` (named by the date and time)."""
    root = default_cache_dir() / "reproduce"
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=root))


def reproduce(
    runs: Sequence[ShippedRun],
    out_dir: str | Path,
    shipped_dir: str | Path | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    max_batch: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    classifier=None,
    tolerance: float = TOLERANCE,
) -> list[RunComparison]:
    """Re-make shipped runs into ``out_dir`` (one ``run_sweep`` per group) and compare each.

    Runs already in ``out_dir`` (an interrupted earlier call) are loaded, not trained again.

    Args:
        runs: from ``find_shipped_runs``.
        out_dir: where the re-made files go (``<dataset>/*.npz``); never the shipped folder.
        shipped_dir: the shipped folder, only to refuse writing into it (default the package's).
        device: where to train (the shipped results were made on a CPU: bitwise needs one).
        progress: show progress bars.
        max_batch, workers, scheduler, classifier: passed to ``sweep.run_sweep``.
        tolerance: see ``compare_records``.

    Returns:
        One ``RunComparison`` per run, in the order of ``runs``; unreadable and unreproducible
        runs are ``"missing"``.

    Raises:
        ValueError: if ``out_dir`` is (inside) the shipped folder or holds a shipped file.
    """
    out_dir = Path(out_dir).resolve()
    shipped_dir = Path(shipped_dir) if shipped_dir is not None else shipped_results_dir()
    forbidden = {shipped_dir.resolve(), shipped_results_dir().resolve()} | \
        {r.path.resolve().parent.parent for r in runs}
    for folder in forbidden:
        if out_dir == folder or folder in out_dir.parents:
            raise ValueError(f"out_dir {out_dir} is (inside) the shipped results folder {folder}; "
                             "re-made runs must go elsewhere")
    groups = group_runs(runs)
    for g in groups:  # a copy of a shipped file would "reproduce" bitwise without training anything
        for run in g.runs:
            target = run_path(run.config, g.sweep, out_dir, scoring_classifier_hash(run.config.dataset, classifier))
            if target.exists() and target.read_bytes() == run.path.read_bytes():
                raise ValueError(f"out_dir holds a copy of the shipped file {run.path.name}; a re-made run "
                                 "always differs from it (its wall time at least): use an empty folder")
    remade: dict[Path, RunRecord | str] = {}
    bar = tqdm(total=sum(len(g.runs) for g in groups), unit="run", desc="reproduce", disable=not progress)
    for g in groups:
        run_sweep(g.sweep, out_dir, device, progress=progress, max_batch=max_batch, classifier=classifier,
                  members=g.members, workers=workers, scheduler=scheduler)
        for run in g.runs:
            path = run_path(run.config, g.sweep, out_dir, scoring_classifier_hash(run.config.dataset, classifier))
            try:  # read back what was written: the file is what is compared
                remade[run.path] = load_record(path, run.record.key)
            except ValueError as err:
                remade[run.path] = f"not re-made: {err}"
        bar.update(len(g.runs))
    bar.close()
    out = []
    for run in runs:
        new = remade.get(run.path, run.problem)
        if not isinstance(new, RunRecord):
            out.append(RunComparison(run.path, run.dataset, "missing", {}, new or "not re-made"))
            continue
        status, diffs, detail = compare_records(run.record, new, tolerance)
        out.append(RunComparison(run.path, run.dataset, status, diffs, detail))
    return out


@dataclass(frozen=True)
class DatasetSummary:
    """One data set's row of the reproduction table.

    Attributes:
        counts: runs per status (every key of ``STATUSES``).
        largest: per summary metric, the largest relative difference over its compared runs.
    """

    counts: dict[str, int]
    largest: dict[str, float]

    @property
    def runs(self) -> int:
        """All runs of the data set."""
        return sum(self.counts.values())


def summarize(comparisons: Sequence[RunComparison]) -> dict[str, DatasetSummary]:
    """Per data set: how many runs per status and the largest relative difference per metric.

    Args:
        comparisons: from ``reproduce``.

    Returns:
        ``{dataset: DatasetSummary}`` in order of first appearance.
    """
    out: dict[str, DatasetSummary] = {}
    for c in comparisons:
        row = out.setdefault(c.dataset, DatasetSummary({s: 0 for s in STATUSES}, {}))
        row.counts[c.status] += 1
        for name, d in c.rel_diffs.items():
            row.largest[name] = max(row.largest.get(name, 0.0), d)
    return out


def all_reproduced(comparisons: Sequence[RunComparison]) -> bool:
    """True when every run is reproduced bitwise or within tolerance (and there is at least one)."""
    return bool(comparisons) and all(c.status in STATUSES[:2] for c in comparisons)
