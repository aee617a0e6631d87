"""The Latent map's WebGL scatter in Chromium (software WebGL): all 70,000 MNIST points (train + test, no
sampling), a lasso and a box that return exactly the points inside them (against the embedding Python holds), a
recolour drawn in one step, the map as PNG, thumbnails when zoomed in, colour by log p(x) on all
70,000, and the Plotly fallback in a browser without WebGL.

Needs MNIST's IDX files: $VAE_DATA_DIR/mnist, else ../shared/datasets/mnist beside the repository (skipped
without them). The component's test hook is `window.__scatter` inside its iframe (see frontend/src/index.js).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    app_console_errors,
    assert_no_exception,
    choose_option,
    drawn_rows,
    goto_page,
    wait_for_app_run,
    wait_scatter,
)

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("VAE_DATA_DIR") or REPO.parent / "shared" / "datasets")
CACHE_DIR = Path(tempfile.mkdtemp(prefix="vae-webgl-map-cache-"))
SHOTS = REPO / "tests" / "e2e" / "screenshots"
# a quadrilateral in the map's normalised coordinates ([-1, 1], as the browser holds them)
LASSO = [[-0.35, -0.30], [0.25, -0.40], [0.30, 0.15], [-0.20, 0.25]]
# IWAE log p(x) of 70,000 images at K = 10 in the app's background task: a hang detector, not a speed check
LOG_PX_WAIT_MS = 900_000


@pytest.fixture(scope="module")
def mnist_app(streamlit_app) -> str:
    if not (DATA_DIR / "mnist" / "train-images-idx3-ubyte.gz").exists() and \
            not (DATA_DIR / "mnist" / "train-images-idx3-ubyte").exists():
        pytest.skip(f"MNIST IDX files not found under {DATA_DIR}/mnist (set VAE_DATA_DIR)")
    return streamlit_app("app.py", VAE_DATA_DIR=str(DATA_DIR), VAE_CACHE_DIR=str(CACHE_DIR))


def scatter_frame(page: Page, count: int | None = None):
    """The component's frame, once it has drawn (`count` points, when given)."""
    cond = "s.painted() > 0" + (f" && s.count() === {count}" if count is not None else "")
    wait_scatter(page, cond)
    return next(f for f in page.frames if "webgl_scatter" in f.url and not f.is_detached())


def choose_split(page: Page, label: str) -> None:
    page.get_by_test_id("stRadio").filter(has_text="Split").get_by_text(label, exact=True).click()
    wait_for_app_run(page)


def inside(poly: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon test: poly (V, 2), pts (N, 2) -> (N,) bool."""
    x, y = pts[:, 0].astype(np.float64), pts[:, 1].astype(np.float64)
    res = np.zeros(len(pts), bool)
    for (x0, y0), (x1, y1) in zip(poly, np.roll(poly, -1, axis=0)):
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xc = (x1 - x0) * (y - y0) / (y1 - y0) + x0
        res ^= crosses & (x < xc)
    return res


def page_embedding(n: int) -> np.ndarray:
    """The latent means the page mapped: the disk cache it wrote (vae.analysis.large_map) holding n rows."""
    hits = []
    for f in (CACHE_DIR / "maps").glob("enc-*.npz"):
        with np.load(f) as z:
            if z["mu"].shape[0] == n:
                hits.append(z["mu"])
    assert len(hits) == 1, f"expected one cached encoding of {n} rows, found {len(hits)}"
    return hits[0]


def test_every_mnist_point_and_an_exact_lasso(page: Page, mnist_app: str):
    goto_page(page, mnist_app, "latent_map")
    # the points fill the canvas as drawn (mnist-2d's plane spans y in [-0.98, 0.98]): a first draw made before
    # Streamlit grew the frame was squashed into a band a few pixels tall until the view moved
    first, last, height = drawn_rows(scatter_frame(page))
    assert last - first > 0.8 * height, (first, last, height)
    choose_split(page, "all (train + test)")
    frame = scatter_frame(page, 70_000)
    expect(page.get_by_text("sampled (fixed seed)")).to_have_count(0)     # no cap locally
    timing = frame.evaluate("() => window.__scatter.timing()")
    assert timing["points"] == 70_000 and timing["bytes"] == 70_000 * (8 + 2)   # float32 x, y + uint16 label
    assert timing["indexBuiltIn"] == "worker"      # the spatial index sorted off the page's thread (kdworker.js)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "webgl_map_70k_zoomed_out.png"))

    # the embedding Python holds (mnist-2d: the map is the latent plane), normalised as the page sends it
    from vae.analysis.latent import encode_dataset
    from vae.checkpoint import load_model
    from vae.data import load_dataset
    from vae.ui.components.webgl_scatter import normalise_xy

    mu = page_embedding(70_000)
    ds = load_dataset("mnist", data_dir=str(DATA_DIR / "mnist"), download=False)
    again, _ = encode_dataset(load_model(REPO / "assets" / "mnist-2d"), ds.all.images[::97])
    np.testing.assert_allclose(mu[::97], np.asarray(again), atol=1e-4)       # train then test, every row
    ndc, _, _ = normalise_xy(mu)
    held = np.array(frame.evaluate("() => [0, 12345, 69999].map(i => window.__scatter.point(i))"))
    np.testing.assert_allclose(held, ndc[[0, 12345, 69999]], atol=1e-6)
    want = np.flatnonzero(inside(np.array(LASSO), ndc))
    assert 1_000 < len(want) < 69_000

    seq = frame.evaluate("() => window.__scatter.selectSeq()")
    painted = frame.evaluate("() => window.__scatter.painted()")
    frame.evaluate("(v) => window.__scatter.lasso(v)", LASSO)
    frame.wait_for_function(f"() => window.__scatter.selectSeq() > {seq}")
    got = np.sort(np.array(frame.evaluate("() => window.__scatter.selected()"), dtype=np.int64))
    np.testing.assert_array_equal(got, want)
    # ... and back in Python: the page lists the selection (positions = dataset indices of the 'all' split)
    expect(page.get_by_text(f"{len(want)} selected points")).to_be_visible()
    expect(page.get_by_text(f"indices: {want[0]} (")).to_be_visible()
    # that rerun sent no point bytes (the browser said it holds them) and the map was not drawn again
    assert frame.evaluate("() => [window.__scatter.count(), window.__scatter.painted()]") == [70_000, painted]

    # colour by a value: the old colours stay until the new values are drawn. The spatial index of a map this big
    # is sorted in a Web Worker (seconds for 1,000,000 points); its answer held back 0.5 s here, every frame drawn
    # meanwhile coloured the label-only points by value (all the ramp's first colour) while the encoding was set
    # before the wait
    wait_for_app_run(page)
    frame.evaluate("""() => { const post = Worker.prototype.postMessage;
        Worker.prototype.postMessage = function (...a) { setTimeout(() => post.apply(this, a), 500); }; }""")
    assert frame.evaluate("() => window.__scatter.mismatchedFrames()") == 0
    choose_option(page, page.get_by_test_id("stSelectbox").filter(has_text="Colour by"), "z1", exact=True)
    wait_scatter(page, f"s.colorMode() === 'value' && s.painted() > {painted} && s.count() === 70000")
    frame.wait_for_function("() => window.__scatter.timing().indexBuiltIn === 'worker'")
    assert frame.evaluate("() => window.__scatter.mismatchedFrames()") == 0
    assert_no_exception(page)
    assert not app_console_errors(page)

    # colour the same 70,000 points by log p(x): a map this big starts at K = 10 importance samples (700,000
    # decoder passes in the background, with a progress bar; K = 100 would be 7,000,000)
    choose_option(page, page.get_by_test_id("stSelectbox").filter(has_text="Colour by"), "log p(x) (IWAE)")
    wait_for_app_run(page)
    k_slider = page.get_by_test_id("stSlider").filter(has_text="K (importance samples)").get_by_role("slider")
    expect(k_slider).to_have_attribute("aria-valuetext", "10")
    # the map was coloured by value (z1) already: wait for log p(x)'s own legend, then for the page to rest (it
    # colours by label while the ranking runs), and check that the map still shows log p(x) then
    log_px = ("s.colorMode() === 'value' && s.drawnColour() === 'value' && s.count() === 70000"
              " && s.legendText().includes('log p(x)')")
    wait_scatter(page, log_px, timeout=LOG_PX_WAIT_MS)
    wait_for_app_run(page)
    frame = scatter_frame(page, 70_000)
    assert frame.evaluate(f"() => {{ const s = window.__scatter; return {log_px}; }}"), \
        frame.evaluate("() => [window.__scatter.colorMode(), window.__scatter.legendText()]")
    check_log_px_colours(page, frame, 70_000, "webgl_map_70k_log_px.png")


def check_log_px_colours(page: Page, frame, n: int, shot: str) -> None:
    """The map in `frame` is coloured by log p(x) over all `n` points: every point holds a finite value, the
    values span the colour bar's ends (the 2nd and 98th percentiles, the legend's "≤ lo" and "≥ hi"), and the
    canvas shows the ramp's low, middle and high colours. Saves a screenshot `shot`."""
    from PIL import Image

    from vae.ui.map.webgl_map import ramp

    legend = frame.evaluate("() => window.__scatter.legendText()")
    assert "log p(x) (IWAE)" in legend
    ends = [t.strip() for t in legend.split("\n")[1:] if t.strip()]
    assert len(ends) == 2 and ends[0].startswith("≥ ") and ends[1].startswith("≤ "), ends
    hi, lo = (float(t[2:].replace(",", "")) for t in ends)
    assert lo < hi < 0                                               # nats per image
    # every point holds a value (Python clips them to the colour bar's range and sends them rescaled to [0, 1]):
    # at least 2% at each end (beyond the 2nd and 98th percentiles), the rest spread between
    stats = frame.evaluate("() => window.__scatter.valueStats()")
    assert stats["n"] == n and stats["finite"] == n and sum(stats["bins"]) == n, stats
    assert stats["min"] == 0 and stats["max"] == 1, stats
    assert min(stats["bins"][0], stats["bins"][-1]) >= 0.02 * n - 1 and sum(b > 0 for b in stats["bins"]) >= 8, stats
    SHOTS.mkdir(parents=True, exist_ok=True)
    png = SHOTS / shot
    frame.locator("#plot").screenshot(path=str(png))
    page.screenshot(path=str(SHOTS / shot.replace(".png", "_page.png")))
    px = np.asarray(Image.open(png).convert("RGB"), np.float64).reshape(-1, 3)
    cols = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in ramp(8)], np.float64)
    blended = 0.85 * cols + 0.15 * 255                              # a lone point (opacity 0.85) on white
    dist = np.minimum(((px[:, None] - cols[None]) ** 2).sum(-1), ((px[:, None] - blended[None]) ** 2).sum(-1))
    near = dist.argmin(1)[dist.min(1) < 30 ** 2]
    counts = np.bincount(near, minlength=8)
    assert counts[:2].sum() > 20 and counts[3:5].sum() > 20 and counts[6:].sum() > 20, counts


def test_a_new_frame_gets_the_points_again(page: Page, mnist_app: str):
    """After a visit to another page the map's frame is new: it asks for the points Python had left out."""
    goto_page(page, mnist_app, "latent_map")
    frame = scatter_frame(page, 10_000)
    frame.evaluate("() => window.__scatter.select([10])")               # a value with 'drawn' reaches Python
    expect(page.get_by_text("1 selected point")).to_be_visible()
    page.get_by_test_id("stSidebarNav").get_by_text("Decode", exact=True).click()
    wait_for_app_run(page)
    page.get_by_test_id("stSidebarNav").get_by_text("Latent map", exact=True).click()
    wait_for_app_run(page)
    scatter_frame(page, 10_000)
    assert_no_exception(page)


def test_a_map_at_rest_draws_nothing_until_the_mouse_moves_it(page: Page, mnist_app: str):
    """regl-scatterplot's frame loop ran on every animation frame of an open map, drawing or not: Chromium's
    renderer and compositor took 1.1 CPU cores on the Latent map page at rest (software WebGL). The loop now rests
    once nothing is drawn (renderer.js) and the map's input wakes it: a wheel over the map zooms and draws."""
    goto_page(page, mnist_app, "latent_map")
    frame = scatter_frame(page, 10_000)
    wait_for_app_run(page)
    frame.wait_for_function("() => !window.__scatter.looping()")
    drawn = frame.evaluate("() => window.__scatter.frames()")
    assert drawn >= 1
    # sixty animation frames of the page later: still resting, nothing drawn
    frame.evaluate("() => new Promise(r => { let n = 0;"
                   " const f = () => (++n >= 60 ? r() : requestAnimationFrame(f)); requestAnimationFrame(f); })")
    assert frame.evaluate("() => [window.__scatter.looping(), window.__scatter.frames()]") == [False, drawn]
    box = frame.locator("#plot").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -400)
    frame.wait_for_function(f"() => window.__scatter.frames() > {drawn}")
    frame.wait_for_function("() => !window.__scatter.looping()")           # ... and rests again
    assert_no_exception(page)


def test_thumbnails_when_zoomed_in(page: Page, mnist_app: str):
    goto_page(page, mnist_app, "latent_map")
    frame = scatter_frame(page, 10_000)
    assert frame.evaluate("() => window.__scatter.thumbsDrawn()") == 0         # zoomed out: points only
    in_view = frame.evaluate("() => window.__scatter.zoomUntil(5000, 120)")
    assert 0 < in_view <= 120
    # the browser asks Python for the images of the points in view; they come back as one PNG atlas
    frame.wait_for_function(f"() => window.__scatter.thumbsDrawn() === {in_view}")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "webgl_map_zoomed_in_thumbnails.png"))
    assert_no_exception(page)


def test_a_mouse_lasso_and_a_box_reach_python_and_the_map_saves_as_png(page: Page, mnist_app: str):
    """A lasso drawn with the mouse, then a box (the Box tool: exactly the points inside it, back in Python with
    the box's centre decoded, as a Plotly box does), then "Map as PNG": the map as drawn, 4x its pixels."""
    goto_page(page, mnist_app, "latent_map")
    frame = scatter_frame(page, 10_000)
    frame.get_by_role("button", name="Lasso").click()
    box = frame.locator("#plot").bounding_box()
    path = [(0.35, 0.35), (0.65, 0.3), (0.7, 0.65), (0.4, 0.7), (0.35, 0.36)]
    page.mouse.move(box["x"] + box["width"] * path[0][0], box["y"] + box["height"] * path[0][1])
    page.mouse.down()
    for (a0, b0), (a1, b1) in zip(path, path[1:]):
        for t in np.linspace(0.1, 1.0, 10):       # small steps: the lasso records a vertex every few px
            page.mouse.move(box["x"] + box["width"] * (a0 + (a1 - a0) * t),
                            box["y"] + box["height"] * (b0 + (b1 - b0) * t))
    page.mouse.up()
    frame.wait_for_function("() => window.__scatter.selectSeq() > 0")
    n = len(frame.evaluate("() => window.__scatter.selected()"))
    assert n > 10
    expect(page.get_by_text(f"{n} selected points")).to_be_visible()
    expect(page.get_by_text("the selected test images", exact=False)).to_be_visible()
    wait_for_app_run(page)

    # a box, dragged from its top-left corner to its bottom-right one
    frame.get_by_role("button", name="Box").click()
    assert frame.evaluate("() => window.__scatter.mode()") == "box"
    (x0, y0), (x1, y1) = (0.22, 0.25), (0.55, 0.6)                        # of the canvas
    seq = frame.evaluate("() => window.__scatter.selectSeq()")
    page.mouse.move(box["x"] + box["width"] * x0, box["y"] + box["height"] * y0)
    page.mouse.down()
    for t in np.linspace(0.1, 1.0, 8):
        page.mouse.move(box["x"] + box["width"] * (x0 + (x1 - x0) * t), box["y"] + box["height"] * (y0 + (y1 - y0) * t))
    # regl-scatterplot takes a move at most every 5 ms (a later one when the mouse rests): release the button once
    # the box drawn reaches the mouse, else the box ends a step short of where the mouse let go
    # (toData: CSS px inside the canvas's 1 px border -> the map's normalised coordinates)
    end = frame.evaluate(f"() => window.__scatter.toData({box['width'] * x1 - 1}, {box['height'] * y1 - 1})")
    px = 2 * 2 / box["height"]                                       # 2 CSS px in normalised units
    frame.wait_for_function("([x, y, px]) => { const v = window.__scatter.lassoDrawn();"
                            " return v.length === 5 && Math.hypot(v[2][0] - x, v[2][1] - y) < px; }", arg=[*end, px])
    page.mouse.up()
    frame.wait_for_function(f"() => window.__scatter.selectSeq() > {seq}")
    corners = np.array(frame.evaluate("() => window.__scatter.box()"))
    start = frame.evaluate(f"() => window.__scatter.toData({box['width'] * x0 - 1}, {box['height'] * y0 - 1})")
    np.testing.assert_allclose(corners, [start[0], end[1], end[0], start[1]], atol=px)
    xy = np.array(frame.evaluate("() => window.__scatter.points()"), np.float64)
    want = np.flatnonzero((xy[:, 0] >= corners[0]) & (xy[:, 0] <= corners[2])
                          & (xy[:, 1] >= corners[1]) & (xy[:, 1] <= corners[3]))
    assert 10 < len(want) < 9_000
    got = np.sort(np.array(frame.evaluate("() => window.__scatter.selected()"), np.int64))
    np.testing.assert_array_equal(got, want)
    assert frame.evaluate("() => window.__scatter.marked()") == want.tolist()     # drawn as selected too
    expect(page.get_by_text(f"{len(want)} selected points")).to_be_visible()
    expect(page.get_by_text(f"indices: {want[0]} (")).to_be_visible()         # the test split: positions = indices
    expect(page.get_by_text("Decoded at the centre of the box")).to_be_visible()
    wait_for_app_run(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "webgl_map_box_selection.png"))

    # the map as PNG, made in the browser: the canvas at 4x its pixels, the legend beside it (the caption says so)
    from PIL import Image

    expect(page.get_by_text('the "Map as PNG" button above it saves it as drawn', exact=False)).to_be_visible()

    with page.expect_download() as download:
        frame.get_by_role("button", name="Map as PNG").click()
    assert download.value.suggested_filename == "latent-map-latent.png"
    path = SHOTS / "webgl_map_saved.png"
    download.value.save_as(path)
    img = Image.open(path)
    assert img.format == "PNG"
    size = frame.evaluate("() => { const c = document.getElementById('plot'); return [c.clientWidth, c.clientHeight]; }")
    assert img.height == 4 * size[1] and 4 * size[0] < img.width < 4 * size[0] + 4 * 400, (img.size, size)
    rgb = np.asarray(img.convert("RGB"))[::2, ::2].astype(np.int32)     # every other pixel of ~10 MP
    colours = len(np.unique((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]))
    assert colours > 50, colours                                        # the ten label colours, blended
    magenta = np.all(np.abs(rgb - [228, 0, 124]) < 8, axis=-1)           # the overlay: rings, the query's square
    assert magenta.sum() > 250, magenta.sum()
    assert frame.evaluate("() => window.__scatter.saved().count") == 1
    assert_no_exception(page)


def test_fallback_without_webgl(browser, mnist_app: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script("""(() => { const get = HTMLCanvasElement.prototype.getContext;
        HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {
            return /webgl/i.test(String(kind)) ? null : get.call(this, kind, ...rest); }; })()""")
    page = context.new_page()
    page.set_default_timeout(300_000)
    try:
        goto_page(page, mnist_app, "latent_map")
        expect(page.get_by_text("cannot draw the WebGL map", exact=False).first).to_be_visible()
        chart = page.get_by_test_id("stPlotlyChart").first
        chart.wait_for()
        page.wait_for_function("() => { const p = document.querySelector('.js-plotly-plot'); return p && p._fullData; }")
        n = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')].map(p =>
            (p._fullData || []).filter(t => /^[0-9]$/.test(String(t.name)))
                  .reduce((n, t) => n + (t.x ? t.x.length : 0), 0)).reduce((a, b) => Math.max(a, b), 0)""")
        assert n == 2_000                      # a sample, drawn as SVG (Scattergl needs WebGL too)
        types = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullData.map(t => t.type)")
        assert "scattergl" not in types
        assert_no_exception(page)
    finally:
        context.close()


def test_hosted_cap_samples_with_a_message(page: Page, streamlit_app):
    url = streamlit_app("app.py", VAE_EXPLORER_HOSTED="1", VAE_MAP_MAX_POINTS="5000")
    goto_page(page, url, "latent_map")
    scatter_frame(page, 5_000)                                   # the bundled test split holds 10,000
    expect(page.get_by_text("This server maps at most 5,000 points", exact=False)).to_be_visible()
    assert_no_exception(page)
