"""The command line: ``sweep`` (the table, the exit status, resuming after kill -9 mid-write) and ``reproduce``."""

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gan_l2_lib import cli, engine
from gan_l2_lib.cli import build_parser, main
from gan_l2_lib.sweep import SweepConfig, load_record, run_path, run_sweep

ROOT = Path(__file__).resolve().parents[1]


def test_cli_runs_and_prints_table(tmp_path, capsys):
    rc = main(["sweep", "--dataset", "ring8", "--quick", "--steps", "20", "--lambda-g", "0", "--lambda-d", "0", "0.01",
               "--seeds", "1", "--cache-dir", str(tmp_path), "--no-progress", "--cpu"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "trained 2 runs" in out and "modes_covered" in out
    assert main(["sweep", "--quick", "--lambda-d", "-1", "--cache-dir", str(tmp_path), "--no-progress"]) == 2
    assert "lambda_d must be >= 0" in capsys.readouterr().out


# The CLI's sweep in a child process whose third run file pauses after its temporary file is
# written and before the rename, so the test's SIGKILL lands in the middle of that write.
_PAUSED_SWEEP = """
import os, sys, time
from gan_l2_lib.cli import main
replace, written = os.replace, []
def paused_replace(src, dst):
    if str(dst).endswith(".npz"):
        written.append(dst)
        if len(written) == 3:
            time.sleep(120)
    replace(src, dst)
os.replace = paused_replace
sys.exit(main(sys.argv[1:]))
"""


def _same_records(a, b):
    """Two records of one run are equal in everything but the wall time."""
    assert (a.config, a.key, a.diverged, a.diverged_step) == (b.config, b.key, b.diverged, b.diverged_step)
    assert a.summary.keys() == b.summary.keys()
    np.testing.assert_array_equal(np.array(list(a.summary.values())), np.array(list(b.summary.values())))
    for name in ("steps", "eval_steps", "samples", "surface", "snapshot_samples", "snapshot_surfaces"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    for field in ("scalars", "curves"):
        x, y = getattr(a, field), getattr(b, field)
        assert x.keys() == y.keys()
        for k in x:
            np.testing.assert_array_equal(x[k], y[k], err_msg=f"{field}[{k}]")


def test_kill_9_during_a_write_then_resume_equals_an_uninterrupted_sweep(tmp_path):
    """SIGKILL while the third run file is being written: the two finished files stay whole, the
    half-written one never appears under its name, the restart trains only the two missing runs,
    removes the dead writer's temporary file and ends with the records of a sweep never stopped."""
    sweep = SweepConfig.default("ring8", quick=True)  # what the command runs: the quick preset (with its snapshots)
    sweep = dataclasses.replace(sweep, base=sweep.base.replace(steps=40))
    args = ["sweep", "--dataset", "ring8", "--quick", "--steps", "40", "--max-batch", "1", "--no-progress",
            "--cpu"]
    killed_dir = tmp_path / "killed"
    folder = killed_dir / "ring8"
    names = [run_path(m, sweep, killed_dir).name for m in sweep.members()]  # trained and written in this order
    paused = f".{names[2]}."  # the third run's temporary file: .<name>.<pid>.<thread>.tmp
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-c", _PAUSED_SWEEP, *args, "--cache-dir", str(killed_dir)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 60
    try:
        while time.time() < deadline and not (folder.is_dir() and any(n.startswith(paused) for n in os.listdir(folder))):
            assert proc.poll() is None, "the sweep ended before its third write"
            time.sleep(0.01)
        seen = sorted(os.listdir(folder))
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    temporaries = [n for n in seen if n.endswith(".tmp")]
    assert len(temporaries) == 1 and temporaries[0].startswith(f"{paused}{proc.pid}."), seen  # caught in flight
    finished = [n for n in seen if n.endswith(".npz")]
    assert finished == sorted(names[:2])  # the first two runs, renamed before the third write began
    assert sorted(os.listdir(folder)) == seen  # killed: nothing renamed or cleaned up since
    for name in finished:
        load_record(folder / name)  # every run file left behind is complete
    resumed = run_sweep(sweep, killed_dir, progress=False, max_batch=1)
    assert resumed.trained == 2
    assert sorted(os.listdir(folder)) == sorted(names)  # the dead writer's temporary file is gone
    whole = run_sweep(sweep, tmp_path / "whole", progress=False, max_batch=1)
    assert whole.trained == 4
    for a, b in zip(resumed.records, whole.records, strict=True):
        _same_records(a, b)


def test_reproduce_prints_the_table_and_fails_on_a_tampered_file(tiny_shipped, tmp_path, capsys):
    folder, sweep = tiny_shipped
    args = ["reproduce", "--shipped", str(folder), "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "4 shipped runs in 1 group(s)" in out and "estimated training time" in out
    assert "bitwise" in out and "within tolerance" in out
    row = next(line for line in out.splitlines() if line.startswith("ring8 "))
    assert row.split()[:6] == ["ring8", "4", "4", "0", "0", "0"]
    # one summary value changed, the key kept: the re-made run differs, and the exit status says so
    victim = run_path(sweep.members()[2], sweep, folder)
    with np.load(victim, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    meta["summary"]["high_quality_fraction"] += 0.5
    arrays["meta"] = np.array(json.dumps(meta))
    with open(victim, "wb") as f:
        np.savez_compressed(f, **arrays)
    assert main([*args, "--out", str(tmp_path / "a")]) == 1  # the same --out: nothing trained again
    out = capsys.readouterr().out
    assert f"differs: ring8/{victim.name}: largest: high_quality_fraction" in out
    row = next(line for line in out.splitlines() if line.startswith("ring8 "))
    assert row.split()[:6] == ["ring8", "4", "3", "0", "1", "0"]


def test_reproduce_rejects_bad_input(tiny_shipped, capsys):
    folder, _ = tiny_shipped
    args = ["reproduce", "--shipped", str(folder), "--no-progress"]
    assert main([*args, "--dataset", "nope"]) == 2
    assert "unknown data set 'nope'" in capsys.readouterr().out
    assert main([*args, "--out", str(folder)]) == 2
    assert "shipped results folder" in capsys.readouterr().out
    assert main([*args, "--quick-only"]) == 2  # the tiny sweep is not the quick preset
    assert "no shipped runs selected" in capsys.readouterr().out
    assert main([*args, "--max-batch", "0"]) == 2
    assert "--max-batch must be >= 1" in capsys.readouterr().out


def test_cli_workers_and_scheduler_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["sweep", "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"])
    assert exit_info.value.code == 2
    assert "not allowed with argument --workers" in capsys.readouterr().err


@pytest.mark.parametrize("flags, workers, scheduler", [
    ([], None, None),
    (["--workers", "3"], 3, None),
    (["--scheduler", "tcp://10.0.0.5:8786"], None, "tcp://10.0.0.5:8786"),
])
def test_cli_passes_the_engine_to_run_sweep(monkeypatch, capsys, flags, workers, scheduler):
    seen = {}

    def fake_run_sweep(*args, **kwargs):
        seen.update(kwargs)
        raise ValueError("stopped by the test")

    monkeypatch.setattr(cli, "run_sweep", fake_run_sweep)
    assert main(["sweep", "--quick", "--no-progress", *flags]) == 2
    assert "stopped by the test" in capsys.readouterr().out
    assert (seen["workers"], seen["scheduler"]) == (workers, scheduler)


def test_cli_bad_workers_or_unreachable_scheduler_exit_2(tmp_path, monkeypatch, capsys):
    assert main(["sweep", "--quick", "--workers", "0", "--cache-dir", str(tmp_path), "--no-progress"]) == 2
    assert "workers must be an integer >= 1" in capsys.readouterr().out
    monkeypatch.setattr(engine, "CONNECT_TIMEOUT_S", 1.0)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["sweep", "--quick", "--scheduler", f"tcp://127.0.0.1:{port}", "--cache-dir", str(tmp_path),
                 "--no-progress"]) == 2
    assert "cannot reach a Dask scheduler" in capsys.readouterr().out
    assert not list(tmp_path.rglob("*.npz"))


def test_named_evidence_sweep_runs_with_fewer_steps_and_refuses_quick(tmp_path, capsys):
    args = ["sweep", "--named", "ring8_article", "--steps", "10", "--seeds", "1", "--cache-dir", str(tmp_path),
            "--no-progress", "--cpu"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "sweep ring8_article: 2 λ_G × 2 λ_D × 1 seeds = 2 runs, 10 steps each" in out
    assert main([*args, "--quick"]) == 2
    assert "--named and --quick exclude each other" in capsys.readouterr().out
