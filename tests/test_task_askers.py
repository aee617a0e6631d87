"""A background task stops soon after every browser session that asked for it has left its page or closed.

A visitor who opened Compare and went on to another page left both models' scoring to run for 30 s more
(ABANDON_S): 20 CPU-s on MNIST, on a server others share, and in the suite a page walk's scoring ran on beside
the next tests. Sessions are simulated here (vae.ui.tasks.current_session_id); the pages' own calls are made by app.py
(note_page) and by the tasks' polling (touch)."""

from __future__ import annotations

import threading
import time

import pytest

from tests.waits import HANG_S


@pytest.fixture
def sessions(monkeypatch):
    """sessions.be(sid) makes the calls that follow come from browser session `sid` (None: outside a session);
    sessions.close(sid) disconnects it."""
    from vae.ui import tasks

    now, closed = {"sid": None}, set()
    monkeypatch.setattr(tasks, "current_session_id", lambda: now["sid"])
    monkeypatch.setattr(tasks, "session_is_active", lambda sid: sid not in closed)
    monkeypatch.setattr(tasks, "_PAGE_OF_SESSION", {})
    monkeypatch.setattr(tasks, "LEFT_S", 0.2)

    class S:
        @staticmethod
        def be(sid):
            now["sid"] = sid

        @staticmethod
        def close(sid):
            closed.add(sid)
    return S


def _work(release: threading.Event):
    """Work that reports progress every 20 ms until `release` (or the bound)."""
    def work(progress):
        deadline = time.monotonic() + HANG_S
        i = 0
        while not release.is_set() and time.monotonic() < deadline:
            progress(i, 10**6, "working")
            i += 1
            time.sleep(0.02)
        return "finished"
    return work


def _finish(task, release: threading.Event):
    release.set()
    task.thread.join(HANG_S)
    assert task.is_done


def test_a_task_is_cancelled_soon_after_its_only_asker_opens_another_page(sessions):
    from vae.ui import tasks

    release = threading.Event()
    sessions.be("s1")
    tasks.note_page("compare")
    task = tasks.submit(f"test-askers-left-{time.monotonic_ns()}", _work(release))
    time.sleep(0.5)                                 # past LEFT_S, still on the page that asked: runs on
    assert not task.is_done
    tasks.note_page("decode")                       # the visitor moved on
    task.thread.join(HANG_S)
    assert task.cancelled and "no page was waiting" in task.error
    # the page asked again later: a new task starts
    tasks.note_page("compare")
    again = tasks.submit(task.key, _work(release))
    assert again is not task and not again.is_done
    _finish(again, release)
    assert again.result == "finished"


def test_a_task_runs_while_any_asker_stays_and_stops_when_the_last_one_closes(sessions):
    from vae.ui import tasks

    release = threading.Event()
    key = f"test-askers-two-{time.monotonic_ns()}"
    sessions.be("a")
    tasks.note_page("compare")
    task = tasks.submit(key, _work(release))
    sessions.be("b")
    tasks.note_page("compare")
    assert tasks.submit(key, _work(release)) is task        # shared: b waits for it too
    sessions.be("a")
    tasks.note_page("train")                                # a leaves; b still on Compare
    time.sleep(0.6)
    assert not task.is_done
    sessions.close("b")                                     # b's tab closed
    task.thread.join(HANG_S)
    assert task.cancelled


def test_a_task_asked_outside_a_session_keeps_the_abandon_rule(sessions, monkeypatch):
    """No browser session (a thread, a command): only ABANDON_S without a look cancels it."""
    from vae.ui import tasks

    release = threading.Event()
    sessions.be(None)
    task = tasks.submit(f"test-askers-none-{time.monotonic_ns()}", _work(release))
    time.sleep(0.5)
    assert not task.is_done
    _finish(task, release)
    assert task.result == "finished" and task.error is None


def test_a_session_that_comes_back_to_the_page_keeps_its_task(sessions, monkeypatch):
    """Another page's run and back within LEFT_S (a quick look elsewhere): the task was never left."""
    from vae.ui import tasks

    monkeypatch.setattr(tasks, "LEFT_S", 5.0)          # the two runs below take far less, even on a busy machine
    release = threading.Event()
    sessions.be("s1")
    tasks.note_page("latent_map")
    task = tasks.submit(f"test-askers-back-{time.monotonic_ns()}", _work(release))
    tasks.note_page("decode")
    tasks.note_page("latent_map")
    task.touch()
    time.sleep(0.5)
    assert not task.is_done
    _finish(task, release)
    assert task.error is None
