"""Where a sweep's batches run when not here one after another: as tasks on a Dask cluster.

``run_tasks`` maps a function over a list of batches on a local Dask cluster of
single-threaded worker processes (``workers=N``) or on an existing cluster
(``scheduler="tcp://host:port"``), and hands each batch's result to a callback in this process
as soon as it is done, so the caller writes the results and workers need no shared file
system. A worker killed mid-task loses only its task: the scheduler gives it to another
worker (and the nanny starts a new worker). ``dask`` and ``distributed`` are imported only
when a cluster is used, so importing the library costs nothing extra. This module knows
nothing of sweeps: ``sweep.run_sweep`` passes the function that trains one batch.

Workers you start yourself (``dask worker ADDRESS --nthreads 1``) need this package, and should
run without Dask's ``MALLOC_TRIM_THRESHOLD_`` (it halves the training speed, see ``run_tasks``):
in a Dask config file (``~/.config/dask/distributed.yaml``) set
``distributed: {nanny: {pre-spawn-environ: {MALLOC_TRIM_THRESHOLD_: null}}}``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

#: Seconds to wait for an existing scheduler (and for its first worker) before giving up.
CONNECT_TIMEOUT_S = 10.0
#: How often a task that raised is tried again (a worker that died is handled separately:
#: the scheduler re-runs its tasks, up to ``distributed.scheduler.allowed-failures`` times).
TASK_RETRIES = 2
#: Dask's setting of the environment a nanny gives the worker processes it starts.
PRE_SPAWN_ENV = "distributed.nanny.pre-spawn-environ"


def check_engine(workers: int | None, scheduler: str | None) -> None:
    """Check the choice of engine: serial (both None), a local cluster, or an existing one.

    Args:
        workers: worker processes of a local Dask cluster, an integer ≥ 1, or None.
        scheduler: the address of a running Dask scheduler (``"tcp://host:8786"``), or None.

    Raises:
        ValueError: if both are given, ``workers`` is not an integer ≥ 1, or ``scheduler``
            is not a non-empty string.
    """
    if workers is not None and scheduler is not None:
        raise ValueError(f"workers and scheduler exclude each other (got workers={workers!r}, "
                         f"scheduler={scheduler!r}): give workers for a local cluster, scheduler "
                         "for an existing one, or neither to train here one batch after another")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be an integer >= 1 (worker processes of a local cluster), "
                         f"got {workers!r}")
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
        raise ValueError(f"scheduler must be a Dask scheduler address such as 'tcp://host:8786', "
                         f"got {scheduler!r}")


def run_in_worker(fn: Callable, *args: Any) -> Any:
    """Call ``fn(*args)`` with one torch thread and subnormal floats flushed to zero.

    A worker process shares the CPU with the others, so more torch threads only contend
    (measured: 17–38× slower with PyTorch's default threads on 2 shared cores); subnormals
    (decayed weights, Adam state late in a run) are many times slower to compute.

    Args:
        fn: the task's function; args: its arguments.

    Returns:
        What ``fn`` returns.
    """
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    return fn(*args)


def flushing_subnormals() -> bool:
    """Whether this thread flushes subnormal floats to zero now (torch has no getter for it)."""
    return torch.tensor([1e-39], dtype=torch.float32).item() == 0.0


@contextlib.contextmanager
def subnormals_flushed() -> Iterator[None]:
    """Flush subnormal floats inside the block, as every worker does; the caller's setting is restored.

    Records then do not depend on where a batch trained: long runs drift into subnormal values
    (decayed weights, Adam state), and flushing them changes the rounding as well as the speed.
    """
    was = flushing_subnormals()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(was)


def run_tasks(
    fn: Callable,
    tasks: Sequence[tuple],
    on_result: Callable[[int, Any], None],
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    desc: str = "batches",
) -> None:
    """Run ``fn(*tasks[i])`` for every i on a Dask cluster; ``on_result(i, result)`` here as each ends.

    Args:
        fn: a module-level function (workers import it by name, so it must be importable
            there: the same package version on every worker).
        tasks: the arguments of each call; each tuple is sent to a worker (keep it small).
        on_result: called in this process, in completion order, with the task's index and
            ``fn``'s return value (e.g. to write it to disk).
        workers: start a local cluster of this many single-threaded worker processes.
        scheduler: use the running cluster at this address instead (exactly one of the two).
        progress: show a tqdm bar over tasks.
        desc: the bar's label.

    Raises:
        ValueError: for a bad ``workers``/``scheduler`` (see ``check_engine``), neither given,
            or a scheduler that cannot be reached or has no worker within ``CONNECT_TIMEOUT_S``.
        Exception: whatever ``fn`` raised on its last try (results already handed to
            ``on_result`` stay handed).
    """
    check_engine(workers, scheduler)
    if workers is None and scheduler is None:
        raise ValueError("run_tasks needs workers (a local cluster) or scheduler (an existing one)")
    import dask  # lazy: only a cluster run pays for the import
    from distributed import Client, LocalCluster

    if workers is not None:
        # Processes, not threads: torch holds the GIL in parts of a step. No dashboard, and the
        # scheduler's small HTTP server on a free port (not 8787, which another cluster may hold).
        # Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which turns off glibc's
        # adaptive mmap threshold: every tensor over 128 kB is then a fresh mmap, and training
        # ran 2.0x slower (a 6-member ring8 batch, 1 thread: 23.1 s vs 11.7 s). None unsets it;
        # so does removing it here (another cluster's nanny may have put it in this process).
        with _environ_restored(), dask.config.set({f"{PRE_SPAWN_ENV}.MALLOC_TRIM_THRESHOLD_": None}), \
                LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                             dashboard_address=":0", scheduler_kwargs={"dashboard": False},
                             silence_logs=logging.ERROR) as cluster, \
                Client(cluster, set_as_default=False) as client:
            _submit_all(client, fn, tasks, on_result, progress, desc)
        return
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise ValueError(f"cannot reach a Dask scheduler at {scheduler!r} within {CONNECT_TIMEOUT_S:g} s "
                         f"({type(exc).__name__}: {exc}); start one (`dask scheduler`, then `dask worker "
                         "ADDRESS`) or use workers=N for a local cluster") from exc
    with client:
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"the Dask scheduler at {scheduler!r} has no worker after "
                             f"{CONNECT_TIMEOUT_S:g} s; start one with `dask worker {scheduler}`") from exc
        _submit_all(client, fn, tasks, on_result, progress, desc)


@contextlib.contextmanager
def _environ_restored() -> Iterator[None]:
    """Undo the variables a local cluster's nannies put in this process's environment; without
    ``MALLOC_TRIM_THRESHOLD_`` meanwhile (workers inherit it).

    A nanny sets its workers' variables (``OMP_NUM_THREADS=1``, ...) in ``os.environ`` before
    it starts them, so they would leak into whatever this process starts later.
    """
    saved = dict(os.environ)
    os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    try:
        yield
    finally:
        for key in set(os.environ) - set(saved):
            del os.environ[key]
        os.environ.update(saved)


def _submit_all(client, fn: Callable, tasks: Sequence[tuple], on_result: Callable[[int, Any], None],
                progress: bool, desc: str) -> None:
    from distributed import as_completed

    run_id = uuid.uuid4().hex[:12]  # unique keys: a shared cluster may run other sweeps too
    pending = {i: client.submit(run_in_worker, fn, *args, key=f"gan-l2-{run_id}-{i}", retries=TASK_RETRIES)
               for i, args in enumerate(tasks)}
    index = {fut.key: i for i, fut in pending.items()}
    try:
        with tqdm(total=len(tasks), disable=not progress, desc=desc) as bar:
            for fut in as_completed(list(pending.values()), loop=client.loop):
                i = index[fut.key]
                on_result(i, fut.result())
                del pending[i], fut  # the last references: the cluster forgets the result
                bar.update(1)
    finally:
        if pending:  # after an error: stop the rest
            client.cancel(list(pending.values()))
