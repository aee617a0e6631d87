"""The Decode page under AppTest: the point never moves unless the user moves it, the traversal grid
follows the current point and labels its rows, inactive dimensions are folded away, and the page
says which decoder draws the image. (The drag itself is driven in Chromium: tests/e2e.)"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("streamlit")

from tests.test_app_pages import open_page, run_ok  # noqa: E402,F401  (fixture)
from vae.ui.state import _DECODE_Z  # noqa: E402


def decode_z(at) -> np.ndarray:
    (z,) = at.session_state[_DECODE_Z].values()
    return np.asarray(z)


def component_data(at) -> dict:
    (element,) = [e for e in at.get("bidi_component") if e.proto.component_name == "vae_latent_control"]
    from vae.ui.components.latent_control import unpack_payload

    return unpack_payload(element.proto.bytes)[0]   # the latent control sends a binary payload: header + blob


def test_turning_live_decoding_off_and_on_does_not_move_the_point(open_page):  # noqa: F811
    at = open_page("decode", model="shapes-8d")
    next(b for b in at.button if b.label == "Sample from prior").click()
    run_ok(at)
    z = decode_z(at)
    assert np.any(np.abs(z / 0.05 - np.round(z / 0.05)) > 1e-3)     # not on the plain sliders' grid
    at.toggle(key="dec_live").set_value(False)
    run_ok(at)
    np.testing.assert_array_equal(decode_z(at), z)
    run_ok(at)                                                          # and a later rerun keeps it
    np.testing.assert_array_equal(decode_z(at), z)
    # moving one plain slider moves that dimension only
    sliders = [s for s in at.slider if s.label.startswith("z")]
    d = int(sliders[0].label.split()[0][1:]) - 1
    sliders[0].set_value(1.5)
    run_ok(at)
    moved = decode_z(at)
    assert moved[d] == pytest.approx(1.5)
    np.testing.assert_array_equal(np.delete(moved, d), np.delete(z, d))
    at.toggle(key="dec_live").set_value(True)
    run_ok(at)
    np.testing.assert_array_equal(decode_z(at), moved)
    assert component_data(at)["z"] == [round(float(v), 6) for v in moved]


def test_traversal_grid_follows_the_point_and_labels_its_rows(open_page):  # noqa: F811
    at = open_page("decode", model="shapes-8d")
    caption = next(c.value for c in at.caption if "sweeps its dimension" in c.value)
    assert "z = [0.00, 0.00" in caption
    rows = [m.value for m in at.markdown if m.value.startswith("**z")]
    assert len(rows) >= 2 and all("KL" in r for r in rows)                   # one label per row
    next(b for b in at.button if b.label == "Sample from prior").click()
    run_ok(at)
    z = decode_z(at)
    caption = next(c.value for c in at.caption if "sweeps its dimension" in c.value)
    assert f"z = [{z[0]:.2f}, {z[1]:.2f}" in caption                        # no Refresh button needed
    assert not [b for b in at.button if "Refresh" in b.label]


def test_inactive_dimensions_are_folded_and_the_decoder_is_named(open_page):  # noqa: F811
    at = open_page("decode", model="shapes-8d")
    data = component_data(at)
    assert data["fold_inactive"] is True and any(data["inactive"])
    # inactive dimensions are not traversed by default
    rows = [m.value for m in at.markdown if m.value.startswith("**z")]
    inactive_names = {f"**z{d + 1}**" for d, flag in enumerate(data["inactive"]) if flag}
    assert not [r for r in rows if r.split("  ")[0] in inactive_names]
    assert any("Decoded in your browser" in c.value for c in at.caption)
    # plain sliders: inactive ones sit in their own closed expander
    at.toggle(key="dec_live").set_value(False)
    run_ok(at)
    n = sum(data["inactive"])
    assert any(e.label == f"{n} inactive dimension{'s' if n != 1 else ''}" for e in at.expander)


def test_the_pad_drives_the_two_dimensions_the_user_picks_kept_in_the_link(open_page):  # noqa: F811
    """Issue 27: the pad always drove the two dimensions of most KL. Two boxes pick them, numbered as the
    sliders (z3 is 3), a pick of the other box's dimension swaps them, and the link carries the pick."""
    at = open_page("decode", model="shapes-8d")
    x_box, y_box = at.selectbox(key="dec_pad_x"), at.selectbox(key="dec_pad_y")
    first_two = component_data(at)["dims"][:2]
    assert component_data(at)["pad_dims"] == first_two                       # most KL first, as before
    assert (x_box.value, y_box.value) == (first_two[0] + 1, first_two[1] + 1)
    assert x_box.format_func(3).startswith("z3 · KL")                         # the sliders' label
    x_box.set_value(3)
    run_ok(at)
    at.selectbox(key="dec_pad_y").set_value(8)
    run_ok(at)
    assert component_data(at)["pad_dims"] == [2, 7]
    at.selectbox(key="dec_pad_y").set_value(3)                                # the other box's: they swap
    run_ok(at)
    assert component_data(at)["pad_dims"] == [7, 2]
    from vae.ui import url_state

    kept = at.session_state[url_state._MAP]                                    # what view_params puts in a link
    assert (kept["dec_pad_x"], kept["dec_pad_y"]) == (8, 3)
    assert [url_state.PAGE_PARAMS[k][0] for k in ("dec_pad_x", "dec_pad_y")] == ["padx", "pady"]
    assert url_state.PAGE_PARAMS["dec_pad_x"][1]("3") == 3 and url_state.PAGE_PARAMS["dec_pad_x"][1]("2.5") is None
    # a page switch and back keeps the pick
    at.switch_page("pages/generate.py").run()
    at.switch_page("pages/decode.py").run()
    assert component_data(at)["pad_dims"] == [7, 2]


def test_a_link_names_the_pad_dimensions_and_a_misfit_falls_back(open_page):  # noqa: F811
    at = open_page("decode", model="shapes-8d", **{"dec_pad_x": 5, "dec_pad_y": 6})
    assert component_data(at)["pad_dims"] == [4, 5]
    at = open_page("decode", model="shapes-8d", **{"dec_pad_x": 40, "dec_pad_y": 6})    # no z40 in 8-d
    data = component_data(at)
    assert data["pad_dims"] == data["dims"][:2]
