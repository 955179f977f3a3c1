"""The command line: ``sweep`` (the table, the exit status, resuming after kill -9) and ``reproduce``."""

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


def test_kill_9_mid_sweep_then_resume(tmp_path):
    """A sweep killed with SIGKILL keeps its finished runs; the restart trains only the rest."""
    code = (
        "import sys; from gan_l2_lib.cli import main; "
        f"sys.exit(main(['sweep', '--dataset', 'ring8', '--quick', '--steps', '150', '--seeds', '2', "
        f"'--max-batch', '1', '--cache-dir', r'{tmp_path}', '--no-progress', '--cpu']))"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    folder = tmp_path / "ring8"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(folder.glob("*.npz"))) < 2:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = sorted(folder.glob("*.npz"))
    assert 2 <= len(kept) < 8, "the sweep should be killed part-way (8 runs in all)"
    for f in kept:
        load_record(f)  # every file left behind is complete
    sweep = SweepConfig.default("ring8", quick=True)  # what the command ran: the quick preset (with its snapshots)
    sweep = dataclasses.replace(sweep, base=sweep.base.replace(steps=150), seeds=(0, 1))
    resumed = run_sweep(sweep, tmp_path, progress=False, max_batch=1)
    assert resumed.trained == 8 - len(kept)
    assert len(list(folder.glob("*.npz"))) == 8
    assert np.isfinite(resumed.grid("modes_covered")).all()


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
