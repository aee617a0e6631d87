"""The explorer in a real Chromium: every page opens clean; a slider key press on Decode redraws the image;
a box selection on the latent map shows the selected images; a click on an empty spot of the map decodes it;
a bad upload is refused and the model kept.

Tests that walk the same page share one browser page (a fresh page is a fresh Streamlit session: the app's load
again, for the server and Chromium): every page, then Decode and the sidebar's uploads; the Plotly map of
digits-2d (hover, click, selections); a fresh server's deep links."""

from __future__ import annotations

import io
import pickle
import re
import zipfile
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.helpers import (FIRST_POINT_JS, app_console_errors, assert_no_exception, box_select, click_every_page,
                               click_first_map_point, goto_page, image_src, nav_links, wait_for_app_run,
                               record_traffic, wait_for_image_change, wait_for_plot, wait_until_settled)

DECODED = "decoded mean image"


def _every_page_opens_without_errors_and_makes_only_local_requests(page: Page, app_server: str) -> None:
    """Every page of the navigation opens clean with its sidebar; on Interpolate the GIF downloads.

    Offline (was tests/e2e/test_offline.py): every request a page makes goes to the app's own server, and no page
    logs a console error, none ignored. The README promises no network: a `:material/...:` page icon made the
    browser fetch the tab icon from fonts.gstatic.com on every page; images sent as /media files 404ed when a
    quick rerun (the live training fragment, fast widget changes) replaced them before the browser had loaded
    them ("Image source error"). The same checks while a run trains are made on the Train page of
    tests/e2e/test_live_map.py."""
    outside, failed, errors = record_traffic(page, app_server)
    goto_page(page, app_server)
    titles = [t for t, _ in nav_links(page)]
    for expected in ("Decode", "Latent map", "Interpolate", "Generate", "Posterior", "Train"):
        assert expected in titles, titles

    def the_sidebar_and_the_gif(title: str) -> None:
        # the sidebar is drawn on every page: model and dataset
        expect(page.get_by_test_id("stSidebar").get_by_text("Download model (.zip)")).to_be_visible()
        if title == "Interpolate":
            _the_interpolation_gif_is_big_enough_for_a_slide(page)
        # the page's images have loaded (or failed, recorded above) before the next click replaces the page
        page.wait_for_function("() => [...document.images].every(i => i.complete)")

    # through the sidebar's links, as a user goes (a deep-link reload makes Streamlit's frontend probe
    # /<page>/_stcore/health, a 404 by design, before it finds the server's root)
    click_every_page(page, the_sidebar_and_the_gif)
    # fast widget changes: new samples clicked several times without waiting for each run
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Generate", exact=True).click()
    wait_for_app_run(page)
    button = page.get_by_role("button", name="New samples")
    for _ in range(6):
        button.click()
        page.wait_for_timeout(60)
    wait_for_app_run(page, settle_ms=500)
    assert_no_exception(page)
    assert outside == [], outside
    assert failed == [], failed
    assert errors == [], errors
    assert app_console_errors(page) == []


def test_every_page_opens_then_decode_follows_key_presses_and_refuses_bad_uploads(page: Page, app_server: str):
    """One browser page: every page opens clean (and Interpolate's GIF is big enough for a slide), asking nothing
    of another server and logging no console error, also under fast clicks on Generate; on Decode a
    key press on the live control and one on a plain slider redraw the image; bad checkpoint uploads are refused
    with their own errors and the model kept, and a good one after them opens."""
    _every_page_opens_without_errors_and_makes_only_local_requests(page, app_server)
    goto_page(page, app_server)
    _slider_key_press_changes_the_decoded_image(page)
    page.get_by_role("button", name="Reset to zero").click()       # z back at 0 for the plain sliders
    wait_for_app_run(page)
    _plain_slider_key_press_changes_the_decoded_image(page)
    page.get_by_test_id("stCheckbox").filter(has_text="Live decoding while dragging").locator("label").click()
    expect(page.locator("input#lc-z-1")).to_be_visible()          # the live control again
    wait_for_app_run(page)
    _a_bad_upload_is_refused_and_the_model_kept(page)
    _a_second_refused_upload_shows_its_own_error(page)
    _after_a_refused_upload_the_next_good_upload_opens(page)
    assert app_console_errors(page) == []


LIVE = "Object.values(window.__latentControl.instances)[0]"   # the Decode page's drag-following control


def prior_line(page: Page) -> str:
    return page.get_by_test_id("stMarkdown").filter(has_text="log p(z) =").first.inner_text()


def _slider_key_press_changes_the_decoded_image(page: Page) -> None:
    """Decode's live control: a key press redraws the image at once and hands the new z to Python."""
    page.wait_for_function(f"() => window.__latentControl && {LIVE} && {LIVE}.ready() && {LIVE}.stats().images > 0")
    before_image = page.evaluate(f"() => {LIVE}.canvasHash()")
    before_text = prior_line(page)
    slider = page.locator("input#lc-z-0")
    slider.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"(old) => {LIVE}.canvasHash() !== old", arg=before_image)
    expect(slider).to_have_value(re.compile(r"^0\.10?$"))
    # the committed value becomes the app's state: log p(z) and the nearest data point follow
    page.wait_for_function("(old) => [...document.querySelectorAll(\"[data-testid='stMarkdown']\")]"
                           ".some(e => e.innerText.includes('log p(z) =') && e.innerText !== old)",
                           arg=before_text)
    assert_no_exception(page)
    assert app_console_errors(page) == []


def _plain_slider_key_press_changes_the_decoded_image(page: Page) -> None:
    page.get_by_test_id("stCheckbox").filter(has_text="Live decoding while dragging").locator("label").click()
    wait_for_app_run(page)
    expect(page.get_by_test_id("stImage").filter(has_text=DECODED).locator("img")).to_be_visible()
    wait_for_app_run(page, settle_ms=500)
    before = image_src(page, DECODED)
    thumb = page.get_by_test_id("stSlider").first.get_by_role("slider")
    thumb.focus()
    page.keyboard.press("ArrowRight")
    after = wait_for_image_change(page, DECODED, before)
    assert after != before
    expect(page.get_by_test_id("stSlider").first.get_by_test_id("stSliderThumbValue")).to_have_text("0.05")
    assert_no_exception(page)
    assert app_console_errors(page) == []


def test_a_deep_link_to_a_fresh_server_opens_that_page_with_its_sidebar(page: Page, streamlit_app):
    """Streamlit starts in its old pages/-folder mode until app.py calls st.navigation; the first request
    of a fresh server for a page URL must still open that page in the app, sidebar and all."""
    fresh = streamlit_app("app.py", VAE_TEST_SERVER="fresh-deep-link")     # a server nobody has visited
    for url_path, title in (("latent_map", "Latent map"), ("train", "Train a VAE")):
        goto_page(page, fresh, url_path)
        expect(page.get_by_test_id("stHeading").filter(has_text=title)).to_be_visible()
        expect(page.get_by_test_id("stDialog")).to_have_count(0)                 # no "Page not found"
        expect(page.get_by_test_id("stSidebar").get_by_text("Download model (.zip)")).to_be_visible()
        expect(page.get_by_test_id("stSidebarNav").locator("a")).to_have_count(11)
    assert_no_exception(page)
    assert app_console_errors(page) == []


def _box_selection_on_the_map_shows_images(page: Page) -> None:
    chart = page.get_by_test_id("stPlotlyChart").first
    expect(chart).to_be_visible()
    wait_for_plot(chart)            # plotly draws after the app run
    wait_for_app_run(page)
    chart.hover()                   # the map opens in pan mode (a click selects); box select is in the toolbar
    chart.locator(".modebar-btn[data-title='Box Select']").click()
    box_select(page, chart)
    expect(page.get_by_text("selected points")).to_be_visible()
    wait_for_app_run(page)
    expect(page.get_by_test_id("stImage").filter(has_text="the selected test images")).to_be_visible()
    # the centre of the box is decoded too (the map of a 2-d latent is the latent space itself)
    expect(page.get_by_test_id("stImage").filter(has_text="→ z =")).to_be_visible()
    assert_no_exception(page)


_CAPTION_LINES_JS = """(el) => {
    const cap = [...el.querySelectorAll('*')].filter(e => e.children.length === 0 && e.innerText.includes('the selected'))[0];
    const lh = parseFloat(getComputedStyle(cap).lineHeight) || 1.4 * parseFloat(getComputedStyle(cap).fontSize);
    return Math.round(cap.getBoundingClientRect().height / lh);
}"""


def _a_one_point_selection_keeps_its_captions_readable(page: Page) -> None:
    """Issue 27: with one point selected, the panel's captions wrapped one word a line (the caption is as
    wide as its one small tile)."""
    page.set_viewport_size({"width": 1400, "height": 2400})       # the whole page in the screenshot
    click_first_map_point(page)
    image = page.get_by_test_id("stImage").filter(has_text="the selected test images")
    expect(image).to_be_visible()
    Path("/tmp/shots27").mkdir(parents=True, exist_ok=True)
    page.screenshot(path="/tmp/shots27/map-one-point.png", full_page=True)
    assert image.evaluate(_CAPTION_LINES_JS) <= 2
    assert_no_exception(page)


# the emptiest spot of the plot area (farthest from every data point), in page pixels and map coordinates
_EMPTIEST_SPOT_JS = """(gd) => {
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, pts = [];
    for (const t of gd._fullData) if (t.customdata) for (let i = 0; i < t.x.length; i++) pts.push([xa.c2p(t.x[i]), ya.c2p(t.y[i])]);
    let best = null, bd = -1;
    for (let fx = 0.1; fx <= 0.9; fx += 0.02) for (let fy = 0.1; fy <= 0.9; fy += 0.02) {
        const px = xa._length * fx, py = ya._length * fy;
        let d = Infinity;
        for (const p of pts) d = Math.min(d, Math.hypot(p[0] - px, p[1] - py));
        if (d > bd) { bd = d; best = [px, py]; }
    }
    const r = gd.getBoundingClientRect();
    return {px: r.left + xa._offset + best[0], py: r.top + ya._offset + best[1], dist: bd,
            x: xa.p2c(best[0]), y: ya.p2c(best[1]), xspan: xa.range[1] - xa.range[0], yspan: ya.range[1] - ya.range[0]};
}"""


def _a_click_on_an_empty_spot_of_the_map_decodes_it(page: Page, projection: str) -> None:
    """On a 2-d model (the map is the latent space itself): a click far from every point decodes that spot."""
    if projection == "PCA":
        page.get_by_test_id("stRadio").filter(has_text="Projection").get_by_text("PCA", exact=True).click()
        # the rerun may start after wait_for_app_run's first look on a busy machine (the latent chart then
        # detached under scroll_into_view): wait for the PCA map's own note first
        expect(page.get_by_text(re.compile("PCA keeps"))).to_be_visible()
        wait_for_app_run(page)
    chart = page.get_by_test_id("stPlotlyChart").first
    chart.scroll_into_view_if_needed()
    wait_for_plot(chart)            # plotly draws after the app run
    wait_for_app_run(page)
    spot = wait_until_settled(chart.locator(".js-plotly-plot"), _EMPTIEST_SPOT_JS)   # read where it stays
    assert spot["dist"] > 15, spot  # far from every data point: no marker under the click
    expect(page.get_by_text("Decoded at the clicked spot")).to_have_count(0)     # (none from an earlier step)
    page.mouse.move(spot["px"], spot["py"])
    page.mouse.click(spot["px"], spot["py"])
    expect(page.get_by_text("Decoded at the clicked spot")).to_be_visible()
    wait_for_app_run(page)
    expect(page.get_by_text(re.compile(r"^\d+ selected points?$"))).to_have_count(0)    # a spot, not a data point
    caption = page.get_by_test_id("stImage").filter(has_text="→ z =").inner_text()
    m = re.search(r"map \((-?[\d.]+), (-?[\d.]+)\) → z = \[(-?[\d.]+), (-?[\d.]+)\]", caption)
    assert m, caption
    x, y, z1, z2 = map(float, m.groups())
    # the nearest node of the click grid (cells ~1/60 of the data's extent): within a cell or so of the click
    assert abs(x - spot["x"]) < 0.03 * spot["xspan"] and abs(y - spot["y"]) < 0.03 * spot["yspan"], (caption, spot)
    if projection == "latent":
        assert (z1, z2) == (x, y)
    Path("/tmp/shots").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=f"/tmp/shots/map-click-{projection.lower()}.png", full_page=True)
    assert_no_exception(page)


def _sidebar_upload(page: Page, name: str, data: bytes) -> None:
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Upload a checkpoint").click()
    wait_for_app_run(page)
    sidebar.locator("input[type='file']").first.set_input_files(
        files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}])


def _pickle_in_disguise() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("config.json", '{"format_version": 1, "model": {"latent_dim": 2}}')
        zf.writestr("model.safetensors", pickle.dumps({"not": "weights"}))   # a pickle in disguise
    return buf.getvalue()


def _a_bad_upload_is_refused_and_the_model_kept(page: Page) -> None:
    expect(page.locator("input#lc-z-1")).to_be_visible()      # the bundled 2-d model's two sliders
    _sidebar_upload(page, "hostile.zip", _pickle_in_disguise())
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_test_id("stAlertContentError")).to_contain_text("pickle")
    expect(sidebar.get_by_text("Still showing")).to_be_visible()
    wait_for_app_run(page)
    # the page still works on the previous model
    assert_no_exception(page)
    expect(page.locator("input#lc-z-1")).to_be_visible()
    expect(page.locator("input#lc-z-2")).to_have_count(0)
    expect(page.get_by_test_id("stMarkdown").filter(has_text="log p(z) =")).to_be_visible()


def _upload_again(page: Page, name: str, data: bytes, mime: str = "application/zip") -> None:
    page.get_by_test_id("stSidebar").locator("input[type='file']").first.set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}])


def _a_second_refused_upload_shows_its_own_error(page: Page) -> None:
    """Issue 27: a refused checkpoint upload showed the previous refused upload's error, not its own (here after
    hostile.zip, refused above). The refused file also leaves the uploader's list (it used to stay there, and the
    next good upload was judged together with it: "bad.zip: not part of a checkpoint")."""
    sidebar = page.get_by_test_id("stSidebar")
    _upload_again(page, "first.zip", b"not a zip at all")
    expect(sidebar.get_by_test_id("stAlertContentError")).to_contain_text("first.zip")
    wait_for_app_run(page)
    expect(sidebar.get_by_test_id("stFileUploaderFile")).to_have_count(0)     # out of the uploader's list
    _upload_again(page, "second.zip", _pickle_in_disguise())
    expect(sidebar.get_by_test_id("stAlertContentError")).to_contain_text("second.zip")
    wait_for_app_run(page)
    errors = sidebar.get_by_test_id("stAlertContentError")
    expect(errors).to_have_count(1)
    expect(errors).not_to_contain_text("first.zip")
    expect(errors).to_contain_text("pickle")
    # a file of a kind the uploader does not take (a PyTorch .pt, say) is refused with its own message too
    _upload_again(page, "third.pt", pickle.dumps({"w": 1}), "application/octet-stream")
    expect(errors.filter(has_text="third.pt")).to_have_count(1)
    wait_for_app_run(page)
    expect(errors).to_have_count(1)
    expect(errors).not_to_contain_text("second.zip")
    Path("/tmp/shots27").mkdir(parents=True, exist_ok=True)
    page.screenshot(path="/tmp/shots27/sidebar-refused-upload.png", full_page=True)
    assert_no_exception(page)


def _after_a_refused_upload_the_next_good_upload_opens(page: Page) -> None:
    """After the refusals above, a good checkpoint opens."""
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_test_id("stFileUploaderFile")).to_have_count(0)     # out of the uploader's list
    assets = Path(__file__).resolve().parents[2] / "assets" / "shapes-8d"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in ("config.json", "model.safetensors"):
            zf.writestr(name, (assets / name).read_bytes())
    _upload_again(page, "shapes.zip", buf.getvalue())
    expect(sidebar.get_by_text("8-d latent")).to_be_visible()
    wait_for_app_run(page)
    expect(sidebar.get_by_test_id("stAlertContentError")).to_have_count(0)
    assert_no_exception(page)


def _the_interpolation_gif_is_big_enough_for_a_slide(page: Page) -> None:
    from PIL import Image

    with page.expect_download() as info:
        page.get_by_role("button", name="Download GIF").click()
    gif = Image.open(info.value.path())
    assert gif.format == "GIF" and gif.n_frames >= 10
    assert min(gif.size) >= 256, gif.size


def _hovering_a_point_on_the_map_shows_its_image(page: Page) -> None:
    chart = page.get_by_test_id("stPlotlyChart").first
    expect(chart).to_be_visible()   # a deep link's first run reruns through app.py: slow under load
    gd = chart.locator(".js-plotly-plot")
    gd.wait_for()
    page.wait_for_function("() => window.__hoverThumbs && window.__hoverThumbs.byTag.has('vae-map')")
    wait_for_app_run(page)
    point = wait_until_settled(gd, FIRST_POINT_JS)   # the layout settles (captions, the neighbours section)
    page.mouse.move(point["px"] - 30, point["py"] - 30)
    page.mouse.move(point["px"], point["py"], steps=5)
    thumb = page.get_by_test_id("vaeHoverThumb")
    expect(thumb).to_be_visible()
    # the pointer crossed other points on its way: wait for the hover of where it stopped (Plotly throttles hovers)
    page.wait_for_function("(near) => near.includes(document.querySelector('[data-testid=vaeHoverThumb]')"
                           ".dataset.index)", arg=point["near"])
    assert thumb.get_attribute("data-index") in point["near"], point     # that point, or one drawn over it
    box = thumb.locator("canvas").bounding_box()
    assert box["width"] >= 100                                  # a readable thumbnail, not a label
    # the canvas shows the image: not blank
    lit = thumb.locator("canvas").evaluate(
        "c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 == 0 && v > 0)")
    assert lit
    Path("/tmp/shots-pages").mkdir(parents=True, exist_ok=True)
    page.screenshot(path="/tmp/shots-pages/map-hover-thumbnail.png")
    page.mouse.move(5, 5)
    expect(thumb).to_be_hidden()
    assert_no_exception(page)


def test_the_plotly_map_hovers_clicks_and_selects(page: Page, app_server: str):
    """One browser page on the Plotly Latent map of digits-2d (a 2-d model: the map is the latent space itself;
    300 points, the first not under others): hovering a point shows its image; a click on an empty spot decodes
    it; one selected point keeps its captions readable; a box selection shows the images and decodes the box's
    centre; on the PCA map too a click on an empty spot decodes it."""
    goto_page(page, app_server, "latent_map?model=digits-2d&map=plotly")   # the WebGL map: test_webgl_map
    _hovering_a_point_on_the_map_shows_its_image(page)
    _a_click_on_an_empty_spot_of_the_map_decodes_it(page, "latent")
    _a_one_point_selection_keeps_its_captions_readable(page)
    _box_selection_on_the_map_shows_images(page)
    chart = page.get_by_test_id("stPlotlyChart").first
    chart.hover()
    chart.locator(".modebar-btn[data-title='Pan']").click()         # back to pan mode: a click picks, not selects
    _a_click_on_an_empty_spot_of_the_map_decodes_it(page, "PCA")
    assert app_console_errors(page) == []
