"""The WebGL map's Python side without a browser: the binary form of the points, the thumbnail atlas, the
hosted point cap, the sampled fallback view, the 'all' split, and a lasso's selection read as a Plotly event
by the page's selection code. (In Chromium: tests/e2e/test_webgl_map.py.)"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from vae.data.datasets import ImageDataset, Split
from vae.ui.components.webgl_scatter import atlas_png, decode_value, normalise_xy, pack_points, read_value
from vae.ui.map import webgl_map as wm
from vae.ui.map.latent_map import selected_points


def test_points_travel_as_little_endian_bytes_in_minus_one_to_one():
    rng = np.random.default_rng(0)
    xy = rng.normal(5, [3, 1], (1000, 2))
    ndc, centre, half = normalise_xy(xy)
    assert ndc.dtype == np.float32 and np.abs(ndc).max() <= 1.0
    np.testing.assert_allclose(centre + ndc * half, xy, atol=1e-4)          # one scale for both axes
    assert np.isclose(np.abs(ndc[:, 0]).max(), 1 / 1.02, atol=1e-3)         # the wider axis fills [-1, 1]
    packed = pack_points(ndc, categories=np.arange(1000) % 10, values=np.linspace(-3, 7, 1000))
    assert len(packed["xy"]) == 1000 * 8 and len(packed["cat"]) == 1000 * 2 and len(packed["val"]) == 1000 * 4
    np.testing.assert_array_equal(np.frombuffer(packed["xy"], "<f4").reshape(-1, 2), ndc)
    np.testing.assert_array_equal(np.frombuffer(packed["cat"], "<u2"), np.arange(1000) % 10)
    val = np.frombuffer(packed["val"], "<f4")
    assert val.min() == 0 and val.max() == 1 and np.all(np.diff(val) >= 0)
    with pytest.raises(ValueError):
        pack_points(ndc, categories=np.zeros(3))


def test_atlas_is_one_png_grid_of_the_images():
    imgs = np.stack([np.full((1, 28, 28), 10 * k, np.uint8) for k in range(25)])
    png, cols, t = atlas_png(imgs, cols=10)
    sheet = np.asarray(Image.open(io.BytesIO(png)))
    assert (cols, t) == (10, 28) and sheet.shape == (3 * 28, 10 * 28)
    assert sheet[28 + 5, 4 * 28 + 5] == 10 * 14                              # image 14: row 1, column 4


def test_point_cap(monkeypatch):
    monkeypatch.delenv(wm.CAP_ENV, raising=False)
    monkeypatch.delenv("VAE_EXPLORER_HOSTED", raising=False)
    assert wm.point_cap() is None                                          # locally: every point
    monkeypatch.setenv("VAE_EXPLORER_HOSTED", "1")
    assert wm.point_cap() == 200_000
    monkeypatch.setenv(wm.CAP_ENV, "50000")
    assert wm.point_cap() == 50_000
    monkeypatch.setenv(wm.CAP_ENV, "0")                                    # 0: the default
    assert wm.point_cap() == 200_000


def test_selection_reaches_the_page_as_a_plotly_event_and_the_fallback_samples():
    from vae.ui.latents import Latents
    from vae.ui.map.latent_map import MapView

    n = 5000
    index = np.arange(0, 2 * n, 2)
    lat = Latents(index, np.zeros((n, 2), np.float32), np.zeros((n, 2), np.float32), np.arange(n) % 10, None)
    view = MapView("latent", lat, np.random.default_rng(1).normal(size=(n, 2)).astype(np.float32), ("z1", "z2"),
                   None, None)
    event = wm._as_plotly_event({"seq": 3, "kind": "lasso", "points": [40, 7, 4999], "webgl": True})
    indices, spots = selected_points(event, [view.lat.index])
    assert indices.tolist() == [14, 80, 9998] and spots == []
    sub, kept = wm.sample_view(view, 2000)
    assert len(sub.lat.index) == 2000 and np.all(np.diff(kept) > 0)
    np.testing.assert_array_equal(sub.xy, view.xy[kept])
    np.testing.assert_array_equal(sub.lat.index, index[kept])



def test_a_lasso_of_a_million_points_stays_one_index_array_through_the_page_code():
    """The selection goes from the browser's int32 bytes to the page's dataset indices as arrays: no dict,
    no Python int per point (a lasso of 1,000,000 points took seconds that way); a Plotly event still reads."""
    from vae.ui.map import neighbours as nb

    n = 1_000_000
    index = np.arange(0, 3 * n, 3)                                       # dataset indices of the map's points
    picked = np.random.default_rng(4).permutation(n)[:n // 2].astype(np.int32)
    event = wm._as_plotly_event(decode_value(_browser_value({"seq": 9, "kind": "lasso"}, picked)))
    sel = event["selection"]
    assert isinstance(sel["positions"], np.ndarray) and sel["points"] == [] and nb._has_selection(event)
    indices, spots = selected_points(event, [index])
    assert isinstance(indices, np.ndarray) and indices.dtype == np.int64 and spots == []
    np.testing.assert_array_equal(indices, index[np.sort(picked)])
    one = wm._as_plotly_event({"seq": 10, "kind": "point", "points": np.asarray([5], np.int32)})
    assert nb._has_selection(one) and selected_points(one, [index])[0].tolist() == [15]
    assert not nb._has_selection(wm._as_plotly_event({"seq": 11, "kind": "clear", "points": np.zeros(0, np.int32)}))
    plotly = {"selection": {"points": [{"curve_number": 0, "point_index": 2}, {"curve_number": 1, "point_index": 0}],
                            "box": [], "lasso": [{"x": [], "y": []}]}}
    assert selected_points(plotly, [index, np.asarray([77])])[0].tolist() == [6, 77]


def _browser_value(fields: dict, points) -> bytes:
    """The bytes frontend/src/messaging.js encodeValue sends: uint32 LE header length, JSON header, zero
    padding to 4 bytes, int32 LE points."""
    import json

    head = json.dumps(fields).encode()
    pad = -len(head) % 4
    return len(head).to_bytes(4, "little") + head + b"\0" * pad + np.asarray(points, "<i4").tobytes()


def test_a_selection_comes_back_as_an_int32_array_not_a_json_list():
    points = np.random.default_rng(3).permutation(1_000_000)[:100_000].astype(np.int32)
    for header in ({"seq": 7, "kind": "lasso", "webgl": True, "need": [1, 2], "drawn": "k"},   # no padding
                   {"seq": 1, "kind": "lasso", "webgl": True, "spot": None, "drawn": "key\u00e9"}):
        raw = _browser_value(header, points)
        assert len(raw) < 4 + 100 + 4 * len(points)         # 4 bytes a point, not a JSON number and a comma
        value = decode_value(raw)
        assert value["points"].dtype == np.int32
        np.testing.assert_array_equal(value["points"], points)
        assert {k: value[k] for k in header} == header
    empty = decode_value(_browser_value({"seq": 2, "kind": "clear"}, []))
    assert empty["kind"] == "clear" and empty["points"].shape == (0,)
    event = wm._as_plotly_event(decode_value(_browser_value({"seq": 3, "kind": "lasso"}, [4999, 7, 40])))
    assert event["selection"]["positions"].tolist() == [7, 40, 4999] and event["selection"]["points"] == []
    with pytest.raises(ValueError, match="malformed"):
        decode_value(b"\xff\0\0\0{}")
    with pytest.raises(ValueError, match="too short"):
        decode_value(b"\1")
    assert decode_value(None) == {} and read_value("a slider's value") == {} and read_value(b"\1") == {}


def test_a_clicked_empty_spot_reaches_the_page_as_a_map_location():
    xy = np.random.default_rng(2).normal(3.0, 2.0, size=(500, 2))
    ndc, centre, half = normalise_xy(xy)
    spot = [-1.2, 0.4]                       # the browser's click, in the normalised coordinates it holds
    event = wm._as_plotly_event({"seq": 5, "kind": "spot", "points": [], "spot": spot}, (centre, half))
    indices, spots = selected_points(event, [np.arange(500)])
    assert len(indices) == 0
    np.testing.assert_allclose(spots[0], centre + np.asarray(spot) * half)
    # the same spot read back through normalise_xy lands where it was clicked
    np.testing.assert_allclose((np.asarray(spots[0]) - centre) / half, spot, atol=1e-9)
    assert wm._as_plotly_event({"seq": 5, "kind": "spot", "points": [], "spot": spot}, None)["selection"]["points"] == []
    assert wm._same_layout(xy, xy.copy()) and not wm._same_layout(xy, xy[:, ::-1])   # another projection
    assert wm.webgl_key("abc", "all", 70_000) == wm.webgl_key("abc", "all", 70_000, 2) != wm.webgl_key("abc", "test", 70_000)


def test_a_box_reaches_the_page_as_a_plotly_box_and_its_centre():
    """A box's points come back like a lasso's, its corners as Plotly's selection["box"] in map coordinates (the
    page decodes at its centre, as for the Plotly map's box)."""
    xy = np.random.default_rng(5).normal(-2.0, 3.0, size=(400, 2))
    ndc, centre, half = normalise_xy(xy)
    raw = _browser_value({"seq": 4, "kind": "box", "box": [-0.5, -0.25, 0.5, 0.75]}, [9, 3])
    event = wm._as_plotly_event(decode_value(raw), (centre, half))
    box = event["selection"]["box"]
    np.testing.assert_allclose(box[0]["x"], centre[0] + np.array([-0.5, 0.5]) * half)
    np.testing.assert_allclose(box[0]["y"], centre[1] + np.array([-0.25, 0.75]) * half)
    assert event["selection"]["lasso"] == []
    indices, spots = selected_points(event, [np.arange(400) * 2])
    assert indices.tolist() == [6, 18]
    np.testing.assert_allclose(spots[0], centre + np.array([0.0, 0.25]) * half)
    # without the scale (or with bad corners) the box is still a box: a selection, no location
    for bad in ({"box": [0, 0, 1, 1]}, None), ({"box": [0, "x", 1]}, (centre, half)), ({"box": None}, (centre, half)):
        ev = wm._as_plotly_event({"seq": 5, "kind": "box", "points": np.asarray([1], np.int32), **bad[0]}, bad[1])
        assert ev["selection"]["box"] == [{"x": [], "y": []}]
        assert selected_points(ev, [np.arange(400)])[1] == []


def test_the_all_split_is_train_then_test():
    def split(n, v):
        return Split(torch.full((n, 1, 2, 2), v, dtype=torch.uint8), torch.full((n,), v, dtype=torch.int64))

    ds = ImageDataset("toy", split(3, 1), split(2, 0), ["a", "b"])
    assert len(ds.all) == 5 and ds.all.labels.tolist() == [1, 1, 1, 0, 0]
    assert ds.all is ds.all                                                # built once


def test_a_large_projection_is_kept_on_disk(monkeypatch, tmp_path):
    """The page's t-SNE/UMAP of more than FIT_POINTS points goes through vae.analysis.large_map.cached_project:
    a second open (a new task, e.g. after a restart) reads the map back from the disk cache."""
    from vae.ui import tasks

    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path))
    mu = np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)
    first = tasks.large_projection_task("test-large-pca-1", mu, "pca", 2)
    first.thread.join(60)
    assert first.error is None and first.result.embedding.shape == (200, 2) and not first.result.info["cached"]
    assert 0.5 < first.result.params["quality"]["trustworthiness"] <= 1.0     # reported beside the time
    again = tasks.large_projection_task("test-large-pca-2", mu, "pca", 2)
    again.thread.join(60)
    assert again.result.info["cached"] and again.result.seconds == 0.0
    np.testing.assert_array_equal(again.result.embedding, first.result.embedding)
    assert list((tmp_path / "maps").glob("proj-*.npz"))


def test_the_colour_bar_reads_its_ends_readably():
    fmt = wm.legend_number
    assert fmt(9.547e-07, 9.547e-07, 0.42) == "0"                 # the "9.547e-07" low end of a [0, 0.42] range
    assert fmt(0.4213, 9.547e-07, 0.42) == "0.421"
    assert fmt(-12345.6, -12345.6, 80) == "-12,300" and fmt(1234.5, 0, 1234.5) == "1,230"
    assert fmt(2.5e-7, 1e-7, 3e-7) == "2.50e-07"                   # tiny, but not relative to its range
    assert fmt(0, -1, 1) == "0" and fmt(float("nan"), 0, 1) == "nan" and fmt(3e20, 0, 3e20) == "3e+20"
