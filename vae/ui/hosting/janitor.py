"""The janitor: one daemon thread per process that keeps a shared server tidy.

Every half second it starts queued training jobs when a slot is free and gives back the memory of
jobs that ended (their float copies of the data). Every `SWEEP_S` seconds it stops jobs whose
browser has had no open session for VAE_ORPHAN_GRACE_S, forgets jobs (and removes their run
folders) that ended more than VAE_RUN_FILES_TTL_S ago with no session open, and removes, after the same
time, run folders and uploaded zips in this server's scratch folder and the scratch folders of servers that
have ended (`vae.ui.hosting.scratch`): never another running server's files.
"""

from __future__ import annotations

import gc
import logging
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from vae.ui import hosting
from vae.ui.hosting import scratch

log = logging.getLogger(__name__)
SWEEP_S = 15.0


def current_session_id() -> str | None:
    """The browser session of the script run on this thread; None outside one (a background thread, a command)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    run_ctx = get_script_run_ctx(suppress_warning=True)
    return run_ctx.session_id if run_ctx is not None else None


def session_is_active(session_id: str) -> bool:
    """True while Streamlit holds an open (connected) session with this id."""
    try:
        from streamlit.runtime import Runtime

        rt = Runtime.instance()
    except Exception:  # noqa: BLE001 - no runtime (AppTest, a script): treat sessions as alive
        return True
    try:
        return bool(rt.is_active_session(session_id))
    except Exception:  # noqa: BLE001
        return True


def remove_old_files(folder: Path, pattern: str, older_than_s: float, keep: set[Path] = frozenset()) -> int:
    """Remove entries of `folder` matching `pattern` last modified more than `older_than_s` ago; returns how many."""
    now, n = time.time(), 0
    if not folder.is_dir():
        return 0
    for p in folder.glob(pattern):
        try:
            if p in keep or now - p.lstat().st_mtime < older_than_s:
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            n += 1
        except OSError:
            continue
    return n


class Janitor(threading.Thread):
    """Tidies the training registry `registry` (jobs, queue, sessions, orphan times, its lock).

    It knows nothing of how jobs start or stop: the training module hands it `dispatch_queue()`
    (start queued jobs while slots are free), `stop_job(browser_id)` and `scratch_dir` (this server's
    scratch folder: one run folder per browser id under `scratch.RUNS_NAME`, uploaded zips under
    `scratch.UPLOADS_NAME`).
    """

    def __init__(self, registry, *, dispatch_queue: Callable[[], None], stop_job: Callable[[str], None],
                 scratch_dir: Path, sweep_s: float = SWEEP_S):
        super().__init__(name="vae-janitor", daemon=True)
        self.reg = registry
        self.dispatch_queue = dispatch_queue
        self.stop_job = stop_job
        self.scratch_dir = Path(scratch_dir)
        self.runs_dir = self.scratch_dir / scratch.RUNS_NAME
        self.sweep_s = sweep_s
        self.ended_at: dict[int, float] = {}     # id(job) -> when its thread was first seen ended
        self._last_sweep = 0.0
        self.wake = threading.Event()

    def run(self) -> None:
        while True:
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - never let the janitor die
                log.exception("janitor tick failed")
            self.wake.wait(0.5)
            self.wake.clear()

    def tick(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.dispatch_queue()
        released = False
        with self.reg.lock:
            jobs = list(self.reg.jobs.items())
        for bid, job in jobs:
            if job.is_running:
                self.ended_at.pop(id(job), None)       # resumed: its files live on
            elif job.started:
                self.ended_at.setdefault(id(job), now)
                released |= job.release_memory()
        if released:
            gc.collect()
        if now - self._last_sweep >= self.sweep_s:
            self._last_sweep = now
            self.sweep(now)

    def sweep(self, now: float) -> None:
        """Stop orphaned jobs, forget old ones, remove old files."""
        grace = hosting.limit("VAE_ORPHAN_GRACE_S")
        ttl = hosting.limit("VAE_RUN_FILES_TTL_S")
        reg = self.reg
        with reg.lock:
            for bid, sids in list(reg.sessions.items()):
                alive = {s for s in sids if session_is_active(s)}
                reg.sessions[bid] = alive
                if alive:
                    reg.orphan_since.pop(bid, None)
                else:
                    reg.orphan_since.setdefault(bid, now)
            orphans = {bid for bid, t in reg.orphan_since.items() if now - t >= grace}
            jobs = list(reg.jobs.items())
        for bid, job in jobs:
            if bid not in orphans:
                continue
            if job.is_running or any(b == bid for b, _, _ in reg.queue):
                log.info("stopping the training job of a browser gone for %.0f s", now - reg.orphan_since[bid])
                self.stop_job(bid)
            ended = self.ended_at.get(id(job))
            if ended is not None and now - ended >= ttl and not job.is_running:
                with reg.lock:
                    if reg.jobs.get(bid) is job:
                        del reg.jobs[bid]
                        reg.past.pop(bid, None)          # its earlier runs' records go with it
                    reg.sessions.pop(bid, None)
                    reg.orphan_since.pop(bid, None)
                self.ended_at.pop(id(job), None)
                if job.out_dir is not None:
                    shutil.rmtree(Path(job.out_dir).parent, ignore_errors=True)
        # leftovers of jobs forgotten above, old uploads, and the scratch folders of servers that have ended
        with reg.lock:
            live = {self.runs_dir / bid for bid in reg.jobs}
        remove_old_files(self.runs_dir, "*", ttl, keep=live)
        remove_old_files(self.scratch_dir / scratch.UPLOADS_NAME, "*", ttl)   # a write cut short left its .tmp
        scratch.remove_ended_servers(self.scratch_dir.parent, ttl, own=self.scratch_dir)
