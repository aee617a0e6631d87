"""Streamlit glue of the hosting policy (vae.ui.hosting): path inputs that a shared server hides, the
training queue note, and the page-level error boundary that shows a message and logs the traceback."""

from __future__ import annotations

import logging
import re

import streamlit as st

from vae.ui import hosting
from vae.ui import loaders
from vae.ui.training import jobs as training
from vae.ui.hosting import hosted

__all__ = ["hosted", "idx_folder_input", "queue_note", "run_page", "public_message"]

log = logging.getLogger("vae.ui")


def idx_folder_input(dataset: str, disabled: bool = False) -> str | None:
    """The Train page's IDX folder: a text input locally (checked), the server's own copy when hosted."""
    if hosted():
        return loaders.default_data_dir(dataset)
    raw = st.text_input("Folder of the IDX files (empty: the download cache)", key=f"tr_dir_{dataset}",
                        value=loaders.default_data_dir(dataset) or "", disabled=disabled,
                        help="the four files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                             "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz").strip()
    if not raw:
        return None
    try:
        return str(hosting.check_server_path(raw, "folder"))
    except hosting.PathRefused as e:
        st.error(f"Could not use this folder: {e}")
        return None


def queue_note(bid: str, snap) -> None:
    """Under the progress bar: this job's place in the training queue while it waits."""
    if snap.state != "pending":
        return
    pos = training.queue_position(bid)
    if pos is not None:
        st.info(f"Waiting for a free training slot: number {pos} in the queue "
                f"({training.running_count()} training{'s' if training.running_count() != 1 else ''} running "
                f"on this server).", icon=":material/hourglass_top:")


def stop_note(bid: str, job, snap) -> None:
    """After Stop: the step the server knew at the press, the step at which the request reached the
    training (its own process), and the step at which it stopped."""
    asked = training.stop_asked_at(bid, job)
    reached = job.stop_reached_step
    if asked is not None and reached is not None and snap.state == "stopped":
        later = snap.step - reached
        st.caption(f"Pressed at step {asked:,} (the server's latest report); Stop reached the training at step "
                   f"{reached:,}; it stopped at step {snap.step:,} ({later} step{'s' if later != 1 else ''} later).")


_PATH_RE = re.compile(r"(?<![\w.])(/[^\s:'\"]+)+")


def public_message(e: BaseException) -> str:
    """One line for a visitor: the exception's type and message, with server paths replaced by "…"."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    text = _PATH_RE.sub("…", text)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def run_page(page) -> None:
    """`page.run()` with an error boundary: a visitor sees one line, the server log keeps the traceback."""
    from streamlit.runtime.scriptrunner_utils.exceptions import RerunException, StopException

    try:
        page.run()
    except (RerunException, StopException):
        raise
    except Exception as e:  # noqa: BLE001 - the boundary of the page
        log.exception("page %s failed", getattr(page, "title", "?"))
        # an exception box (tests and users see that the page failed) with one line and no traceback
        st.exception(PageError(f"{public_message(e)}. The server's log has the details; change a setting "
                               "or reload to try again."))


class PageError(Exception):
    """What a visitor sees of a page's failure: the message without server paths, no traceback."""
