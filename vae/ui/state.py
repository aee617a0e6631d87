"""Session state shared between pages: the browser's id, the map selection, the Decode point.

Keys live here so pages never spell them twice. Everything is keyed by the model's identity so
that switching models never applies one model's latent point to another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NoReturn

import numpy as np
import streamlit as st

BROWSER_ID_PARAM = "sid"          # query parameter that names this browser's training jobs
_BID = "_vae_browser_id"
_SELECTION = "_vae_map_selection"
_DECODE_Z = "_vae_decode_z"


def browser_id() -> str:
    """The public id of this browser's owner (see vae.ui.hosting.owner): keys its training jobs and run folders.

    It comes from a secret cookie, not from the URL: a link with someone else's `?sid=` opens the page,
    never their jobs. An old `?sid=` in the URL is dropped.
    """
    from vae.ui.hosting.owner import browser_id as _owner_id

    if BROWSER_ID_PARAM in st.query_params:
        del st.query_params[BROWSER_ID_PARAM]
    bid = _owner_id()
    st.session_state[_BID] = bid
    return bid


@dataclass
class MapSelection:
    """Points picked on the latent map: dataset indices into one split, for one model and dataset."""

    model_id: str
    dataset_key: str
    split: str                                   # "train" | "test"
    indices: list[int] = field(default_factory=list)
    point: np.ndarray | None = None              # (D,) latent point decoded from a click on an empty map spot


def set_selection(sel: MapSelection | None) -> None:
    st.session_state[_SELECTION] = sel


def selection(model_id: str, dataset_key: str | None = None) -> MapSelection | None:
    """The map selection for this model (and dataset, when given), or None."""
    sel = st.session_state.get(_SELECTION)
    if sel is None or sel.model_id != model_id:
        return None
    if dataset_key is not None and sel.dataset_key != dataset_key:
        return None
    return sel


def decode_point(model_id: str, latent_dim: int) -> np.ndarray:
    """The current Decode point z (latent_dim,) float32 for this model (zeros at first)."""
    store = st.session_state.setdefault(_DECODE_Z, {})
    z = store.get(model_id)
    if z is None or z.shape != (latent_dim,):
        z = np.zeros(latent_dim, dtype=np.float32)
        store[model_id] = z
    return z.copy()


def set_decode_point(model_id: str, z: np.ndarray) -> None:
    st.session_state.setdefault(_DECODE_Z, {})[model_id] = np.asarray(z, dtype=np.float32).copy()


# ---- widgets that come and go --------------------------------------------------------------------------
# A widget left out of a run that ends in st.stop() is forgotten by the browser (it comes back showing its
# default) but not by the server, which goes on using the old value: the box and the picture disagree
# (issue 27). Pages stop with `stop()` below, never st.stop(): the server then forgets such widgets too. A page
# that draws a widget only sometimes and should keep its value keeps it here and gives it back, by session
# state, whenever the widget returns: the browser is then sent the value the server uses.
_KEPT = "_vae_kept_widgets"


def restore_widget(key: str, drawn_last_run: bool, valid=lambda value: True) -> None:
    """Before drawing widget `key`: when it was not drawn in the previous run, set it to its kept value
    (remember_widget), if any and `valid(value)`."""
    kept = st.session_state.get(_KEPT, {})
    if not drawn_last_run and key in kept and valid(kept[key]):
        st.session_state[key] = kept[key]


def remember_widget(key: str, value) -> None:
    """After drawing widget `key`: keep its value for restore_widget."""
    st.session_state.setdefault(_KEPT, {})[key] = value


def stop() -> NoReturn:
    """st.stop() that ends the run as a finished run ends: the server forgets every widget this run did not draw,
    as the browser does, before the page stops (both show such a widget at its default when it returns, never
    two different values). Streamlit skips that clean-up in a stopped run (ScriptRunner: premature_stop), which
    left a box reading its default while the page computed with the old value (issue 27)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    try:
        if ctx is not None and ctx.has_script_started:
            # the widgets drawn so far are all this run draws: what a finished run passes to the same clean-up
            ctx.session_state.on_script_finished(ctx.shared.widget_ids_this_run.snapshot())
    except AttributeError:  # pragma: no cover - another Streamlit's internals (pinned in requirements.txt): a
        pass                # plain stop; tests/test_app_stopped_widgets.py fails there and says so
    st.stop()
