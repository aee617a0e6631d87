"""Reading a file a user named, without hanging or running out of memory.

`read_regular_file` opens without blocking (a FIFO would otherwise wait forever for a writer),
checks on the open descriptor that it is a regular file (not a FIFO, socket or device; no race
between the check and the read), and reads at most `limit` bytes.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["NotARegularFile", "FileTooLarge", "read_regular_file", "kind_of"]


class NotARegularFile(OSError):
    """The path is a FIFO, socket, device or folder, not a regular file."""


class FileTooLarge(OSError):
    """The file holds more bytes than the caller's limit."""


def kind_of(mode: int) -> str:
    """A word for a file type from st_mode: "FIFO", "socket", "device", "folder", "file"."""
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISDIR(mode):
        return "folder"
    return "file" if stat.S_ISREG(mode) else "special file"


def read_regular_file(path: str | Path, limit: int) -> bytes:
    """The bytes of regular file `path` (symbolic links followed), at most `limit` of them.

    Raises NotARegularFile, FileTooLarge, or the OSError of the open / read (FileNotFoundError, ...).
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotARegularFile(f"it is a {kind_of(st.st_mode)}, not a regular file")
        if st.st_size > limit:
            raise FileTooLarge(f"it holds {st.st_size:,} bytes, over the limit of {limit:,}")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 24, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:      # the file grew while we read it
                raise FileTooLarge(f"it holds more than {limit:,} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)
