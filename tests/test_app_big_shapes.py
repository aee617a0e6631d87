"""The sidebar's "Shapes to draw": a shapes model's data set drawn bigger than recorded (issue 21's
million-point map), not offered when hosted, kept when picked (also under AppTest, which runs a page
script on its own first) and carried in a shared link. The million itself is driven in Chromium by
bench/shapes_map_1m.py."""

from __future__ import annotations

import pytest

pytest.importorskip("streamlit")

from streamlit.testing.v1 import AppTest  # noqa: E402

from tests.test_app_pages import APP, open_page, run_ok  # noqa: E402,F401  (fixture)
from tests.waits import HANG_S  # noqa: E402
from vae.ui import loaders  # noqa: E402


def test_shapes_to_draw_offers_bigger_sizes(open_page, monkeypatch):  # noqa: F811
    monkeypatch.setattr(loaders, "SHAPES_SIZES", (20_600, 1_000_000))
    at = open_page("decode", model="shapes-8d")
    assert at.selectbox(key="sb_shapes_n").options == ["20,000", "20,600", "1,000,000"]


def test_shapes_to_draw_is_not_offered_when_hosted(open_page, monkeypatch):  # noqa: F811
    monkeypatch.setenv("VAE_EXPLORER_HOSTED", "1")
    at = open_page("decode", model="shapes-8d")
    assert not [s for s in at.selectbox if s.key == "sb_shapes_n"]


def test_a_picked_size_stays_picked_and_is_drawn(open_page, monkeypatch):  # noqa: F811
    # AppTest runs pages/decode.py on its own before app.py on every run; a sidebar drawn from the page got
    # other widget ids (the running script's hash is part of them), so the pick fell back to 20,000
    monkeypatch.setattr(loaders, "SHAPES_SIZES", (20_600, 1_000_000))
    at = open_page("decode", model="shapes-8d")
    at.selectbox(key="sb_shapes_n").select("20,600")
    run_ok(at)
    assert at.selectbox(key="sb_shapes_n").value == "20,600"
    assert len(at.session_state["_vae_context"].dataset.train) == 20_600
    run_ok(at)                                       # and on the next run too
    assert at.selectbox(key="sb_shapes_n").value == "20,600"


def _link_params(at, monkeypatch) -> dict:
    import numpy as np

    from vae.ui import url_state

    monkeypatch.setattr(url_state.state, "decode_point", lambda model_id, dim: np.zeros(dim, np.float32))
    return url_state.view_params(at.session_state["_vae_context"])


def test_a_link_carries_the_size_of_the_shapes_drawn(assets_dir, monkeypatch):
    monkeypatch.setattr(loaders, "ASSETS_DIR", assets_dir)
    monkeypatch.setattr(loaders, "SHAPES_SIZES", (20_600, 1_000_000))
    at = AppTest.from_file(APP, default_timeout=HANG_S)
    at.query_params.update(model="shapes-8d", shapes="20600")
    run_ok(at)
    assert at.selectbox(key="sb_shapes_n").value == "20,600"
    assert len(at.session_state["_vae_context"].dataset.train) == 20_600
    assert not at.warning
    assert _link_params(at, monkeypatch)["shapes"] == "20600"      # ... and the view's own link says so again
    at.selectbox(key="sb_shapes_n").select("20,000")                 # as recorded: no parameter
    run_ok(at)
    assert "shapes" not in _link_params(at, monkeypatch)


def test_a_link_with_a_size_not_offered_says_so(assets_dir, monkeypatch):
    monkeypatch.setattr(loaders, "ASSETS_DIR", assets_dir)
    at = AppTest.from_file(APP, default_timeout=HANG_S)
    at.query_params.update(model="shapes-8d", shapes="123")
    run_ok(at)
    assert at.selectbox(key="sb_shapes_n").value == "20,000"
    assert "not a size offered here" in " ".join(w.value for w in at.warning)
