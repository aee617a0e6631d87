"""Issue 27's widget defect on the pages that still stop early (audit of every st.stop()).

A run that ends in st.stop() skips Streamlit's clean-up of widgets it did not draw: the browser forgets such a
widget (it comes back at its default) while the server keeps its old value and goes on using it, so the box and
the picture disagree. Each test reproduces one case on its page: a value set, a run that stops before the
widget, the widget back, and the page's picture checked against the widget's value.

AppTest reads a widget's value from the server's session state, so it cannot see the browser forget a widget:
these tests pin what the fix keeps (the value the person set, on both sides); the defect itself is reproduced in
Chromium (tests/e2e/test_stopped_widgets.py)."""

from __future__ import annotations

import pytest

pytest.importorskip("streamlit")

from tests.test_app_pages import open_page, run_ok  # noqa: E402,F401  (fixture)


def strip_caption(at) -> str:
    return next(c for im in at.image for c in im.captions if " steps of " in c)


@pytest.mark.parametrize("source, widget, value, shown", [("data", "int_idx_A", 42, "test #42"),
                                                          ("prior", "int_seed_A", 7, "prior sample, seed 7")])
def test_interpolate_an_endpoints_value_survives_a_run_that_stopped_without_it(open_page, source, widget, value,  # noqa: F811
                                                                               shown):
    """Interpolate: A's index 42 (or seed 7), then A from "the map selection" with nothing selected (the page
    stopped: "Choose both endpoints"), then back: the box read its default while the strip still used 42."""
    at = open_page("interpolate")
    at.selectbox(key="int_src_A").set_value(source)
    run_ok(at)
    box = next(n for n in at.number_input if n.key.startswith(widget))
    box.set_value(value)
    run_ok(at)
    assert strip_caption(at).startswith(shown)
    at.selectbox(key="int_src_A").set_value("map")
    run_ok(at)
    assert any("Choose both endpoints" in i.value for i in at.info)
    at.selectbox(key="int_src_A").set_value(source)
    run_ok(at)
    box = next(n for n in at.number_input if n.key.startswith(widget))
    # the box and the strip agree, on the value the person set
    assert box.value == value and strip_caption(at).startswith(shown), (box.value, strip_caption(at))


def test_a_page_that_stops_forgets_on_the_server_the_widgets_it_did_not_draw(open_page):  # noqa: F811
    """Latent map: neighbours of an image, then an index filter no point matches (the page stops before the
    neighbours' panel): the server forgets the panel's radio as the browser does, so when the filter is cleared
    both show it at its default (before: the server kept "image" while the browser showed "the map selection")."""
    at = open_page("latent_map")
    at.radio(key="map_nb_source").set_value("image")
    run_ok(at)
    assert at.radio(key="map_nb_source").value == "image"
    at.text_input(key="map_f_index").set_value("5000")           # the digits test split has 300 images
    run_ok(at)
    assert any("No point matches" in w.value for w in at.warning)
    assert "map_nb_source" not in at.session_state
    at.text_input(key="map_f_index").set_value("")
    run_ok(at)
    assert at.radio(key="map_nb_source").value == "map"
    assert not at.get("file_uploader")                           # and the panel is the map's, not the image's


def test_pages_stop_through_the_helper_that_forgets_undrawn_widgets():
    """Every page and glue module stops with vae.ui.state.stop(), never st.stop() (whose run skips Streamlit's
    clean-up of undrawn widgets: the defect above)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    files = [root / "app.py", *sorted((root / "pages").glob("*.py")), *sorted((root / "vae" / "ui").rglob("*.py"))]
    found = [f"{f.relative_to(root)}:{n}" for f in files if f.name != "state.py"
             for n, line in enumerate(f.read_text().splitlines(), 1)
             if re.search(r"\bst\.stop\(\)", line.split("#")[0])]
    assert not found, found
