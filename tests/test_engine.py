"""Sweeps on a Dask cluster: same records as the serial path, bit for bit; a killed worker loses
nothing; bad engine choices raise; and importing the library does not import Dask."""

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_l2_lib import engine
from gan_l2_lib.checks import positive_int
from gan_l2_lib.engine import check_engine, run_in_worker, run_tasks
from gan_l2_lib.sweep import SweepConfig, load_record, run_sweep
from gan_l2_lib.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def ring8_sweep(steps: int) -> SweepConfig:
    """The quick ring8 grid (λ_G, λ_D ∈ {0, 1e-2}, seed 0: 4 runs), ``steps`` long."""
    quick = SweepConfig.default("ring8", quick=True)
    return SweepConfig(quick.base.replace(steps=steps, eval_every=50), quick.lambda_g, quick.lambda_d,
                       (0,), quick.eval_last, quick.n_stored_samples)


def serial_sweep(sweep: SweepConfig, folder: Path, **kwargs):
    """``run_sweep`` here, serially (it flushes subnormals itself, as a worker does)."""
    return run_sweep(sweep, folder, progress=False, **kwargs)


def assert_same_files(dir_a: Path, dir_b: Path) -> int:
    """Every run file of ``dir_a`` has a twin in ``dir_b``: arrays bitwise equal, meta equal but
    for the wall time. Returns the number of files."""
    files = sorted(p.name for p in dir_a.rglob("*.npz"))
    assert files and files == sorted(p.name for p in dir_b.rglob("*.npz"))
    for name in files:
        [fa], [fb] = dir_a.rglob(name), dir_b.rglob(name)
        with np.load(fa) as a, np.load(fb) as b:
            assert sorted(a.files) == sorted(b.files)
            for key in a.files:
                if key == "meta":
                    meta_a, meta_b = json.loads(str(a[key])), json.loads(str(b[key]))
                    assert meta_a.pop("wall_time_s") >= 0 and meta_b.pop("wall_time_s") >= 0
                    assert meta_a == meta_b, name
                else:  # bytes, not values: NaN curve entries must match too
                    assert (a[key].dtype, a[key].shape) == (b[key].dtype, b[key].shape), (name, key)
                    assert a[key].tobytes() == b[key].tobytes(), (name, key)
    return len(files)


@pytest.fixture(scope="module")
def cluster():
    """A running 2-worker local cluster (single-threaded workers): ``(address, client)``."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      scheduler_kwargs={"dashboard": False}, silence_logs=logging.CRITICAL) as local, Client(local, set_as_default=False) as client:
        yield local.scheduler_address, client


# ---------------------------------------------------------------------------------------------
# Choosing the engine
# ---------------------------------------------------------------------------------------------


def test_importing_the_library_does_not_import_dask():
    code = ("import sys, gan_l2_lib.sweep, gan_l2_lib.widgets, gan_l2_lib.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.parametrize("workers, scheduler, match", [
    (0, None, "workers must be an integer >= 1"),
    (-2, None, "workers must be an integer >= 1"),
    (True, None, "workers must be an integer >= 1"),
    (1.5, None, "workers must be an integer >= 1"),
    (2, "tcp://127.0.0.1:8786", "exclude each other"),
    (None, "", "scheduler must be a Dask scheduler address"),
    (None, 8786, "scheduler must be a Dask scheduler address"),
])
def test_bad_engine_choice_raises(tmp_path, workers, scheduler, match):
    with pytest.raises(ValueError, match=match):
        check_engine(workers, scheduler)
    with pytest.raises(ValueError, match=match):  # before anything is loaded or trained
        run_sweep(ring8_sweep(10), tmp_path, progress=False, workers=workers, scheduler=scheduler)
    assert not list(tmp_path.rglob("*.npz"))


def test_check_engine_accepts_the_three_engines():
    for workers, scheduler in ((None, None), (1, None), (None, "tcp://127.0.0.1:8786")):
        check_engine(workers, scheduler)  # no error


def test_run_tasks_needs_a_cluster():
    with pytest.raises(ValueError, match="needs workers .* or scheduler"):
        run_tasks(positive_int, [(1, "n")], lambda i, r: None)


def test_unreachable_scheduler_fails_fast(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "CONNECT_TIMEOUT_S", 1.0)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.perf_counter()
    with pytest.raises(ValueError, match=f"cannot reach a Dask scheduler at 'tcp://127.0.0.1:{port}'"):
        run_sweep(ring8_sweep(10), tmp_path, progress=False, scheduler=f"tcp://127.0.0.1:{port}")
    assert time.perf_counter() - start < 15
    assert not list(tmp_path.rglob("*.npz"))


def test_run_in_worker_uses_one_thread_and_flushes_subnormals():
    was_flushing, threads = engine.flushing_subnormals(), torch.get_num_threads()
    torch.set_flush_denormal(False)
    tiny = torch.tensor([1e-39], dtype=torch.float32)  # a float32 subnormal
    assert (tiny * 1.0).item() > 0  # without the flush it survives
    torch.set_num_threads(2)
    try:
        assert run_in_worker(torch.get_num_threads) == 1
        assert run_in_worker(lambda: (tiny * 1.0).item()) == 0.0
    finally:
        torch.set_flush_denormal(was_flushing)
        torch.set_num_threads(threads)


# ---------------------------------------------------------------------------------------------
# Running on a cluster
# ---------------------------------------------------------------------------------------------


def test_run_tasks_hands_back_every_result_and_raises_a_task_error(cluster):
    address, _ = cluster
    got = {}
    run_tasks(positive_int, [(3, "a"), (5, "b"), (7, "c")], got.__setitem__, scheduler=address,
              progress=False)
    assert got == {0: 3, 1: 5, 2: 7}
    with pytest.raises(ValueError, match="b must be a positive integer"):
        run_tasks(positive_int, [(1, "a"), (0, "b")], got.__setitem__, scheduler=address, progress=False)


def test_local_cluster_workers_get_no_malloc_trim_and_leave_no_variables_here():
    """Dask's MALLOC_TRIM_THRESHOLD_ halves the training speed: the local workers start without it,
    and the variables the nannies set for them do not stay in this process."""
    before = dict(os.environ)
    got = {}
    run_tasks(os.getenv, [("MALLOC_TRIM_THRESHOLD_",), ("OMP_NUM_THREADS",)], got.__setitem__, workers=1,
              progress=False)
    assert got == {0: None, 1: "1"}  # Dask's other worker settings stay
    assert dict(os.environ) == before


def test_local_workers_records_equal_serial_bitwise(tmp_path):
    """``workers=2`` (its own local cluster) writes the very files the serial path writes."""
    sweep = ring8_sweep(100)
    serial = serial_sweep(sweep, tmp_path / "serial", max_batch=2)
    dask = run_sweep(sweep, tmp_path / "dask", progress=False, max_batch=2, workers=2)
    assert serial.trained == dask.trained == 4
    assert assert_same_files(tmp_path / "serial", tmp_path / "dask") == 4
    for a, b in zip(serial.records, dask.records, strict=True):  # what it returns, too
        assert a.key == b.key
        torch.testing.assert_close(torch.from_numpy(a.samples), torch.from_numpy(b.samples))
    again = run_sweep(sweep, tmp_path / "dask", progress=False, max_batch=2, workers=2)
    assert again.trained == 0  # resumed from the files: nothing submitted


def test_killed_worker_loses_only_its_batch(tmp_path, cluster):
    """SIGKILL one of 2 workers mid-sweep: the sweep finishes, the files are whole and equal serial."""
    address, client = cluster
    sweep = ring8_sweep(150)
    out = tmp_path / "dask"
    outcome = {}

    def sweep_on_cluster():
        try:
            outcome["result"] = run_sweep(sweep, out, progress=False, max_batch=1, scheduler=address)
        except BaseException as exc:  # re-raised below, in the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=sweep_on_cluster)
    thread.start()
    deadline = time.time() + 60
    busy = {}
    while time.time() < deadline and not busy:  # wait until a worker is inside a task
        busy = {w: keys for w, keys in client.processing().items() if keys}
        time.sleep(0.02)
    assert busy, "no task started within 60 s"
    victim = next(iter(busy))
    pid = client.run(os.getpid, workers=[victim])[victim]
    written_before = len(list(out.rglob("*.npz")))
    os.kill(pid, signal.SIGKILL)
    thread.join(timeout=120)
    assert not thread.is_alive(), "the sweep did not finish after a worker was killed"
    if "error" in outcome:
        raise outcome["error"]
    assert written_before < 4 and outcome["result"].trained == 4
    for f in out.rglob("*.npz"):
        load_record(f)  # every file whole
    log = client.run_on_scheduler(lambda dask_scheduler: [
        (t[0], t[1], t[2]) for t in dask_scheduler.transition_log if str(t[0]).startswith("gan-l2-")])
    assert any(start == "processing" and end == "released" for _, start, end in log), \
        "no task was taken from the killed worker and run again"
    client.wait_for_workers(2, timeout=30)  # the nanny started a new worker
    assert pid not in client.run(os.getpid).values()
    serial_sweep(sweep, tmp_path / "serial", max_batch=1)
    assert assert_same_files(tmp_path / "serial", out) == 4
    # resume: only the missing run is submitted
    victim_file = sorted(out.rglob("*.npz"))[1]
    victim_file.unlink()
    assert run_sweep(sweep, out, progress=False, max_batch=1, scheduler=address).trained == 1
    assert assert_same_files(tmp_path / "serial", out) == 4


def test_image_sweep_sends_the_classifier_to_the_workers(tmp_path, cluster, tiny_classifier):
    """digits8: each worker loads the set by name and scores with the classifier it is sent."""
    address, _ = cluster
    clf, _ = tiny_classifier
    base = TrainConfig.preset("digits8", steps=6, log_every=2, eval_every=3, n_eval_samples=20, latent_dim=8)
    sweep = SweepConfig(base, lambda_g=(0.0, 1e-2), lambda_d=(0.0, 1e-2), seeds=(0,), n_stored_samples=8,
                        diagonal=True)
    serial = serial_sweep(sweep, tmp_path / "serial", classifier=clf, max_batch=1)
    dask = run_sweep(sweep, tmp_path / "dask", progress=False, classifier=clf, max_batch=1, scheduler=address)
    assert dask.trained == 2 and np.isfinite(np.diag(dask.grid("classes_covered"))).all()
    assert assert_same_files(tmp_path / "serial", tmp_path / "dask") == 2
    np.testing.assert_array_equal(serial.grid("classes_covered"), dask.grid("classes_covered"))


def test_serial_batches_flush_subnormals_like_a_worker_and_restore_the_setting(tmp_path, monkeypatch):
    from gan_l2_lib import sweep as sweep_module

    seen = []
    real_train_chunk = sweep_module.train_chunk

    def spy(*args, **kwargs):
        seen.append(engine.flushing_subnormals())
        return real_train_chunk(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "train_chunk", spy)
    torch.set_flush_denormal(False)
    assert not engine.flushing_subnormals()
    run_sweep(ring8_sweep(steps=20), tmp_path, progress=False, max_batch=2)
    assert seen == [True, True]  # every batch trained with subnormals flushed
    assert not engine.flushing_subnormals()  # and the caller's setting is back

