"""The explorer's pages under streamlit.testing's AppTest, on the bundled models.

Each page renders without an exception, and its main widgets change what it shows: a slider moves
the decoded image, colour-by changes the map, steps and path change the interpolation strip,
temperature changes the samples. Images are compared by their media URLs, which hash the bytes.

The models are assets/digits-2d and assets/shapes-8d; where assets/ lacks them (a checkout before
they are bundled) the fixture trains tiny stand-ins into a temporary folder.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402
from tests.waits import HANG_S  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
@pytest.fixture
def open_page(assets_dir, monkeypatch):
    """open_page(page, model="digits-2d", **state) -> AppTest showing pages/<page>.py."""
    from vae.ui import loaders

    monkeypatch.setattr(loaders, "ASSETS_DIR", assets_dir)

    def open_(page: str, model: str = "digits-2d", **state) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=HANG_S)
        # AppTest does not report the sidebar's widgets after switch_page, so choose by session state
        at.session_state["sb_bundled"] = model
        if page == "latent_map":
            state.setdefault("map_webgl", False)   # these tests read the Plotly map (the WebGL one: e2e)
        for k, v in state.items():
            at.session_state[k] = v
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_


def image_urls(at: AppTest) -> list[str]:
    return [url for im in at.image for url in im.value]


def image_by_caption(at: AppTest, text: str) -> str:
    for im in at.image:
        if any(text in c for c in im.captions):
            return im.value[0]
    raise AssertionError(f"no image captioned {text!r}; captions: {[im.captions for im in at.image]}")


def plotly_figures(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def run_ok(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# ---- Decode -------------------------------------------------------------------------------------

def plain_sliders(at: AppTest) -> AppTest:
    """Switch Decode from the drag-following component (JS, driven in tests/e2e) to plain st.sliders."""
    at.toggle(key="dec_live").set_value(False)
    return run_ok(at)


def prior_and_distance(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown if "log p(z) =" in m.value)


def test_decode_live_control_renders_and_buttons_move_the_point(open_page):
    at = open_page("decode")
    assert at.toggle(key="dec_live").value is True
    assert not [s for s in at.slider if s.label.startswith("z")]     # the component replaces the sliders
    at0 = prior_and_distance(at)
    assert "log p(z) = **-1.84** nats" in at0                       # z = 0 in 2-d: -log(2 pi)
    next(b for b in at.button if b.label == "Sample from prior").click()
    run_ok(at)
    assert prior_and_distance(at) != at0
    next(b for b in at.button if b.label == "Reset to zero").click()
    run_ok(at)
    assert prior_and_distance(at) == at0


def test_decode_slider_changes_the_image_and_buttons_move_the_point(open_page):
    at = plain_sliders(open_page("decode"))
    sliders = [s for s in at.slider if s.label.startswith("z")]
    assert len(sliders) == 2 and all("KL" in s.label for s in sliders)   # one per latent dim, with its KL
    before = image_by_caption(at, "decoded mean image")
    sliders[0].set_value(1.5)
    run_ok(at)
    after = image_by_caption(at, "decoded mean image")
    assert after != before
    next(b for b in at.button if b.label == "Reset to zero").click()
    run_ok(at)
    assert [s.value for s in at.slider if s.label.startswith("z")] == [0.0, 0.0]
    assert image_by_caption(at, "decoded mean image") == before
    next(b for b in at.button if b.label == "Sample from prior").click()
    run_ok(at)
    assert any(s.value != 0.0 for s in at.slider if s.label.startswith("z"))
    where = " ".join(m.value for m in at.markdown)
    assert "log p(z) =" in where and "nearest encoded test image" in where


def test_decode_on_shapes_orders_sliders_by_kl_and_starts_from_a_data_point(open_page):
    at = plain_sliders(open_page("decode", model="shapes-8d"))
    sliders = [s for s in at.slider if s.label.startswith("z")]
    assert len(sliders) == 8
    kls = [float(s.label.split("KL ")[1].split(" ")[0]) for s in sliders]
    n = sum("inactive" not in s.label for s in sliders)      # inactive ones come last, folded in an expander
    assert all("inactive" in s.label for s in sliders[n:])
    head, half = kls[:n], (n + 1) // 2
    reading_order = [k for pair in zip(head[:half], head[half:] + [None]) for k in pair if k is not None]
    assert reading_order == sorted(head, reverse=True)          # two columns, filled row by row
    before = image_by_caption(at, "decoded mean image")
    at.number_input(key="dec_index").set_value(3)
    next(b for b in at.button if b.label == "Start from test image").click()
    run_ok(at)
    assert image_by_caption(at, "decoded mean image") != before
    assert any(s.value != 0.0 for s in at.slider if s.label.startswith("z"))
    assert any("sweeps its dimension" in c.value for c in at.caption)   # the traversal grid


# ---- Latent map ---------------------------------------------------------------------------------

def test_map_colour_by_and_projection_change_the_figure(open_page):
    at = open_page("latent_map", model="shapes-8d")
    fig0 = plotly_figures(at)[0]
    names0 = [t.get("name") for t in fig0["data"]]
    assert {"square", "ellipse", "heart"} <= set(names0)           # coloured by label: one trace per class
    assert any("customdata" in t for t in fig0["data"])             # hover carries index and label
    at.selectbox(key="map_colour_shapes").set_value("rotation")
    run_ok(at)
    fig1 = plotly_figures(at)[0]
    assert fig1 != fig0
    data = [t for t in fig1["data"] if t.get("name") == "rotation"]
    assert data and "colorbar" in data[0]["marker"]
    # a 3-D PCA map
    at.radio(key="map_k").set_value(3)
    run_ok(at)
    assert plotly_figures(at)[0]["data"][0]["type"] == "scatter3d"
    # it says it cannot be clicked or selected, and how to (issue 27)
    assert any("A 3-D map cannot be clicked or selected: switch Map to 2-D" in c.value for c in at.caption)


def test_map_likelihood_colour_has_a_k_slider_whose_default_follows_the_map_size(open_page):
    """Colour by log p(x) shows 'K (importance samples)' (100 on a small map, 10 above 10,000 points: IWAE
    costs K decoder passes an image) and starts the ranking with the K chosen; other colours show no slider."""
    from vae.ui.map import ranking

    assert [ranking.map_default_k(n) for n in (300, 10_000, 10_001, 70_000)] == [100, 100, 10, 10]
    at = open_page("latent_map")                                    # digits-2d: 300 points
    assert not [s for s in at.select_slider if s.label == "K (importance samples)"]
    at.selectbox(key="map_colour_digits").set_value("log p(x) (IWAE)")
    run_ok(at)
    assert at.select_slider(key="map_lik_k_100").value == 100
    at.select_slider(key="map_lik_k_100").set_value(10)
    run_ok(at)
    from vae.ui import tasks                                        # the registry is per process: AppTest's too

    started = [k for k in tasks._tasks().tasks if k.startswith("rank|") and k.endswith("|test|300|10|0")]
    assert len(started) == 1, list(tasks._tasks().tasks)


def test_map_of_a_2d_latent_is_the_latent_space_with_a_manifold_background(open_page):
    at = open_page("latent_map")
    assert not at.metric                                  # "Points 300" and "Map 2-D" are small captions
    assert any(c.value == "Points: 300 (the whole split)" for c in at.caption)
    assert any(c.value == "Map: 2-D" for c in at.caption)
    fig = plotly_figures(at)[0]
    assert fig["layout"]["xaxis"]["title"]["text"] == "z1"
    assert not fig["layout"].get("images")
    at.toggle(key="map_manifold").set_value(True)
    run_ok(at)
    fig = plotly_figures(at)[0]
    assert len(fig["layout"]["images"]) == 1 and fig["layout"]["images"][0]["layer"] == "below"


def test_selected_images_are_drawn_at_one_size_whether_one_or_many():
    from vae.ui.images import tiles

    for size in (8, 28, 32):
        one = tiles(np.zeros((1, 1, size, size), np.uint8))
        many = tiles(np.zeros((37, 1, size, size), np.uint8))
        tile = one.width - 4                               # one image and its 2-px border
        assert 56 <= tile <= 72
        ncol = (many.width - 2) // (tile + 2)
        assert many.width == ncol * (tile + 2) + 2 and many.width <= 480 and ncol >= 6


# ---- Interpolate --------------------------------------------------------------------------------

def test_interpolate_steps_and_path_change_the_strip(open_page):
    at = open_page("interpolate")
    strip0 = image_by_caption(at, "steps of")
    at.slider(key="int_steps").set_value(6)
    run_ok(at)
    strip1 = image_by_caption(at, "steps of")
    assert strip1 != strip0
    at.radio(key="int_method").set_value("lerp")
    run_ok(at)
    assert image_by_caption(at, "steps of lerp") != strip1
    # the path is drawn on the map, from A to B
    fig = plotly_figures(at)[0]
    path = [t for t in fig["data"] if t.get("name") == "path"]
    assert path and len(path[0]["text"]) == 6 and path[0]["text"][0] == "A" and path[0]["text"][-1] == "B"
    at.selectbox(key="int_src_B").set_value("prior")
    run_ok(at)
    assert any("prior sample" in c for im in at.image for c in im.captions)


def test_interpolate_opens_on_two_far_apart_images_of_different_classes(open_page):
    import re

    from vae.data import load_dataset

    at = open_page("interpolate")
    caption = next(c for im in at.image for c in im.captions if "steps of" in c)
    i, j = map(int, re.match(r"test #(\d+) → test #(\d+)", caption).groups())
    assert (i, j) != (0, 1)
    labels = load_dataset("digits").test.labels
    assert labels[i] != labels[j]


# ---- Generate -----------------------------------------------------------------------------------

def test_generate_temperature_and_seed_change_the_grid(open_page, monkeypatch):
    from streamlit.elements.lib import policies

    warnings = []        # "widget with key gen_seed was created with a default value but also had its value set"
    monkeypatch.setattr(policies, "_shown_default_value_warning", False)
    monkeypatch.setattr(policies._LOGGER, "warning", lambda msg, *a, **k: warnings.append(msg % a))
    at = open_page("generate")
    g0 = image_by_caption(at, "samples from the prior")
    at.slider(key="gen_temp").set_value(0.5)
    run_ok(at)
    g1 = image_by_caption(at, "samples from the prior")
    assert g1 != g0
    next(b for b in at.button if b.label == "New samples").click()
    run_ok(at)
    assert at.number_input(key="gen_seed").value == 1
    assert image_by_caption(at, "samples from the prior") != g1
    next(b for b in at.button if b.label == "New samples").click()
    run_ok(at)
    assert at.number_input(key="gen_seed").value == 2
    assert not [w for w in warnings if "default value" in w], warnings


# ---- Sidebar: bad uploads are refused with a message naming the problem -----------------------------

def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_bad_uploads_raise_checkpoint_errors_that_say_why(assets_dir):
    from vae.checkpoint import CheckpointError
    from vae.ui.loaders import load_uploaded

    good = {n: (assets_dir / "digits-2d" / n).read_bytes() for n in ("config.json", "model.safetensors")}
    lm = load_uploaded([("digits.zip", _zip(good))], "cpu")
    assert lm.latent_dim == 2 and lm.source == "upload"
    assert load_uploaded(list(good.items()), "cpu").id == lm.id          # same bytes, same identity

    with pytest.raises(CheckpointError, match="not a zip"):
        load_uploaded([("notes.zip", b"hello")], "cpu")
    with pytest.raises(CheckpointError, match="not part of a checkpoint"):
        load_uploaded([("cat.png", b"\x89PNG....")], "cpu")
    with pytest.raises(CheckpointError, match="pickle"):
        load_uploaded([("config.json", good["config.json"]),
                       ("model.safetensors", pickle.dumps({"w": np.zeros(3)}))], "cpu")
    other = json.loads(good["config.json"])
    other["model"]["latent_dim"] = 5
    with pytest.raises(CheckpointError, match="shape|does not fit"):
        load_uploaded([("c.zip", _zip({"config.json": json.dumps(other).encode(),
                                      "model.safetensors": good["model.safetensors"]}))], "cpu")


def test_an_image_zip_with_no_images_is_a_clear_dataset_error(tmp_path):
    from vae.data import DataError
    from vae.ui.loaders import DatasetSpec, load_dataset_cached

    empty = tmp_path / "empty.zip"
    empty.write_bytes(_zip({"readme.txt": b"no images here"}))
    with pytest.raises(DataError):
        load_dataset_cached(DatasetSpec(f"folder:{empty}", None, (("channels", 1), ("image_size", 8))))


# ---- Sidebar: MNIST from a folder, or downloaded with a progress bar ---------------------------------

def test_mnist_not_in_the_cache_offers_a_download_that_reports_progress(tmp_path, monkeypatch):
    shared = REPO.parent / "shared" / "datasets" / "mnist"
    if not (shared / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"no MNIST files in {shared}")
    # a "mirror" on the local disk: the download path (checksums, progress, cache) runs without a network
    monkeypatch.setenv("VAE_MNIST_MIRROR", shared.as_uri() + "/")
    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path / "cache"))
    from vae.data import IDX_SOURCES
    from vae.data.download import file_md5

    for name in IDX_SOURCES["mnist"].files:       # the shared copies are re-gzipped: other bytes, same images
        monkeypatch.setitem(IDX_SOURCES["mnist"].md5, name, file_md5(shared / name))
    at = AppTest.from_file(APP, default_timeout=HANG_S)
    at.run()                                                     # the Decode page, with its sidebar
    dataset_key = next(s.key for s in at.sidebar.selectbox if s.key.startswith("sb_dataset_"))
    at.session_state[dataset_key] = "mnist"
    at.session_state["sb_dir_mnist"] = ""                        # no folder: use the download cache
    run_ok(at)
    # offline, MNIST opens on its bundled test split and offers the training split's download
    assert any("bundled test split (10,000 images)" in c.value for c in at.sidebar.caption)
    assert "Download mnist's training split" in [b.label for b in at.sidebar.button]
    assert not at.sidebar.error
    # what the button runs: the cached loader with a progress callback (the real-browser click is in e2e)
    from vae.ui.loaders import DatasetSpec, load_dataset_cached

    calls = []
    ds = load_dataset_cached(DatasetSpec("mnist", None, (("image_size", 8),)),
                             progress=lambda done, total: calls.append((done, total)))
    assert (len(ds.train), len(ds.test), ds.image_shape) == (60000, 10000, (1, 8, 8))
    assert (tmp_path / "cache" / "mnist" / "t10k-images-idx3-ubyte.gz").is_file()
    assert calls and calls[-1][0] == calls[-1][1] > 0


def test_a_refused_upload_leaves_the_uploader(assets_dir, monkeypatch):
    """In the browser the uploader keeps its files: a refused bad.zip stayed in the list and made the next
    good upload fail too ("bad.zip: not part of a checkpoint"). The refused files leave the uploader."""
    from vae.ui import loaders

    monkeypatch.setattr(loaders, "ASSETS_DIR", assets_dir)
    at = AppTest.from_file(APP, default_timeout=HANG_S)
    at.session_state["sb_source"] = "upload"
    run_ok(at)
    at.file_uploader(key="sb_upload_0").set_value(("bad.zip", b"hello", "application/zip"))
    run_ok(at)
    assert any("bad.zip: " in e.value and "not a zip" in e.value for e in at.sidebar.error), at.sidebar.error
    uploader, = at.sidebar.get("file_uploader")
    assert uploader.key != "sb_upload_0" and not uploader.value      # the refused file is out of the uploader
    # the next upload then opens on its own: tests/e2e/test_app_pages.py drives that in Chromium (AppTest's
    # uploader does not take a file after the script's st.rerun)
