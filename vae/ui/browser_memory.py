"""What a person set survives a reload of the same browser: the server remembers each browser's view.

A reload (F5) is a new Streamlit session, with empty session state. The server keeps, per browser (the
owner cookie's public id, vae.ui.hosting.owner), the view's link parameters (url_state.view_params: the
model, the map's settings, the Decode point, each page's own settings) and the session's map selection,
saved directions and Decode points. The first run of a new session whose URL carries no link of its own
gets them back: the parameters are put in the URL (so the page applies them as it applies a link, and the
address bar shows the view), the objects in session state.

    recall()            app.py, before url_state.restore_before_sidebar
    remember(ctx)       app.py, after the page ran (also when the page stopped early)

Memory only: a server restart forgets, as it forgets the sessions. At most MAX_BROWSERS are kept, the
least recently seen dropped first. Another browser never sees it (another cookie, another id).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import streamlit as st

from vae.ui import state
from vae.ui.decode import directions
from vae.ui.hosting import owner

MAX_BROWSERS = 2000
_RECALLED = "_vae_memory_recalled"
# session state kept across a reload: the map selection, the Decode points (per model), saved directions
KEPT_STATE = (state._SELECTION, state._DECODE_Z, directions._STORE)


@st.cache_resource
def _memory() -> tuple[OrderedDict, threading.Lock]:
    return OrderedDict(), threading.Lock()


def recall() -> None:
    """On a new session's first run with no link in its URL: this browser's last view, if the server has it."""
    if st.session_state.get(_RECALLED):
        return
    st.session_state[_RECALLED] = True
    from vae.ui.training import jobs as training

    bid = owner.browser_id()
    memory, lock = _memory()
    with lock:
        kept = memory.get(bid)
    if kept is None:
        return
    for key, value in kept["state"].items():
        st.session_state.setdefault(key, value)
    params = kept["params"]
    if training.remembered_source(bid) not in (None, kept["source"]):
        # the sidebar's source changed after this view was kept (another tab, a run that ended early): the
        # sidebar's own memory of the source wins, and with it the model
        params = {k: v for k, v in params.items() if k not in ("model", "z")}
    if params and not [k for k in st.query_params.keys() if k != state.BROWSER_ID_PARAM]:
        st.query_params.from_dict(params)


def remember(ctx) -> None:
    """Keep this browser's view (call after the page ran). Holds the session's own objects, so a change
    made later in a fragment (the Decode point while dragging) is kept too."""
    from vae.ui import url_state

    if ctx is None or ctx.lm is None:
        return
    try:
        params = url_state.view_params(ctx)
    except Exception:  # noqa: BLE001 - a view that cannot be described is not worth failing a page for
        return
    if str(params.get("model", "")).startswith(("upload:", "trained:")):
        # not in a link: the sidebar finds a trained model again by itself (training.remembered_source), an
        # upload is gone with its session
        params = {k: v for k, v in params.items() if k not in ("model", "z")}
    kept = {"params": params, "state": {k: st.session_state[k] for k in KEPT_STATE if k in st.session_state},
            "source": ctx.lm.source}
    memory, lock = _memory()
    with lock:
        memory[ctx.bid] = kept
        memory.move_to_end(ctx.bid)
        while len(memory) > MAX_BROWSERS:
            memory.popitem(last=False)
