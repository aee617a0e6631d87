"""This server's scratch folder: its trainings' run folders and its uploaded zips, apart from other servers'.

Several servers can run on one machine and share its temporary folder: a class's server beside a notebook's,
or the test suite's worker processes. Each process claims `<tmp>/vae-explorer/server-<pid>-<8 hex>/` and holds
an advisory lock (`fcntl.flock`) on the `.lock` file inside for as long as it lives. A janitor tidies its own
folder, and removes another server's folder only once nobody holds its lock (that server has ended) and it is
older than the time limit: never the files of a server that still runs. (One server's janitor used to sweep a
folder shared by all, and removed the checkpoint another process was about to resume from.)

Where `fcntl` is missing (Windows) another server's folder is removed by its age alone.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

ROOT_NAME = "vae-explorer"
LOCK_NAME = ".lock"
RUNS_NAME = "runs"            # <server folder>/runs/<browser id>/run-<n>/: its trainings' checkpoints and logs
UPLOADS_NAME = "uploads"      # <server folder>/uploads/vae-upload-<hash>.zip: zips of images from browsers
_claim_lock = threading.Lock()
_claimed: tuple[Path, object, int] | None = None      # (folder, its open lock file, the pid that claimed it)


def root() -> Path:
    """The folder that holds every server's scratch folder on this machine."""
    return Path(tempfile.gettempdir()) / ROOT_NAME


def server_dir() -> Path:
    """This process's scratch folder, claimed (made and locked) on the first call; the same folder after."""
    global _claimed
    with _claim_lock:
        if _claimed is None or _claimed[2] != os.getpid():      # a forked child claims its own
            folder, lock_file = claim(root())
            _claimed = (folder, lock_file, os.getpid())
        return _claimed[0]


def uploads_dir() -> Path:
    """Where this server keeps uploaded zips (`vae-upload-<hash>.zip`); made on the first call."""
    path = server_dir() / UPLOADS_NAME
    path.mkdir(exist_ok=True)
    return path


def claim(base: Path) -> tuple[Path, object]:
    """Make a new `server-*` folder under `base` and lock it; (the folder, the open lock file to keep open).

    A janitor may remove the folder between its making and its locking (it looks unowned then): the claim
    notices (the lock file is gone, or is not the one it opened) and takes another name.
    """
    base.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        folder = base / f"server-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            folder.mkdir()
            lock_file = open(folder / LOCK_NAME, "a+b")      # noqa: SIM115 - open for the process's life
        except (FileExistsError, FileNotFoundError):
            continue
        if fcntl is not None:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)   # waits only while a janitor's probe holds it
            if not _is_file_of(folder / LOCK_NAME, lock_file):   # that janitor removed the folder meanwhile
                lock_file.close()
                continue
        return folder, lock_file
    raise OSError(f"could not claim a scratch folder under {base}")


def _is_file_of(path: Path, lock_file) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(lock_file.fileno()).st_ino
    except FileNotFoundError:
        return False


def remove_ended_servers(base: Path, older_than_s: float, own: Path | None = None) -> int:
    """Remove the scratch folders under `base` of servers that have ended, last modified more than
    `older_than_s` seconds ago (never `own`); returns how many."""
    if not base.is_dir():
        return 0
    now, n = time.time(), 0
    for folder in base.glob("server-*"):
        try:
            if folder == own or folder.is_symlink() or not folder.is_dir():
                continue
            if now - folder.lstat().st_mtime >= older_than_s and _remove_if_ended(folder):
                n += 1
        except OSError:
            continue
    return n


def _remove_if_ended(folder: Path) -> bool:
    """Remove `folder` unless a live process holds its lock; True when removed."""
    if fcntl is None:
        shutil.rmtree(folder, ignore_errors=True)
        return True
    try:
        lock_file = open(folder / LOCK_NAME, "rb")
    except FileNotFoundError:     # made and not yet locked (that claim then takes another name), or half removed
        shutil.rmtree(folder, ignore_errors=True)
        return True
    with lock_file:
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False                                  # its server runs
        shutil.rmtree(folder, ignore_errors=True)         # under the lock: a claim that opened it waits
    return True
