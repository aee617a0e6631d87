"""A reload keeps the map selection and the saved directions (issue 27: F5 dropped both; the Decode point, the
model and the page's settings are tested in Chromium, tests/e2e/test_reload.py). A reload is a new session
whose browser sends the same owner cookie (AppTest: the token in its session state); another browser's
session starts empty."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from tests.waits import HANG_S  # noqa: E402
from vae.analysis.directions import Direction  # noqa: E402
from vae.ui import state  # noqa: E402
from vae.ui.decode import directions  # noqa: E402

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _session(token: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=HANG_S)
    at.session_state["_vae_owner_token"] = token        # the browser's cookie, as vae.ui.hosting.owner reads it
    return at


def test_a_reload_keeps_the_map_selection_and_the_saved_directions():
    first = _session("a" * 32)
    first.run()
    assert not first.exception, [e.value for e in first.exception]
    model_id = first.session_state[state._SELECTION].model_id if state._SELECTION in first.session_state else None
    model_id = model_id or next(iter(first.session_state[state._DECODE_Z]))      # the Decode page's model
    dataset_key = "test-data"
    first.session_state[directions._STORE] = {model_id: {"smile": Direction("smile", np.array([0.5, -1.0]), "test")}}
    first.session_state[state._SELECTION] = state.MapSelection(model_id, dataset_key, "test", [5, 9])
    first.run()                                          # the page ran with them: this browser's view is kept
    assert not first.exception, [e.value for e in first.exception]

    reload = _session("a" * 32)                          # F5: a new session, the same browser
    reload.run()
    assert not reload.exception, [e.value for e in reload.exception]
    kept = reload.session_state[directions._STORE][model_id]["smile"]
    assert kept.name == "smile" and np.allclose(kept.vector, [0.5, -1.0])
    sel = reload.session_state[state._SELECTION]
    assert (sel.model_id, sel.dataset_key, sel.split, sel.indices) == (model_id, dataset_key, "test", [5, 9])

    other = _session("b" * 32)                           # another browser: nothing of the first one's
    other.run()
    assert not other.exception, [e.value for e in other.exception]
    assert state._SELECTION not in other.session_state or other.session_state[state._SELECTION] is None
    assert not (other.session_state[directions._STORE] if directions._STORE in other.session_state else {})
