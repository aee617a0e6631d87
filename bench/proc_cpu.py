"""CPU seconds of processes from /proc (Linux), standard library only: a pytest plugin that loads it into the
process it measures (bench/suite_cpu.py) imports nothing else."""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")        # clock ticks a second, the unit of /proc/pid/stat's times


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (the forkserver and the training processes it forks)."""
    parent = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parent[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    out, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out += kids
        frontier += kids
    return out


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/pid/stat after the command name (field 3 onward), or None once the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_s(pids) -> float:
    """CPU seconds (user + system) the processes `pids` have used so far, with their children that
    have ended (a training process, reaped by the forkserver, counts in the forkserver's)."""
    total = 0
    for p in pids:
        f = _stat_fields(p)
        if f is not None:
            total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return total / TICK


def own_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) of the process itself, not of its children; None once it is gone (a poller
    that adds these up over a tree counts nothing twice)."""
    f = _stat_fields(pid)
    return None if f is None else (int(f[11]) + int(f[12])) / TICK


def cmdline(pid: int) -> str:
    """The process's command line, its arguments joined by spaces ("" once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
