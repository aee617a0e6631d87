"""Replacing a folder so that, whatever instant the process dies, the old or the new one is there.

A new folder is assembled beside its destination under a temporary name

    .NAME.PID-RANDOM.tmp        (PID: the writing process)

and swapped in. On Linux the swap is one system call, renameat2(RENAME_EXCHANGE): the destination
holds the old folder, then the new one, never nothing; the old one, now under the temporary name,
is deleted. Where the kernel or file system lacks it, two renames are used,

    NAME -> .NAME.old-PID,   .NAME.PID-RANDOM.tmp -> NAME,   delete .NAME.old-PID

and a process that dies between the two leaves NAME missing and .NAME.old-PID complete:
`recover` (called by every save and load) renames it back. `clean_stale` deletes temporary and old
folders whose writer is provably dead (its PID is gone from this machine) or which are older than
STALE_AFTER_S, and nothing else.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import re
import shutil
import stat
import tempfile
import time
from pathlib import Path

__all__ = ["make_temp_dir", "swap_in", "recover", "clean_stale", "fsync_dir", "STALE_AFTER_S"]

STALE_AFTER_S = 3600.0        # a temporary folder this old is abandoned whoever made it
RECOVERY_WAIT_S = 2.0         # how long a reader waits for a live writer to finish its two renames
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_libc = None


def _temp_pattern(name: str) -> re.Pattern:
    return re.compile(rf"^\.{re.escape(name)}\.(?:(\d+)-[^/]*\.tmp|[^/]*\.tmp|old-(\d+))$")


def make_temp_dir(path: Path) -> Path:
    """A new empty folder beside `path`, named after it and this process, with the usual permissions."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)   # mkdtemp makes 0700; a checkpoint folder gets the usual permissions
    return tmp


def fsync_dir(path: Path) -> None:
    """Make a folder's entries (renames, new files) durable; a no-op where folders cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2 RENAME_EXCHANGE). False where unsupported."""
    global _libc
    if not hasattr(os, "uname") or os.uname().sysname != "Linux":
        return False
    if _libc is None:
        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            _libc.renameat2  # noqa: B018  (AttributeError on a libc without it)
        except (OSError, AttributeError):
            _libc = False
    if not _libc:
        return False
    rc = _libc.renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, getattr(errno, "EOPNOTSUPP", errno.ENOTSUP)):
        return False
    raise OSError(err, os.strerror(err), str(b))


def swap_in(tmp: Path, path: Path) -> None:
    """Put complete folder `tmp` at `path`, replacing the folder there if any (see the module doc)."""
    if not os.path.lexists(path):
        os.rename(tmp, path)
    elif _exchange(tmp, path):
        fsync_dir(path.parent)
        shutil.rmtree(tmp, ignore_errors=True)    # now the old folder
        return
    else:
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.rename(path, old)
        try:
            os.rename(tmp, path)
        except BaseException:
            os.rename(old, path)              # roll back: the previous folder stays
            raise
        fsync_dir(path.parent)
        shutil.rmtree(old, ignore_errors=True)
    fsync_dir(path.parent)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:          # e.g. EPERM: it exists, owned by someone else
        return True
    return True


def _leftovers(path: Path) -> list[tuple[Path, int | None, bool]]:
    """(folder, writer PID or None, is an 'old' folder) for each temporary folder beside `path`."""
    pattern = _temp_pattern(path.name)
    out = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return out
    for entry in entries:
        m = pattern.match(entry.name)
        if m is None:
            continue
        try:
            if not stat.S_ISDIR(entry.stat(follow_symlinks=False).st_mode):
                continue
        except OSError:
            continue
        pid = m.group(1) or m.group(2)
        out.append((Path(entry.path), int(pid) if pid else None, m.group(2) is not None))
    return out


def recover(path: Path, *, looks_complete=lambda p: True) -> bool:
    """When `path` is missing and a swap into it was left half-done, put the previous folder back.

    Waits up to RECOVERY_WAIT_S for a live writer to finish first. Returns True when it restored one.
    """
    if os.path.lexists(path):
        return False
    olds = [(p, pid) for p, pid, is_old in _leftovers(path) if is_old and looks_complete(p)]
    if not olds:
        return False
    deadline = time.monotonic() + RECOVERY_WAIT_S
    while any(_pid_alive(pid) for _, pid in olds) and time.monotonic() < deadline:
        time.sleep(0.01)
        if os.path.lexists(path):
            return False
    newest = max(olds, key=lambda o: _mtime(o[0]))[0]
    try:
        os.rename(newest, path)
    except OSError:             # someone else restored it, or a writer finished, in the meantime
        return False
    fsync_dir(path.parent)
    return True


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


def clean_stale(path: Path) -> list[str]:
    """Delete the temporary / old folders beside `path` whose writer is dead or that are older than
    STALE_AFTER_S; returns their names. Leaves a live writer's folders alone."""
    removed = []
    now = time.time()
    missing = not os.path.lexists(path)
    for p, pid, is_old in _leftovers(path):
        if is_old and missing:        # possibly the only copy left: recover() decides about it
            continue
        dead = pid is not None and not _pid_alive(pid)
        if dead or now - _mtime(p) > STALE_AFTER_S:
            shutil.rmtree(p, ignore_errors=True)
            if not p.exists():
                removed.append(p.name)
    return removed
