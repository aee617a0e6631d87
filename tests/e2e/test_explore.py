"""The exploring tools in a real Chromium, on the bundled digits model: a neighbour click opens its image;
applying a direction changes the decoded image; a shared link reopens the Decode point and the projection
in a fresh browser context; the map's CSV download has one row per point. One browser page walks them all (a fresh
page is a fresh Streamlit session: the app's load again, for the server and Chromium), each step from its own link
(a new session of the same browser: a link in the URL, so nothing of the last view is recalled)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    HANG_MS,
    app_console_errors,
    assert_no_exception,
    click_when_still,
    goto_page,
    image_src,
    move_first_latent_to_0_3,
    wait_for_app_run,
    wait_for_image_change,
    wait_for_plot,
    wait_scatter,
    wait_until_settled,
)

SHOTS = Path("/tmp/shots-explore")
LIVE = "Object.values(window.__latentControl.instances)[0]"   # the Decode page's drag-following control

# the page position of the data point farthest from every other (so a click hits it and nothing else)
_LONELY_POINT_JS = """(gd) => {
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, pts = [];
    for (const t of gd._fullData) if (t.customdata && t.customdata.length)
        for (let i = 0; i < t.x.length; i++) pts.push([xa.c2p(t.x[i]), ya.c2p(t.y[i]), t.customdata[i][0]]);
    let best = null, bd = -1;
    for (const p of pts) {
        if (p[0] < 20 || p[1] < 20 || p[0] > xa._length - 20 || p[1] > ya._length - 20) continue;
        let d = Infinity;
        for (const q of pts) if (q !== p) d = Math.min(d, Math.hypot(p[0] - q[0], p[1] - q[1]));
        if (d > bd) { bd = d; best = p; }
    }
    const r = gd.getBoundingClientRect();
    return {px: r.left + xa._offset + best[0], py: r.top + ya._offset + best[1], index: best[2], dist: bd};
}"""


# for each ring drawn over the chart, the distance in pixels to the nearest data point of the map's traces
_RING_OFFSETS_JS = """(gd) => {
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    const pts = [];
    for (const t of gd._fullData) {
        if (!t.customdata || !t.x) continue;
        for (let i = 0; i < t.x.length; i++) pts.push([xa._offset + xa.l2p(t.x[i]), ya._offset + ya.l2p(t.y[i])]);
    }
    return [...gd.querySelectorAll('svg.vae-plot-rings circle.ring')].map(c => {
        const cx = +c.getAttribute('cx'), cy = +c.getAttribute('cy');
        return Math.min(...pts.map(p => Math.hypot(p[0] - cx, p[1] - cy)));
    });
}"""


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _plot(page: Page):
    chart = page.get_by_test_id("stPlotlyChart").first
    chart.scroll_into_view_if_needed()
    page.wait_for_function("() => { const gd = document.querySelector('.js-plotly-plot');"
                           " return gd && gd._fullData && gd._fullData.length > 1; }")
    return chart


def _a_neighbour_click_opens_the_image(page: Page, app_server: str) -> None:
    goto_page(page, app_server, "latent_map?model=digits-2d&map=plotly")
    chart = _plot(page)
    wait_for_plot(chart)            # drawn and no longer resized, after the app run
    wait_for_app_run(page)
    # the point's page position, read once it has not moved for ten frames: a position read while the
    # layout still moved put the click beside the point on a busy machine
    pt = wait_until_settled(chart.locator(".js-plotly-plot"), _LONELY_POINT_JS)
    page.mouse.move(pt["px"], pt["py"])
    page.mouse.click(pt["px"], pt["py"])
    expect(page.get_by_text(f"query: test #{pt['index']}")).to_be_visible()
    wait_for_app_run(page)
    buttons = page.get_by_role("button", name=re.compile(r"^#\d+$"))
    expect(buttons).to_have_count(8)
    # the main map rings them and stars the query, over its figure: the chart keeps its selection
    rings = chart.locator("svg[data-testid='vaePlotRings'] circle.ring")
    expect(rings).to_have_count(8)
    expect(chart.locator("svg[data-testid='vaePlotRings'] path.star")).to_have_count(1)
    off = chart.locator(".js-plotly-plot").evaluate(_RING_OFFSETS_JS)
    assert max(off) < 1.5, off                 # each ring sits on a data point (pixels from the nearest)
    expect(page.get_by_text("1 selected point")).to_be_visible()
    label = buttons.nth(2).inner_text().strip()
    index = int(re.match(r"#(\d+)", label).group(1))
    assert index != pt["index"]                                       # the query itself is left out
    buttons.nth(2).click()
    wait_for_app_run(page)
    opened = page.get_by_test_id("stImage").filter(has_text=f"opened: test #{index} (")
    expect(opened.locator("img")).to_be_visible()
    expect(page.get_by_test_id("stImage").filter(has_text="its reconstruction")).to_be_visible()
    opened.scroll_into_view_if_needed()
    _shot(page, "neighbours-opened")
    assert_no_exception(page)


def _applying_a_direction_changes_the_decoded_image(page: Page, app_server: str) -> None:
    goto_page(page, app_server, "directions?model=digits-2d")
    page.get_by_test_id("stButton").filter(has_text="Save direction").locator("button").click()
    wait_for_app_run(page)
    caption = "decoded at strength"
    expect(page.get_by_test_id("stImage").filter(has_text=f"{caption} +1.0").locator("img")).to_be_visible()
    before = image_src(page, caption)
    slider = page.get_by_test_id("stSlider").filter(has_text="Strength").get_by_role("slider")
    slider.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    # each key press reruns the page; wait for the last value's image, however slow the machine
    expect(page.get_by_test_id("stImage").filter(has_text=f"{caption} +1.5")).to_be_visible()
    wait_for_app_run(page)
    after = wait_for_image_change(page, caption, before)
    assert after != before
    _shot(page, "directions")
    assert_no_exception(page)


def _a_shared_link_reopens_the_decode_point_and_projection(page: Page, browser) -> None:
    """From the WebGL Latent map the steps before left open."""
    page.get_by_test_id("stRadio").filter(has_text="Projection").get_by_text("PCA", exact=True).click()
    wait_for_app_run(page)
    page.get_by_test_id("stSidebarNav").get_by_text("Decode", exact=True).click()
    wait_for_app_run(page)
    page.wait_for_function(f"() => window.__latentControl && {LIVE} && {LIVE}.ready()")
    move_first_latent_to_0_3(page)
    wait_for_app_run(page)
    page.get_by_test_id("stSidebar").get_by_role("button", name="Link to this view").click()
    wait_for_app_run(page)
    link = page.get_by_test_id("stSidebar").get_by_test_id("stCode").inner_text().strip()
    assert "proj=pca" in link and "model=digits-2d" in link and "z=0.3" in link, link
    _shot(page, "share-link")

    fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        other = fresh.new_page()
        other.set_default_timeout(HANG_MS)
        other.goto(link)
        wait_for_app_run(other)
        other.wait_for_function(f"() => window.__latentControl && {LIVE} && {LIVE}.ready()")
        expect(other.locator("input#lc-z-0")).to_have_value(re.compile(r"^0\.30?$"))
        other.get_by_test_id("stSidebarNav").get_by_text("Latent map", exact=True).click()
        wait_for_app_run(other)
        pca = other.get_by_test_id("stRadio").filter(has_text="Projection").locator("input[type='radio']").nth(1)
        expect(pca).to_be_checked()
        expect(other.get_by_text(re.compile("PCA keeps"))).to_be_visible()
        assert_no_exception(other)
    finally:
        fresh.close()


def _is_backend_operation(message) -> bool:
    """True for a page-to-server message that asks for a deferred file (a BackMsg backend_operation_request)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    try:
        return isinstance(message, bytes) and BackMsg.FromString(message).WhichOneof("type") == "backend_operation_request"
    except Exception:  # noqa: BLE001 - not a BackMsg: let it through
        return False


def _the_map_csv_downloads_when_a_rerun_ends_before_the_server_reads_the_click(page: Page, app_server: str) -> None:
    """Bug: the WebGL map reports its first draw, which reruns the page; a click on the CSV button in that
    rerun asked for the first run's deferred file, which the rerun's end had dropped by the time a busy
    server read the click ("Failed to generate file for download", no download). Made certain here: the
    page's request for a deferred file, sent by the click, is held until a rerun has ended. A small map's
    CSV is a file with a stable address (fetched over HTTP, not asked for over the socket): it downloads."""
    held, state = [], {"hold": False}

    def through(ws) -> None:
        server = ws.connect_to_server()

        def from_page(message) -> None:
            if state["hold"] and _is_backend_operation(message):
                held.append((server, message))
            else:
                server.send(message)
        ws.on_message(from_page)
        server.on_message(ws.send)
    page.route_web_socket(re.compile(r"/_stcore/stream"), through)
    goto_page(page, app_server, "latent_map?model=digits-2d")
    button = page.get_by_role("button", name=re.compile(r"^Map as CSV"))
    wait_scatter(page, "s.painted() > 0")
    wait_for_app_run(page)
    with page.expect_download(timeout=HANG_MS) as info:
        state["hold"] = True
        button.click()
        page.locator("body").press("r")                # a rerun (the map's report of its draw, in the bug)
        wait_for_app_run(page)
        for server, message in held:                   # the server reads the click only now
            server.send(message)
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
    assert len(rows) == 300
    state["hold"] = False
    assert_no_exception(page)


def _the_map_csv_has_one_row_per_point(page: Page) -> None:
    """On the WebGL map the step before left open, a plain click on the CSV button."""
    # the WebGL map reports that it drew, which reruns the page: a click during that rerun asks for the old
    # run's deferred file, which the rerun's end drops (no download ever comes); click once the page is still
    wait_scatter(page, "s.painted() > 0")
    wait_for_app_run(page)
    button = page.get_by_role("button", name=re.compile(r"^Map as CSV"))
    n = int(re.search(r"\(([\d,]+) points\)", button.inner_text()).group(1).replace(",", ""))
    with page.expect_download() as info:
        click_when_still(button)
    data = Path(info.value.path()).read_text()
    rows = list(csv.DictReader(io.StringIO(data)))
    assert len(rows) == n == 300                      # the digits test split
    assert {"index", "label", "mu_1", "mu_2", "sigma_1", "sigma_2", "map_z1", "map_z2"} <= set(rows[0])
    assert sorted(int(r["index"]) for r in rows) == list(range(300))
    assert all(r["mu_1"] == r["map_z1"] for r in rows)   # a 2-d latent is its own map
    assert_no_exception(page)


def test_csv_shared_link_directions_and_neighbours(page: Page, app_server: str, browser):
    """One browser page: on the WebGL map of digits-2d the CSV downloads when a rerun ends before the server reads
    the click, and a plain click's CSV has one row per point; a shared link (PCA, a Decode point) reopens in a
    fresh browser context; applying a direction changes the decoded image; a neighbour click opens its image."""
    _the_map_csv_downloads_when_a_rerun_ends_before_the_server_reads_the_click(page, app_server)
    _the_map_csv_has_one_row_per_point(page)
    _a_shared_link_reopens_the_decode_point_and_projection(page, browser)
    _applying_a_direction_changes_the_decoded_image(page, app_server)
    _a_neighbour_click_opens_the_image(page, app_server)
    assert app_console_errors(page) == []
