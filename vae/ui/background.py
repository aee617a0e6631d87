"""Any slow computation in a background thread, shared by every session and computed once per key,
with progress: the pattern of vae.ui.tasks' t-SNE task, for any work function.

    task = background_task(key, lambda progress: evaluate_factors(model, ds, progress=progress))
    show_task_progress(task, "Factor metrics")     # a fragment that polls and reruns the page when done

The work runs without Streamlit; it reports progress(fraction 0..1, message). A failed task keeps its
error for the page to show, and is started again on the next ask.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import streamlit as st

from vae.ui.tasks import MAX_TASKS, Task, _tasks


def background_task(key: str, work: Callable[[Callable[[float, str], None]], object], *,
                    retry_failed: bool = False) -> Task:
    """The task for `key`: started on the first ask with `work(progress)`, then shared by every session.

    A failed task is returned as it is (its error shown) unless `retry_failed`, which starts it again."""
    reg = _tasks()
    with reg.lock:
        task = reg.tasks.get(key)
        if task is not None and (task.error is None or not retry_failed):
            return task
        task = Task(key)
        if len(reg.tasks) >= MAX_TASKS:   # forget the oldest finished ones
            for k in [k for k, t in reg.tasks.items() if t.is_done][: len(reg.tasks) - MAX_TASKS + 1]:
                del reg.tasks[k]
        reg.tasks[key] = task

    def progress(fraction: float, message: str) -> None:
        task.done, task.message = min(1.0, max(0.0, float(fraction))), message

    def run() -> None:
        try:
            task.result = work(progress)
            task.done, task.message = 1.0, "done"
        except Exception as e:  # noqa: BLE001 - shown on the page
            task.error = f"{type(e).__name__}: {e}"
        task.finished = time.perf_counter()

    task.thread = threading.Thread(target=run, name=f"task-{key[:24]}", daemon=True)
    task.thread.start()
    return task


def show_task_progress(tasks: list[Task], what: str) -> None:
    """While any of `tasks` runs: a progress bar per running task, polled twice a second; the page reruns
    when they are all done. Call it only while some are running."""
    @st.fragment(run_every=0.5)
    def poll():
        if all(t.is_done for t in tasks):
            st.rerun(scope="app")
        for t in tasks:
            if not t.is_done:
                st.progress(t.done, text=f"{what}: {t.message} ({t.seconds:.0f} s)")

    poll()
