"""The sidebar's "Shapes to draw": a shapes model's data set drawn bigger than recorded (issue 21's
million-point map), not offered when hosted. The drawing itself is driven in Chromium by
bench/shapes_map_1m.py (under AppTest a pick of the selectbox did not stay picked)."""

from __future__ import annotations

import pytest

pytest.importorskip("streamlit")

from tests.test_app_pages import open_page, run_ok  # noqa: E402,F401  (fixture)
from vae.ui import loaders  # noqa: E402


def test_shapes_to_draw_offers_bigger_sizes(open_page, monkeypatch):  # noqa: F811
    monkeypatch.setattr(loaders, "SHAPES_SIZES", (20_600, 1_000_000))
    at = open_page("decode", model="shapes-8d")
    assert at.selectbox(key="sb_shapes_n").options == ["20,000", "20,600", "1,000,000"]


def test_shapes_to_draw_is_not_offered_when_hosted(open_page, monkeypatch):  # noqa: F811
    monkeypatch.setenv("VAE_EXPLORER_HOSTED", "1")
    at = open_page("decode", model="shapes-8d")
    assert not [s for s in at.selectbox if s.key == "sb_shapes_n"]
