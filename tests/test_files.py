"""Tests for gan_l2_lib.files: atomic writes and the stable hashes that name cache files."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from gan_l2_lib.files import (
    atomic_torch_save,
    atomic_write_bytes,
    remove_stale_temporaries,
    stable_hash,
)
from gan_l2_lib.sweep import RUN_KEY_VERSION, SweepConfig, run_key
from gan_l2_lib.train import TrainConfig


def test_atomic_write_creates_replaces_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "sub" / "record.npz"  # the missing folder is created
    atomic_write_bytes(path, b"first")
    assert path.read_bytes() == b"first"
    atomic_write_bytes(path, b"second, longer")
    assert path.read_bytes() == b"second, longer"
    assert os.listdir(path.parent) == ["record.npz"]


def test_atomic_write_failure_keeps_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "a.bin"
    atomic_write_bytes(path, b"old")
    with pytest.raises(TypeError, match="bytes-like object is required"):
        atomic_write_bytes(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["a.bin"]


@pytest.mark.skipif(os.name != "posix", reason="stale temporaries are recognized by process id on POSIX only")
def test_a_write_removes_the_temporaries_of_dead_writers_only(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    dead = int(gone.stdout)  # a process that has exited (and been reaped)
    path = tmp_path / "a.bin"
    stale = tmp_path / f".a.bin.{dead}.140.tmp"  # what a writer killed before its rename leaves
    kept = [tmp_path / ".a.bin.1.7.tmp",  # process 1 runs: a write in progress
            tmp_path / f".a.bin.{os.getpid()}.8.tmp",  # this process: perhaps another thread's write
            tmp_path / f".b.bin.{dead}.9.tmp",  # another file's temporary
            tmp_path / ".a.bin.x.9.tmp"]  # not one of ours
    for f in [stale, *kept]:
        f.write_bytes(b"partial")
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path)) == sorted(["a.bin", *(f.name for f in kept)])
    assert remove_stale_temporaries(tmp_path / "b.bin") == [kept[2]]
    assert remove_stale_temporaries(tmp_path / "missing" / "c.bin") == []


def test_atomic_torch_save_round_trips(tmp_path):
    state = {"w": torch.arange(6.0).reshape(2, 3), "name": "x"}
    atomic_torch_save(state, tmp_path / "s.pt")
    back = torch.load(tmp_path / "s.pt", weights_only=True)
    assert torch.equal(back["w"], state["w"]) and back["name"] == "x"
    assert os.listdir(tmp_path) == ["s.pt"]


def test_stable_hash_ignores_key_order_and_has_n_digits():
    a = stable_hash({"b": 1, "a": [1.5, None, "x"]}, 16)
    assert a == stable_hash({"a": [1.5, None, "x"], "b": 1}, 16)
    assert len(a) == 16 and int(a, 16) >= 0
    assert stable_hash({"b": 1, "a": [1.5, None, "x"]}, 64).startswith(a)
    assert stable_hash({"b": 2}, 16) != stable_hash({"b": 1}, 16)
    for bad in (0, 65, True):
        with pytest.raises(ValueError, match="n must be"):
            stable_hash({}, bad)


def test_hashes_equal_the_values_cache_files_are_named_by():
    # shipped sweep results and cached runs are found by these names: they must not move
    assert stable_hash({"x": 1}, 12) == "613fe5aa6534"
    assert TrainConfig().config_hash() == "d15f32ff4678758e"
    assert TrainConfig.quick("ring8", lambda_d=1e-3).config_hash() == "3d8080771cc313a6"
    # the 3-seed ring8 sweep of 10,000 steps that shipped before the 10-seed one: no snapshots
    sweep = SweepConfig(TrainConfig.preset("ring8", batch_size=100, steps=10_000, log_every=100, eval_every=1000,
                                           n_eval_samples=1000))
    cfg = sweep.members()[0]
    assert run_key(cfg, sweep) == "65c857ba292e1a7310e2"
    assert run_key(cfg, sweep) == stable_hash({"schema": RUN_KEY_VERSION, "config": cfg.to_dict(), "eval_last": sweep.eval_last,
                                               "n_stored_samples": sweep.n_stored_samples}, 20)
    # today's default: 10 seeds, 20,000 steps, snapshots, which the key then hashes too
    sweep = SweepConfig.default("ring8")
    cfg = sweep.members()[0]
    assert run_key(cfg, sweep) == "cc16ae4300a5e530c200"
    assert run_key(cfg, sweep) == stable_hash({"schema": RUN_KEY_VERSION, "config": cfg.to_dict(), "eval_last": sweep.eval_last,
                                               "n_stored_samples": sweep.n_stored_samples, "snapshots": 100}, 20)
