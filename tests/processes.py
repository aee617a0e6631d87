"""Whether a process still runs, read from Linux's /proc without racing its exit."""
from __future__ import annotations

from pathlib import Path


def alive(pid: int) -> bool:
    """True while process `pid` exists and is not a zombie.

    The process may exit and be reaped between any two reads, so a vanished /proc entry
    means "gone", never an error.
    """
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):      # gone before the open, or during the read (ESRCH)
        return False
    return state != "Z"
