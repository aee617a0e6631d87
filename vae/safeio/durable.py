"""Writing files that matter: whole or not at all, and on the disk before the call returns.

`atomic_write_bytes` replaces a file through a temporary one in the same folder (a reader sees the old
bytes or the new, never half); `write_durably` creates a new file, written whole and fsynced (a full
disk raises here, not later). Standard library only: a writer that needs no torch (the gallery, the
first picture's record) imports nothing heavy.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write_bytes", "write_durably"]


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same folder and os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_durably(path: Path, data: bytes) -> None:
    """Create file `path` holding `data`, written with os.write and fsynced (a full disk raises here)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
