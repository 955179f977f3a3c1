"""The sweep results that ship with the package: complete, current, small, reproducible."""

import json
from pathlib import Path

import numpy as np
import pytest
from torch.testing import assert_close

from gan_l2_lib.evaluate import METRICS, coverage_key
from gan_l2_lib.sweep import (
    SweepConfig,
    one_penalty_sweep,
    run_path,
    run_sweep,
    shipped_results_dir,
    shipped_sweeps,
)

SHIPPED = shipped_sweeps()


def test_shipped_sweeps_name_what_the_notebooks_read():
    """04 and 05 open the default sweeps; 05's statement 13 reads the one-penalty corners."""
    for name in ("ring8", "grid25", "mnist5k", "stacked_mnist"):
        assert SHIPPED[name] == SweepConfig.default(name)
    assert SHIPPED["ring8_quick"] == SweepConfig.default("ring8", quick=True)
    for name in ("mnist5k", "stacked_mnist"):
        c = SweepConfig.default(name)
        # notebook 05's statement-13 cell builds exactly this from the loaded sweep's config
        assert SHIPPED[f"{name}_one_penalty"] == SweepConfig(
            c.base, lambda_g=(0.0, 1e-2), lambda_d=(0.0, 1e-2), seeds=c.seeds, eval_last=c.eval_last,
            n_stored_samples=c.n_stored_samples) == one_penalty_sweep(c)
        assert len(SHIPPED[f"{name}_one_penalty"].members()) == 12


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_sweep_is_complete_for_the_current_defaults(name):
    sweep = SHIPPED[name]
    # train_missing=False: a run missing, corrupt, or made with other defaults raises here
    result = run_sweep(sweep, shipped_results_dir(), progress=False, train_missing=False)
    assert result.trained == 0 and len(result.records) == len(sweep.members())
    dataset = sweep.base.dataset
    for rec in result.records:
        assert rec.config.steps == sweep.base.steps
        assert rec.diverged or list(rec.eval_steps)[-1] == sweep.base.steps
        assert np.isfinite(rec.summary[coverage_key(dataset)]) or rec.diverged
        assert set(rec.summary) <= set(METRICS) and set(rec.curves) <= set(METRICS)


def test_every_shipped_file_belongs_to_a_named_sweep():
    """No orphan: a file no named sweep reads is dead weight (or a sweep missing from the list)."""
    named = {run_path(m, s, shipped_results_dir()) for s in SHIPPED.values() for m in s.members()}
    on_disk = set(Path(shipped_results_dir()).rglob("*.npz"))
    assert not on_disk - named, sorted(p.name for p in on_disk - named)
    assert named <= on_disk  # (the completeness test above says which sweep lacks a file)


def test_schema_1_digit_records_load_with_honest_keys():
    """mnist5k files were written with schema 1, where classes covered was stored as "modes_covered"."""
    path = next((Path(shipped_results_dir()) / "mnist5k").glob("*.npz"))
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
    assert meta["schema_version"] == 1 and "modes_covered" in meta["summary"]
    rec = run_sweep(SweepConfig.default("mnist5k"), shipped_results_dir(), progress=False,
                    train_missing=False).records[0]
    assert "modes_covered" not in rec.summary and "modes_covered" not in rec.curves
    assert rec.summary["classes_covered"] == meta["summary"]["modes_covered"]


def test_shipped_results_are_small():
    total = sum(f.stat().st_size for f in Path(shipped_results_dir()).rglob("*") if f.is_file())
    assert total < 5 * 2**20, f"shipped results take {total / 2**20:.1f} MiB"
    assert not list(Path(shipped_results_dir()).rglob("*.tmp"))


def test_quick_rerun_reproduces_a_shipped_configuration(tmp_path):
    sweep = SweepConfig.default("ring8", quick=True)
    shipped = run_sweep(sweep, shipped_results_dir(), progress=False, train_missing=False)
    fresh = run_sweep(sweep, tmp_path, progress=False)
    assert fresh.trained == len(sweep.members())
    for member, a, b in zip(sweep.members(), shipped.records, fresh.records, strict=True):
        # same file name (the key hashes config and schema), same arrays, same dtypes and shapes
        pa, pb = run_path(member, sweep, shipped_results_dir()), run_path(member, sweep, tmp_path)
        assert pa.name == pb.name
        with np.load(pa, allow_pickle=False) as za, np.load(pb, allow_pickle=False) as zb:
            assert sorted(za.files) == sorted(zb.files)
            for name in za.files:
                if name == "meta":  # a JSON string: same fields (its length varies with wall time)
                    assert json.loads(str(za[name])).keys() == json.loads(str(zb[name])).keys()
                    continue
                assert za[name].dtype == zb[name].dtype and za[name].shape == zb[name].shape, name
        # and the same numbers, up to float rounding across CPUs
        for key in a.scalars:
            assert_close(b.scalars[key], a.scalars[key], rtol=1e-3, atol=1e-4)
        assert_close(b.samples, a.samples, rtol=1e-2, atol=2e-3)  # stored as float16
        assert a.summary.keys() == b.summary.keys()
        assert_close(b.curves["modes_covered"], a.curves["modes_covered"])
