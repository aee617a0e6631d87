"""Slow computations (t-SNE) in background threads, shared by every session and computed once per key.

A page asks `projection_task(key, mu, "tsne", ...)` (or `submit(key, fn)` for any computation); the first ask
starts a thread, later asks (from any browser) get the same task. The thread never calls Streamlit;
the page draws `show_task(task, what)`, which polls the progress in a fragment, shows a failure with
its message and a Retry button, and reruns the page when the result is there.

Bounds (vae.ui.hosting): at most VAE_MAX_PROJECTIONS tasks compute at once (the others wait,
"queued"), each with VAE_PROJECTION_THREADS threads; at most `MAX_TASKS` are remembered. A failed task
stays failed, with its error, until `retry(key)`.

A task nobody waits for is cancelled (before it starts, or at its next progress report): one no page has
asked about for `ABANDON_S` seconds, or, sooner, one whose every asker has gone `LEFT_S` seconds ago: each
browser session that asked has since opened another page (app.py calls `note_page` at every run) or closed.
A visitor who looked at Compare for a moment and moved on left both models' scoring (20 CPU-s on MNIST) to
run for 30 s more, on a server others share.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import streamlit as st

from vae.ui import hosting
from vae.ui.hosting.janitor import current_session_id, session_is_active

MAX_TASKS = 32
ABANDON_S = 30.0          # seconds without a page asking about a task before it is cancelled
LEFT_S = 5.0              # ... or without one, once every session that asked has left its page or closed

# the page each browser session runs now (note_page): session id -> page; closed sessions are forgotten once
# there are more than MAX_SESSIONS_NOTED
_PAGE_OF_SESSION: dict[str, str] = {}
MAX_SESSIONS_NOTED = 1000


class TaskCancelled(Exception):
    """Raised inside a task's progress callback when nobody waits for it any more."""


@dataclass
class Task:
    """One background computation: its progress (0..1 and a message), then its result or error."""

    key: str
    done: float = 0.0
    message: str = "queued"
    result: object = None
    error: str | None = None
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None
    thread: threading.Thread | None = None
    polled: float = field(default_factory=time.monotonic)   # last time a page asked about it
    cancelled: bool = False
    partial: object = None        # the latest intermediate result the work published (e.g. a t-SNE layout)
    partials: int = 0             # how many it has published
    askers: dict[str, str] = field(default_factory=dict)    # session id -> the page it asked from

    def publish(self, value) -> None:
        """Make `value` the task's intermediate result (called by the work's thread; one assignment)."""
        self.partial = value
        self.partials += 1

    @property
    def is_done(self) -> bool:
        return self.finished is not None

    @property
    def seconds(self) -> float:
        return (self.finished or time.perf_counter()) - self.started

    def touch(self) -> None:
        """A page asks about the task (or polls it): from a browser session, that session and its page count
        as waiting for it."""
        self.polled = time.monotonic()
        asker = _asker()
        if asker is not None:
            self.askers[asker[0]] = asker[1]

    @property
    def abandoned(self) -> bool:
        idle = time.monotonic() - self.polled
        if idle > ABANDON_S:
            return True
        if idle <= LEFT_S or not self.askers:          # (every progress report asks: the cheap looks first)
            return False
        return not any(_still_on(sid, page) for sid, page in list(self.askers.items()))


def _asker() -> tuple[str, str] | None:
    """(session id, page it runs) of the script run on this thread, or None outside one."""
    sid = current_session_id()
    return None if sid is None else (sid, _PAGE_OF_SESSION.get(sid, ""))


def _still_on(sid: str, page: str) -> bool:
    """Session `sid` still shows `page`, the page it asked from, and is connected."""
    return _PAGE_OF_SESSION.get(sid, "") == page and session_is_active(sid)


def note_page(page: str) -> None:
    """Record the page this run's session shows (app.py, at every run): the tasks it asked for from another
    page no longer count it as waiting."""
    sid = current_session_id()
    if sid is None:
        return
    _PAGE_OF_SESSION[sid] = page
    if len(_PAGE_OF_SESSION) > MAX_SESSIONS_NOTED:           # forget the sessions that have closed
        for gone in [s for s in list(_PAGE_OF_SESSION) if not session_is_active(s)]:
            _PAGE_OF_SESSION.pop(gone, None)


@dataclass
class _Tasks:
    tasks: dict[str, Task] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    slots: threading.Semaphore | None = None
    n_slots: int = 0


@st.cache_resource
def _tasks() -> _Tasks:
    return _Tasks()


def _slots(reg: _Tasks) -> threading.Semaphore:
    with reg.lock:
        if reg.slots is None:
            reg.n_slots = max(1, int(hosting.limit("VAE_MAX_PROJECTIONS")))
            reg.slots = threading.BoundedSemaphore(reg.n_slots)
        return reg.slots


def running() -> int:
    """Tasks computing now (not waiting for a slot, not done)."""
    reg = _tasks()
    with reg.lock:
        return sum(1 for t in reg.tasks.values() if not t.is_done and t.message != "queued")


def submit(key: str, fn: Callable[[Callable[[int, int, str], None]], object], name: str = "task") -> Task:
    """The task computing `fn(progress)` for `key`: started once, then shared; a failed one is returned as is.

    fn calls progress(it, total, message) now and then; when nobody has asked about the task for
    ABANDON_S seconds, progress raises TaskCancelled and the task ends with that error. fn may also call
    progress.publish(value) to show an intermediate result (task.partial; `show_task(..., preview=)`).
    """
    reg = _tasks()
    with reg.lock:
        task = reg.tasks.get(key)
        if task is not None and not task.cancelled:
            task.touch()
            return task
        task = Task(key)
        task.touch()                      # the page asking waits for it
        if len(reg.tasks) >= MAX_TASKS:   # forget the oldest finished ones
            for k in [k for k, t in reg.tasks.items() if t.is_done][: len(reg.tasks) - MAX_TASKS + 1]:
                del reg.tasks[k]
        reg.tasks[key] = task
    slots = _slots(reg)

    def progress(it: int, total: int, msg: str) -> None:
        if task.abandoned:
            raise TaskCancelled("cancelled: no page was waiting for it")
        task.done, task.message = (it / total if total else 0.0), msg

    progress.publish = task.publish

    def run() -> None:
        with slots:
            try:
                if task.abandoned:
                    raise TaskCancelled("cancelled before it started: no page was waiting for it")
                task.started = time.perf_counter()
                task.message = "starting"
                task.result = fn(progress)
                task.done, task.message = 1.0, "done"
            except TaskCancelled as e:
                task.error, task.cancelled = str(e), True
            except Exception as e:  # noqa: BLE001 - shown on the page
                task.error = f"{type(e).__name__}: {e}"
            finally:
                task.finished = time.perf_counter()

    task.thread = threading.Thread(target=run, name=f"{name}-{key[:24]}", daemon=True)
    task.thread.start()
    return task


def retry(key: str) -> None:
    """Forget the failed task for `key`: the next ask starts it again (a Retry button's callback)."""
    reg = _tasks()
    with reg.lock:
        task = reg.tasks.get(key)
        if task is not None and task.is_done and task.error is not None:
            del reg.tasks[key]


def _measured(proj, mu: np.ndarray, labels, progress):
    """proj with params["quality"] = vae.analysis.map_quality.map_quality of its map (trustworthiness, 10-NN
    accuracy with labels), for the page to report beside the map's time. A second or so; after the fit."""
    from vae.analysis.map_quality import map_quality

    progress(1, 1, "measuring trustworthiness and 10-NN accuracy")
    proj.params["quality"] = map_quality(mu, proj.embedding, labels)
    return proj


def projection_task(key: str, mu: np.ndarray, method: str, n_components: int = 2, seed: int = 0,
                    labels: np.ndarray | None = None, **settings) -> Task:
    """The `method` Projection (vae.analysis.projection_methods) of `mu` (N, D) for `key` (model id + data +
    settings): started once in the background, then shared. t-SNE uses the server's projection threads.
    Its params["quality"] holds the map's trustworthiness and 10-NN accuracy (by `labels` (N,), if given);
    a method with a live layout (t-SNE, UMAP) publishes (iteration, total, layout (N, k)) as it computes."""
    from vae.analysis.projection_methods import projection_method

    how = projection_method(method)
    mu = np.array(mu, dtype=np.float32, copy=True)
    threads = hosting.projection_threads()

    def compute(progress):
        live = {"snapshot": lambda it, total, xy: progress.publish((it, total, xy))} if how.live_layout else {}
        proj = how.fit(mu, n_components, seed=seed, progress=progress, threads=threads, **settings, **live)
        return _measured(proj, mu, labels, progress)

    return submit(key, compute, name=method)


def show_task(task: Task, what: str, poll_s: float = 0.5, preview: Callable[[object], None] | None = None) -> None:
    """Draw a running task's progress (polled in a fragment; reruns the page when done), or its error
    with a Retry button. Never spins: a failure stops the polling and says why.

    preview(partial) draws the task's latest intermediate result (task.partial) under the bar, in the
    same fragment, whenever there is one (a t-SNE or UMAP layout as it computes)."""
    task.touch()
    if task.error is not None:
        st.error(f"{what} failed: {task.error}", icon=":material/error:")
        st.button(f"Retry {what}", key=f"retry_{task.key}", on_click=retry, args=(task.key,),
                  icon=":material/refresh:")
        return

    @st.fragment(run_every=poll_s)
    def progress() -> None:
        task.touch()
        if task.is_done:
            st.rerun(scope="app")
        text = (f"{what}: waiting for a free slot ({running()} running on this server)" if task.message == "queued"
                else f"{what}: {task.message} ({task.seconds:.0f} s)")
        st.progress(min(max(task.done, 0.0), 1.0), text=text)
        partial = task.partial
        if preview is not None and partial is not None:
            preview(partial)

    progress()


def start_task(key: str, name: str, work) -> Task:
    """`submit` for work that reports a fraction: work(progress) -> result, progress(fraction 0..1, message)."""
    return submit(key, lambda progress: work(lambda fraction, message: progress(fraction, 1.0, message)), name=name)


def find_task(key: str) -> Task | None:
    """The task registered under `key` (running, finished or failed), or None; starts nothing."""
    return _tasks().tasks.get(key)


def finished_tasks(prefix: str) -> list[Task]:
    """Finished, successful tasks whose key starts with `prefix`, newest first."""
    reg = _tasks()
    with reg.lock:
        done = [t for k, t in reg.tasks.items() if k.startswith(prefix) and t.is_done and t.error is None]
    return sorted(done, key=lambda t: t.finished or 0.0, reverse=True)


def large_projection_task(key: str, mu: np.ndarray, method: str, n_components: int = 2,
                          labels: np.ndarray | None = None, **settings) -> Task:
    """A slow projection (t-SNE, UMAP) of many points (N > vae.analysis.large_map.FIT_POINTS): fitted on a seeded sample, the rest
    placed by the fitted map's transform, and kept on disk per points and settings (a second open reads it).

    The result has .embedding float32 (N, k), .seconds (of the computation, 0 when read back), .params and
    .info (fitted, placed, cached); no transform of new points; .params["quality"] as projection_task's.
    A t-SNE or UMAP publishes its sample's layout as it computes: (iteration, total, layout (m, k), rows (m,)).
    """
    from types import SimpleNamespace

    mu = np.array(mu, dtype=np.float32, copy=True)

    def compute(progress):
        from vae.analysis.large_map import cached_project

        emb, info = cached_project(mu, method, n_components=n_components, progress=progress, **settings,
                                   snapshot=lambda it, total, xy, rows: progress.publish((it, total, xy, rows)))
        return _measured(SimpleNamespace(embedding=emb, seconds=0.0 if info["cached"] else info["seconds"],
                                         params={**settings, **info.get("params", {})}, info=info), mu, labels, progress)

    return submit(key, compute, name=method)
