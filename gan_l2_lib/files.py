"""Cache files: written atomically, named by a stable hash of what produced them.

Run records, checkpoints and the digit classifier are cached on disk under a name that
carries a hash of their config (``stable_hash``), and written so that a reader (a parallel
sweep, a crashed notebook) never sees half a file (``atomic_write_bytes``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
from pathlib import Path

import torch

from .checks import positive_int


def stable_hash(obj: object, n: int) -> str:
    """The first ``n`` hex digits of the SHA-256 of ``json.dumps(obj, sort_keys=True)``.

    Equal JSON-able objects give equal hashes on every machine and Python version (dict
    order does not matter), so the hash can name a cache file.

    Args:
        obj: a JSON-able object (dicts, lists, strings, numbers, bools, None).
        n: how many hex digits to keep, 1 … 64.

    Returns:
        A string of ``n`` lowercase hex digits.
    """
    n = positive_int(n, "n")
    if n > 64:
        raise ValueError(f"n must be at most 64 (a SHA-256 has 64 hex digits), got {n}")
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:n]


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, fsync, rename.

    A reader sees either the old file or the whole new one, never a partial write; on an
    error the temporary file is removed and ``path`` is left as it was. Missing parent
    folders are created. After the rename, temporaries of ``path`` left by a writer that no
    longer runs (a sweep killed mid-write) are removed (``remove_stale_temporaries``).

    Args:
        path: the file to (over)write.
        data: its new content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # unique per process and thread; opened like any new file (permissions follow the umask)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    remove_stale_temporaries(path)


def _process_is_running(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process: it exists
        return True
    return True


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Delete the temporaries of ``path`` whose writing process no longer runs.

    ``atomic_write_bytes`` writes ``.<name>.<pid>.<thread>.tmp`` beside ``path``; a writer
    killed before its rename (SIGKILL, a power cut) leaves that file behind. Temporaries of
    this process and of processes still running are kept: they may be writes in progress.
    Only on POSIX systems (elsewhere nothing is removed: there signal 0 would not be a probe).

    Args:
        path: the target file whose temporaries are looked for.

    Returns:
        The temporaries removed.
    """
    path = Path(path)
    removed: list[Path] = []
    if os.name != "posix" or not path.parent.is_dir():
        return removed
    prefix = f".{path.name}."
    for entry in os.listdir(path.parent):
        fields = entry[len(prefix):].split(".") if entry.startswith(prefix) else []
        if len(fields) != 3 or fields[2] != "tmp" or not (fields[0].isdigit() and fields[1].isdigit()):
            continue
        pid = int(fields[0])
        if pid == os.getpid() or _process_is_running(pid):
            continue
        stale = path.parent / entry
        stale.unlink(missing_ok=True)
        removed.append(stale)
    return removed


def atomic_torch_save(obj: object, path: str | Path) -> None:
    """``torch.save(obj, path)`` through ``atomic_write_bytes`` (same file format)."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())
