"""Slow computations (t-SNE) in background threads, shared by every session and computed once per key.

A page asks `tsne_task(key, mu, ...)`; the first ask starts a thread, later asks (from any browser)
get the same task. The thread never calls Streamlit; the page polls `task.progress` in a fragment.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
import streamlit as st


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

    @property
    def is_done(self) -> bool:
        return self.finished is not None

    @property
    def seconds(self) -> float:
        return (self.finished or time.perf_counter()) - self.started


@dataclass
class _Tasks:
    tasks: dict[str, Task] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@st.cache_resource
def _tasks() -> _Tasks:
    return _Tasks()


MAX_TASKS = 32


def tsne_task(key: str, mu: np.ndarray, n_components: int = 2, perplexity: float = 30.0, seed: int = 0) -> Task:
    """The t-SNE Projection of `mu` (N, D) for `key` (model id + data + settings): started once, then shared.

    A failed task is retried on the next ask.
    """
    reg = _tasks()
    with reg.lock:
        task = reg.tasks.get(key)
        if task is not None and task.error is None:
            return task
        task = Task(key)
        if len(reg.tasks) >= MAX_TASKS:   # forget the oldest finished ones
            for k in [k for k, t in reg.tasks.items() if t.is_done][: len(reg.tasks) - MAX_TASKS + 1]:
                del reg.tasks[k]
        reg.tasks[key] = task
    mu = np.array(mu, dtype=np.float32, copy=True)

    def run() -> None:
        from vae.analysis.projection import project_tsne

        def progress(it: int, total: int, msg: str) -> None:
            task.done, task.message = (it / total if total else 0.0), msg

        try:
            task.result = project_tsne(mu, n_components, perplexity=perplexity, seed=seed, progress=progress)
            task.done, task.message = 1.0, "done"
        except Exception as e:  # noqa: BLE001 - shown on the page
            task.error = f"{type(e).__name__}: {e}"
        task.finished = time.perf_counter()

    task.thread = threading.Thread(target=run, name=f"tsne-{key[:24]}", daemon=True)
    task.thread.start()
    return task


def start_task(key: str, name: str, work) -> Task:
    """A background computation for `key`, started once and shared (like tsne_task); a failed one is retried.

    work(progress) -> result runs in a thread; progress(fraction 0..1, message) updates the task.
    """
    reg = _tasks()
    with reg.lock:
        task = reg.tasks.get(key)
        if task is not None and task.error is None:
            return task
        task = Task(key)
        if len(reg.tasks) >= MAX_TASKS:   # forget the oldest finished ones
            for k in [k for k, t in reg.tasks.items() if t.is_done][: len(reg.tasks) - MAX_TASKS + 1]:
                del reg.tasks[k]
        reg.tasks[key] = task

    def progress(fraction: float, message: str) -> None:
        task.done, task.message = float(fraction), message

    def run() -> None:
        try:
            task.result = work(progress)
            task.done, task.message = 1.0, "done"
        except Exception as e:  # noqa: BLE001 - shown on the page
            task.error = f"{type(e).__name__}: {e}"
        task.finished = time.perf_counter()

    task.thread = threading.Thread(target=run, name=f"{name}-{key[:24]}", daemon=True)
    task.thread.start()
    return task


def find_task(key: str) -> Task | None:
    """The task registered under `key` (running, finished or failed), or None; starts nothing."""
    return _tasks().tasks.get(key)


def finished_tasks(prefix: str) -> list[Task]:
    """Finished, successful tasks whose key starts with `prefix`, newest first."""
    reg = _tasks()
    with reg.lock:
        done = [t for k, t in reg.tasks.items() if k.startswith(prefix) and t.is_done and t.error is None]
    return sorted(done, key=lambda t: t.finished or 0.0, reverse=True)


def umap_task(key: str, mu: np.ndarray, n_components: int = 2, n_neighbors: int = 15, seed: int = 0) -> Task:
    """The UMAP Projection of `mu` (N, D) for `key` (model id + data + settings), computed once in the background."""
    mu = np.array(mu, dtype=np.float32, copy=True)

    def work(progress):
        from vae.analysis.umap_projection import project_umap

        return project_umap(mu, n_components, n_neighbors=n_neighbors, seed=seed,
                            progress=lambda i, total, msg: progress(i / total, msg))

    return start_task(key, "umap", work)


def show_progress(task: Task, what: str, every: float = 0.5) -> None:
    """Draw `task`'s progress bar (polled every `every` s) and its error; rerun the app when it finishes."""
    if task.error:
        st.error(f"{what} failed: {task.error}")
        return

    @st.fragment(run_every=every)
    def poll():
        if task.is_done:
            st.rerun(scope="app")
        st.progress(min(1.0, max(0.0, task.done)), text=f"{what}: {task.message} ({task.seconds:.0f} s)")

    poll()
