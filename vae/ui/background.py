"""Any slow computation in a background thread, shared by every session and computed once per key,
with progress: `vae.ui.tasks.submit` (bounded slots, cancelled when no page asks about it, errors
kept for the page) for work that reports a fraction.

    task = background_task(key, lambda progress: evaluate_factors(model, ds, progress=progress))
    show_task_progress([task], "Factor metrics")   # a fragment that polls and reruns the page when done

The work runs without Streamlit; it reports progress(fraction 0..1, message). A failed task keeps its
error for the page to show until it is retried.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from vae.ui import tasks
from vae.ui.tasks import Task


def background_task(key: str, work: Callable[[Callable[[float, str], None]], object], *,
                    retry_failed: bool = False) -> Task:
    """The task for `key`: started on the first ask with `work(progress)`, then shared by every session.

    A failed task is returned as it is (its error shown) unless `retry_failed`, which starts it again."""
    if retry_failed:
        tasks.retry(key)
    return tasks.start_task(key, "task", work)


def show_task_progress(running: list[Task], what: str) -> None:
    """While any of `running` runs: a progress bar per running task, polled twice a second; the page reruns
    when they are all done. Call it only while some are running."""
    @st.fragment(run_every=0.5)
    def poll():
        for t in running:
            t.touch()                 # a page is waiting: not abandoned
        if all(t.is_done for t in running):
            st.rerun(scope="app")
        for t in running:
            if not t.is_done:
                st.progress(min(1.0, max(0.0, t.done)), text=f"{what}: {t.message} ({t.seconds:.0f} s)")

    poll()
