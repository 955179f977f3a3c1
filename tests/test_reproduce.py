"""Re-making shipped runs: recovering the sweep fields, grouping, the estimate, the comparison."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from gan_l2_lib import reproduce as rp
from gan_l2_lib.reproduce import (
    ShippedRun,
    all_reproduced,
    compare_records,
    estimate_seconds,
    find_shipped_runs,
    group_runs,
    is_quick,
    recover_sweep_fields,
    relative_differences,
    reproduce,
    summarize,
)
from gan_l2_lib.sweep import RunRecord, SweepConfig, load_record, run_path, run_sweep
from gan_l2_lib.train import TrainConfig


def _edit_meta(path: Path, edit) -> None:
    """Rewrite a run file with ``edit(meta)`` applied to its JSON meta (every array kept)."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    edit(meta)
    arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


def _forget_sweep_fields(meta: dict) -> None:
    """Make a file look like one written before the meta held ``"sweep"``."""
    meta.pop("sweep")


def _one_run(tmp_path, eval_last: int, n_stored: int, n_eval: int = 64) -> tuple[Path, SweepConfig]:
    base = TrainConfig.preset("ring8", steps=20, batch_size=16, toy_hidden=16, log_every=10, eval_every=10,
                              n_eval_samples=n_eval)
    sweep = SweepConfig(base, lambda_g=(1e-3,), lambda_d=(0.0,), seeds=(1,), eval_last=eval_last,
                        n_stored_samples=n_stored)
    run_sweep(sweep, tmp_path, progress=False)
    return run_path(sweep.members()[0], sweep, tmp_path), sweep


def test_eval_last_is_recovered_from_the_key(tmp_path):
    path, _ = _one_run(tmp_path, eval_last=7, n_stored=30)
    assert (load_record(path).eval_last, load_record(path).n_stored_samples) == (7, 30)  # stored now
    _edit_meta(path, _forget_sweep_fields)
    old = load_record(path)
    assert old.eval_last is None and old.n_stored_samples is None
    assert recover_sweep_fields(old) == (7, 30)
    # a stored value is preferred, and checked against the key
    old.eval_last, old.n_stored_samples = 7, 30
    assert recover_sweep_fields(old) == (7, 30)
    old.key = "0" * 20  # no (eval_last, n_stored_samples) gives this key
    assert recover_sweep_fields(old) is None


def test_n_stored_above_the_sample_count_is_recovered(tmp_path):
    """A run that kept fewer samples than asked (64 evaluated, 200 asked): a default sweep's value is tried."""
    path, _ = _one_run(tmp_path, eval_last=2, n_stored=200, n_eval=64)
    _edit_meta(path, _forget_sweep_fields)
    rec = load_record(path)
    assert len(rec.samples) == 64
    assert recover_sweep_fields(rec) == (2, 200)


def test_unreproducible_and_unreadable_files_are_reported(tiny_shipped):
    folder, sweep = tiny_shipped
    paths = [run_path(m, sweep, folder) for m in sweep.members()]
    _edit_meta(paths[0], lambda meta: meta.update(key="f" * 20))
    paths[1].write_bytes(paths[1].read_bytes()[:100])
    runs = {r.path: r for r in find_shipped_runs(folder)}
    assert len(runs) == 4
    assert runs[paths[0]].problem.startswith("unreproducible") and "f" * 20 in runs[paths[0]].problem
    assert runs[paths[1]].problem.startswith("unreadable") and runs[paths[1]].record is None
    assert runs[paths[2]].problem is None and (runs[paths[2]].eval_last, runs[paths[2]].n_stored_samples) == (3, 50)


def _fake_run(cfg: TrainConfig, eval_last: int = 3, n_stored: int = 50, problem: str | None = None,
              snapshots: int = 0) -> ShippedRun:
    empty = np.zeros(0)
    rec = RunRecord(cfg, "k", empty, {}, empty, {}, np.zeros((0, 2)), None, None, {}, False, None, 0.0,
                    snapshots=snapshots)
    return ShippedRun(Path(f"/nowhere/{cfg.dataset}/{cfg.lambda_g}_{cfg.lambda_d}_{cfg.seed}.npz"), cfg.dataset,
                      rec, eval_last, n_stored, problem)


def test_grouping():
    base = TrainConfig.preset("ring8", steps=100)
    a = [_fake_run(base.replace(lambda_g=g, lambda_d=d, seed=s)) for g, d, s in
         [(1e-2, 0.0, 0), (0.0, 1e-2, 1), (0.0, 1e-2, 0), (0.0, 0.0, 0)]]  # not a full grid
    longer = _fake_run(base.replace(steps=200))
    other_fields = _fake_run(base, eval_last=5)
    broken = _fake_run(base, problem="unreadable: x")
    grid25 = _fake_run(TrainConfig.preset("grid25", steps=100))
    groups = group_runs([*a, longer, other_fields, broken, grid25])
    assert [len(g.runs) for g in groups] == [4, 1, 1, 1]
    first = groups[0]
    # ordered like a sweep's members: λ_G, then λ_D, then seed
    assert [(m.lambda_g, m.lambda_d, m.seed) for m in first.members] == \
        [(0.0, 0.0, 0), (0.0, 1e-2, 0), (0.0, 1e-2, 1), (1e-2, 0.0, 0)]
    assert first.sweep.lambda_g == (0.0, 1e-2) and first.sweep.seeds == (0, 1)
    assert first.member_steps == 400
    assert groups[1].sweep.base.steps == 200 and groups[2].sweep.eval_last == 5
    assert groups[3].sweep.base.dataset == "grid25"
    assert not any(r is broken for g in groups for r in g.runs)


def test_estimate_and_quick_selection():
    quick = SweepConfig.default("ring8", quick=True)
    fields = dict(eval_last=quick.eval_last, n_stored=quick.n_stored_samples, snapshots=quick.snapshots)
    runs = [_fake_run(m, **fields) for m in quick.members()]
    assert all(is_quick(r) for r in runs)
    assert quick.snapshots > 0  # the quick preset keeps snapshots: a run without them is an older one
    assert not is_quick(_fake_run(quick.members()[0], **(fields | {"snapshots": 0})))
    assert not is_quick(_fake_run(quick.members()[0], **(fields | {"eval_last": quick.eval_last + 1})))
    assert not is_quick(_fake_run(quick.members()[0].replace(steps=301), **fields))
    est = estimate_seconds(group_runs(runs))
    assert est["ring8"] == pytest.approx(300 * max(4 / rp.CPU_MEMBER_STEPS_PER_S["ring8"], rp.CPU_MIN_STEP_S))
    full = SweepConfig.default("ring8")  # 250 members: the measured large-batch rate
    est = estimate_seconds(group_runs([_fake_run(m, full.eval_last, full.n_stored_samples) for m in full.members()]))
    assert est["ring8"] == pytest.approx(250 * 20_000 / rp.CPU_MEMBER_STEPS_PER_S["ring8"])
    digits = _fake_run(TrainConfig.preset("digits8", steps=10))
    assert math.isnan(estimate_seconds(group_runs([digits]))["digits8"])  # no measured rate


def test_reproduce_a_tiny_sweep_bitwise(tiny_shipped, tmp_path):
    folder, sweep = tiny_shipped
    # two of the "shipped" files predate the stored sweep fields: recovered from the key
    for m in sweep.members()[:2]:
        _edit_meta(run_path(m, sweep, folder), _forget_sweep_fields)
    runs = find_shipped_runs(folder)
    assert [r.problem for r in runs] == [None] * 4
    out = tmp_path / "out"
    comparisons = reproduce(runs, out, folder, progress=False)
    assert [c.status for c in comparisons] == ["bitwise"] * 4, [c.detail for c in comparisons]
    assert all(v == 0 for c in comparisons for v in c.rel_diffs.values())
    assert all_reproduced(comparisons)
    assert len(list((out / "ring8").glob("*.npz"))) == 4
    row = summarize(comparisons)["ring8"]
    assert row.counts["bitwise"] == 4 and row.runs == 4 and row.largest["modes_covered"] == 0


def test_tampered_and_unreadable_files_are_reported(tiny_shipped, tmp_path):
    folder, sweep = tiny_shipped
    paths = [run_path(m, sweep, folder) for m in sweep.members()]
    shipped = load_record(paths[0]).summary["modes_covered"]
    _edit_meta(paths[0], lambda meta: meta["summary"].update(modes_covered=shipped + 1.5))  # key kept
    paths[3].write_bytes(b"not a zip file")
    comparisons = {c.path: c for c in reproduce(find_shipped_runs(folder), tmp_path / "out", folder, progress=False)}
    tampered = comparisons[paths[0]]
    assert tampered.status == "differs" and "modes_covered" in tampered.detail
    assert tampered.largest == ("modes_covered", pytest.approx(1.5 / max(1.0, shipped + 1.5)))
    assert comparisons[paths[3]].status == "missing" and "unreadable" in comparisons[paths[3]].detail
    assert comparisons[paths[1]].status == "bitwise"
    assert not all_reproduced(list(comparisons.values()))
    counts = summarize(list(comparisons.values()))["ring8"].counts
    assert counts == {"bitwise": 2, "within tolerance": 0, "differs": 1, "missing": 1}


def test_comparison_tolerance(tiny_shipped):
    folder, sweep = tiny_shipped
    rec = load_record(run_path(sweep.members()[0], sweep, folder))
    new = load_record(run_path(sweep.members()[0], sweep, folder))
    assert compare_records(rec, new)[0] == "bitwise"
    new.summary["high_quality_fraction"] = rec.summary["high_quality_fraction"] + 0.01  # within 0.02 · max(1, |value|)
    assert compare_records(rec, new)[0] == "within tolerance"
    assert compare_records(rec, new, tolerance=0.001)[0] == "differs"
    new.samples = new.samples + 1e-3  # any array differing: no longer bitwise
    new.summary["high_quality_fraction"] = rec.summary["high_quality_fraction"]
    assert compare_records(rec, new)[0] == "within tolerance"
    diffs = relative_differences({"a": 10.0, "b": float("nan"), "c": float("nan"), "d": 1.0},
                                 {"a": 10.5, "b": float("nan"), "c": 0.0})
    assert diffs == {"a": pytest.approx(0.05), "b": 0.0, "c": math.inf, "d": math.inf}


def test_workers_and_scheduler_are_passed_to_run_sweep(tiny_shipped, tmp_path, monkeypatch):
    folder, _ = tiny_shipped
    seen = []

    def spy(*args, workers=None, scheduler=None, **kw):
        seen.append((workers, scheduler, kw["max_batch"], len(kw["members"])))
        return run_sweep(*args, **kw)

    monkeypatch.setattr(rp, "run_sweep", spy)
    reproduce(find_shipped_runs(folder), tmp_path / "out", folder, progress=False, max_batch=2, workers=3,
              scheduler="tcp://x:1")
    assert seen == [(3, "tcp://x:1", 2, 4)]


def test_bad_input(tiny_shipped, tmp_path):
    folder, sweep = tiny_shipped
    with pytest.raises(ValueError, match="unknown data set 'nope'; valid names"):
        find_shipped_runs(folder, ["nope"])
    with pytest.raises(ValueError, match="no shipped results for 'grid25'.*shipped: ring8"):
        find_shipped_runs(folder, ["grid25"])
    with pytest.raises(ValueError, match="no shipped results folder"):
        find_shipped_runs(tmp_path / "absent")
    runs = find_shipped_runs(folder)
    for out in (folder, folder / "ring8"):
        with pytest.raises(ValueError, match="inside\\) the shipped results folder"):
            reproduce(runs, out, folder, progress=False)
    rec = runs[0].record
    with pytest.raises(ValueError, match="tolerance must be a number >= 0"):
        compare_records(rec, rec, tolerance=-1)
    with pytest.raises(ValueError, match="different runs"):
        compare_records(rec, runs[1].record)


def test_an_out_dir_holding_copies_of_the_shipped_files_is_refused(tiny_shipped, tmp_path):
    import shutil

    folder, _ = tiny_shipped
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)  # "re-made" runs that are the shipped bytes: nothing would be trained
    with pytest.raises(ValueError, match="holds a copy of the shipped file"):
        reproduce(find_shipped_runs(folder), copy, folder, progress=False)


def test_equal_infinite_metrics_do_not_differ():
    assert relative_differences({"a": math.inf, "b": 2.0}, {"a": math.inf, "b": 2.0}) == {"a": 0.0, "b": 0.0}
    assert relative_differences({"a": math.inf}, {"a": 1.0}) == {"a": math.inf}


def test_a_run_with_snapshots_has_its_sweep_fields_recovered(tmp_path):
    from gan_l2_lib.reproduce import recover_sweep_fields
    from gan_l2_lib.sweep import SweepConfig, run_sweep

    base = TrainConfig.preset("ring8", steps=20, batch_size=16, toy_hidden=16, log_every=5, eval_every=10,
                              n_eval_samples=40)
    sweep = SweepConfig(base, lambda_g=(0.0,), lambda_d=(1e-2,), seeds=(3,), eval_last=2, n_stored_samples=20,
                        snapshots=7)
    rec = run_sweep(sweep, tmp_path, progress=False).records[0]
    assert recover_sweep_fields(rec) == (2, 20) and rec.snapshots == 7
