"""The Latent map's search and filter, isolate selection, and colour by a latent dimension with a clipped range,
on the Plotly and the WebGL map (issue 27: what users of the Embedding Projector and W&B looked for); a
double-click that clears the map's selection clears the neighbours' query made from it (issue 27: "after a
double-click clears a selection, its stale 'query: centre of the selection (840 points)' stays"), on both maps.

The bundled digits-2d model maps the 300-image digits test split (the whole split on both maps). One browser
page walks each map (a fresh page is a fresh Streamlit session: the app's load again, for the server and
Chromium); each step says which former test it holds.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.waits import HANG_S
from tests.e2e.helpers import (assert_no_exception, box_select, choose_option, click_when_still, goto_page,
                               lasso_digits_webgl_map, pick_in_multiselect, wait_for_app_run, wait_for_plot,
                               wait_scatter, wait_until_settled)

SHOTS = Path(__file__).parent / "screenshots"
_DATA_POINTS_JS = """(el) => { const gd = el.querySelector('.js-plotly-plot');
    if (!gd || !gd._fullData) return -1;
    return gd._fullData.filter(t => t.customdata).reduce((a, t) => a + t.x.length, 0); }"""
_LABELS_JS = """(el) => { const gd = el.querySelector('.js-plotly-plot');
    return [...new Set(gd._fullData.filter(t => t.customdata).flatMap(t => t.customdata.map(c => String(c[1]))))]; }"""


def _plotly_points(page: Page) -> int:
    chart = page.get_by_test_id("stPlotlyChart").first
    wait_for_plot(chart)
    return wait_until_settled(chart, _DATA_POINTS_JS)


def _open_filter(page: Page) -> None:
    click_when_still(page.get_by_test_id("stExpander").filter(has_text="Search and filter").locator("summary"))


def _pick_label(page: Page, name: str) -> None:
    pick_in_multiselect(page, page.get_by_test_id("stMultiSelect").filter(has_text="Labels"), name)
    page.keyboard.press("Escape")
    wait_for_app_run(page)


def _type_indices(page: Page, text: str) -> None:
    box = page.get_by_test_id("stTextInput").filter(has_text="Indices").locator("input")
    box.fill(text)
    box.press("Enter")
    wait_for_app_run(page)


def _plotly_map_filters_by_label_and_index(page: Page) -> None:
    total = _plotly_points(page)
    assert total == 300
    _open_filter(page)
    _pick_label(page, "3")
    expect(page.get_by_text("Search and filter: showing")).to_be_visible()
    n3 = _plotly_points(page)
    assert 0 < n3 < total
    chart = page.get_by_test_id("stPlotlyChart").first
    assert wait_until_settled(chart, _LABELS_JS) == ["3"]
    expect(page.get_by_text(f"showing {n3:,} of {total:,} points")).to_be_visible()
    _type_indices(page, "0-99")                     # and among indices 0..99 (fewer: the 3s are spread out)
    expect(page.get_by_text(f"showing {n3:,} of {total:,} points")).to_have_count(0)     # that run drawn
    wait_for_app_run(page)
    n3_first = _plotly_points(page)
    assert 0 < n3_first < n3
    expect(page.get_by_text(f"showing {n3_first:,} of {total:,} points")).to_be_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "map-filter-plotly.png"), full_page=True)
    _type_indices(page, "12-x")                     # an unreadable text: said, nothing filtered by it
    expect(page.get_by_text("'12-x' is not an index or a range")).to_be_visible()
    assert_no_exception(page)
    # the filter off again: no label, no indices
    _type_indices(page, "")
    labels = page.get_by_test_id("stMultiSelect").filter(has_text="Labels")
    click_when_still(labels.locator("input"))
    page.keyboard.press("Backspace")                 # takes the last tag off
    expect(labels.locator("[data-tag]")).to_have_count(0)
    page.keyboard.press("Escape")
    # the run the change starts is waited for by what it shows (right after it the app can still read "not
    # running", its rerun not begun): no filter caption, then the chart settled
    expect(page.get_by_text("Search and filter: showing")).to_have_count(0)
    wait_for_app_run(page)
    assert _plotly_points(page) == total


def _isolate_selection_shows_only_the_selected_points_and_show_all_brings_them_back(page: Page) -> None:
    assert _plotly_points(page) == 300
    chart = page.get_by_test_id("stPlotlyChart").first
    chart.hover()
    chart.locator(".modebar-btn[data-title='Box Select']").click()
    box_select(page, chart, 0.3, 0.3, 0.7, 0.7)
    heading = page.get_by_text("selected points")
    expect(heading).to_be_visible()
    wait_for_app_run(page)
    n_sel = int(heading.inner_text().split()[0])
    assert 1 < n_sel < 300
    page.get_by_role("button", name=f"Isolate selection ({n_sel:,} points)").click()
    expect(page.get_by_text(f"Showing only the {n_sel:,} isolated points.")).to_be_visible()
    wait_for_app_run(page)
    assert _plotly_points(page) == n_sel
    page.screenshot(path=str(SHOTS / "map-isolated.png"), full_page=True)
    page.get_by_role("button", name="Show all points").click()
    expect(page.get_by_text("Showing only the")).to_have_count(0)      # that run drawn (see above)
    wait_for_app_run(page)
    assert _plotly_points(page) == 300
    assert_no_exception(page)


_COLOUR_JS = """(el) => { const gd = el.querySelector('.js-plotly-plot');
    if (!gd || !gd._fullData) return null;         // (re)drawn by Plotly now: not yet
    const t = gd._fullData.find(t => t.customdata);
    return {title: t.marker.colorbar && t.marker.colorbar.title.text, cmin: t.marker.cmin, cmax: t.marker.cmax,
            colors: Array.from(t.marker.color)}; }"""


def _settled_colours(chart) -> dict:
    """The Plotly map's colouring (_COLOUR_JS) once the chart is drawn and still: Plotly's _fullData is missing
    while it draws the chart anew after a rerun (a CI rehearsal read it there: "reading 'find' of undefined")."""
    deadline = time.monotonic() + HANG_S
    while (got := wait_until_settled(chart, _COLOUR_JS)) is None:
        assert time.monotonic() < deadline, "the Plotly map was never drawn"
    return got


def _plotly_map_colours_by_a_latent_dimension_with_a_clipped_range(page: Page) -> None:
    _plotly_points(page)
    choose_option(page, page.get_by_test_id("stSelectbox").filter(has_text="Colour by"), "z2", exact=True)
    wait_for_app_run(page)
    expect(page.get_by_text("Colour range (percentiles)")).to_be_visible()
    chart = page.get_by_test_id("stPlotlyChart").first
    wait_for_plot(chart)
    got = _settled_colours(chart)
    assert got["title"] == "z2"
    import numpy as np

    v = np.asarray(got["colors"], float)        # the points' z2, the latent space itself on a 2-d model
    lo, hi = np.percentile(v, [2, 98])
    assert abs(got["cmin"] - lo) < 1e-6 * max(1, abs(lo)) and abs(got["cmax"] - hi) < 1e-6 * max(1, abs(hi))
    assert v.min() < got["cmin"] < got["cmax"] < v.max()
    page.screenshot(path=str(SHOTS / "map-colour-z2-plotly.png"), full_page=True)
    choose_option(page, page.get_by_test_id("stSelectbox").filter(has_text="Colour by"),
                  "reconstruction error (MSE)", exact=True)
    wait_for_app_run(page)
    got = _settled_colours(chart)
    assert got["title"] == "reconstruction error (MSE)" and min(got["colors"]) >= 0
    assert_no_exception(page)


def _webgl_map_filters_and_colours_by_a_dimension(page: Page) -> None:
    wait_scatter(page, "s.painted() > 0 && s.count() === 300")
    wait_for_app_run(page)      # the map's "drawn" report reruns the page: act once that rerun has ended
    _open_filter(page)
    _pick_label(page, "7")
    expect(page.get_by_text("Search and filter: showing")).to_be_visible()
    wait_scatter(page, "s.painted() > 0 && s.count() > 0 && s.count() < 300")
    choose_option(page, page.get_by_test_id("stSelectbox").filter(has_text="Colour by"), "z1", exact=True)
    wait_for_app_run(page)
    wait_scatter(page, "s.colorMode() === 'value' && s.legendText().includes('z1') && s.count() < 300")
    page.screenshot(path=str(SHOTS / "map-filter-webgl.png"), full_page=True)
    assert_no_exception(page)


def _webgl_map_isolates_a_lasso_and_show_all_brings_the_rest_back(page: Page, app_server: str) -> None:
    frame = lasso_digits_webgl_map(page, app_server, 0.5)
    n_sel = frame.evaluate("() => window.__scatter.selected().length")
    assert 1 < n_sel < 300
    expect(page.get_by_text(f"{n_sel} selected points")).to_be_visible()
    wait_for_app_run(page)
    click_when_still(page.get_by_role("button", name=f"Isolate selection ({n_sel:,} points)"))
    wait_for_app_run(page)
    expect(page.get_by_text(f"Showing only the {n_sel:,} isolated points.")).to_be_visible()
    wait_scatter(page, f"s.painted() > 0 && s.count() === {n_sel}")
    page.screenshot(path=str(SHOTS / "map-isolated-webgl.png"), full_page=True)
    click_when_still(page.get_by_role("button", name="Show all points"))
    wait_for_app_run(page)
    wait_scatter(page, "s.painted() > 0 && s.count() === 300")
    expect(page.get_by_text("isolated points")).to_have_count(0)
    assert_no_exception(page)


def _plotly_map_filters_by_a_log_px_range(page: Page) -> None:
    """Colour by log p(x) computes the likelihood ranking; the filter then offers a log p(x) range, and raising its
    lower end hides the least likely points (each kept point's log p(x) is in the range)."""
    assert _plotly_points(page) == 300
    choose_option(page, page.get_by_test_id("stSelectbox").filter(has_text="Colour by"), "log p(x) (IWAE)",
                  exact=True)
    wait_for_app_run(page)
    chart = page.get_by_test_id("stPlotlyChart").first
    page.wait_for_function("() => { const gd = document.querySelector('.js-plotly-plot'); return gd && gd._fullData"
                           " && gd._fullData.some(t => t.marker && t.marker.colorbar"
                           " && /log p/.test(t.marker.colorbar.title.text)); }")
    wait_for_app_run(page)
    every = sorted(wait_until_settled(chart, _COLOUR_JS)["colors"])      # the 300 points' log p(x)
    assert len(every) == 300
    _open_filter_if_closed(page)
    range_slider = page.get_by_test_id("stSlider").filter(has_text="log p(x) range (nats)")
    expect(range_slider).to_be_visible()
    low = range_slider.get_by_role("slider").first
    low.focus()
    for _ in range(40):                               # 40 of its 200 steps up from the least likely point
        page.keyboard.press("ArrowRight")
    wait_for_app_run(page)
    expect(page.get_by_text("Search and filter: showing")).to_be_visible()
    kept = _plotly_points(page)
    assert 0 < kept < 300
    got = sorted(wait_until_settled(chart, _COLOUR_JS)["colors"])
    assert len(got) == kept and got == every[-kept:]          # the most likely points: every hidden one is less likely
    expect(page.get_by_text(f"showing {kept:,} of 300 points")).to_be_visible()
    page.screenshot(path=str(SHOTS / "map-filter-logpx.png"), full_page=True)
    assert_no_exception(page)


def _open_filter_if_closed(page: Page) -> None:
    summary = page.get_by_test_id("stExpander").filter(has_text="Search and filter").locator("details")
    if summary.get_attribute("open") is None:
        _open_filter(page)


CENTRE = re.compile(r"query: the centre of the selection \((\d+) points\)")
_CHART_STILL_JS = "(el) => { const r = el.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; }"


def _a_double_click_on_the_plotly_map_clears_the_selections_query(page: Page) -> None:
    """(Was tests/e2e/test_map_clear_query.py.)"""
    chart = page.get_by_test_id("stPlotlyChart").first
    wait_for_plot(chart)
    wait_for_app_run(page)
    heading = page.get_by_text(re.compile(r"^\d+ selected points?$"))
    before = heading.inner_text() if heading.count() else None       # a selection an earlier step left
    chart.hover()
    chart.locator(".modebar-btn[data-title='Box Select']").click()
    wait_until_settled(chart, _CHART_STILL_JS)
    box_select(page, chart, 0.2, 0.2, 0.8, 0.8)
    expect(heading).to_be_visible()
    if before is not None:
        expect(heading).not_to_have_text(before)
    query = page.get_by_test_id("stImage").filter(has_text=CENTRE)
    expect(query).to_be_visible()
    wait_for_app_run(page)
    n = int(CENTRE.search(query.inner_text()).group(1))
    assert 1 < n < 300
    expect(page.get_by_text(f"{n} selected points")).to_be_visible()
    rings = chart.locator("svg[data-testid='vaePlotRings'] circle.ring")
    expect(rings).to_have_count(8)
    page.screenshot(path=str(SHOTS / "plotly-selection-query.png"), full_page=True)
    area = chart.locator(".nsewdrag").first
    b = area.bounding_box()
    page.mouse.dblclick(b["x"] + b["width"] * 0.5, b["y"] + b["height"] * 0.5)
    expect(page.get_by_text(f"{n} selected points")).to_have_count(0)
    wait_for_app_run(page)
    expect(query).to_have_count(0)                     # no stale "query: the centre of the selection"
    expect(page.get_by_text("Click a point, select several")).to_be_visible()
    expect(rings).to_have_count(0)
    page.screenshot(path=str(SHOTS / "plotly-selection-cleared.png"), full_page=True)
    assert_no_exception(page)


def _a_double_click_on_the_webgl_map_clears_the_lassos_query(page: Page) -> None:
    """(Was tests/e2e/test_map_clear_query.py.) A lasso of [-0.7, 0.7]^2 on the WebGL map, then a double-click."""
    wait_scatter(page, "s.painted() > 0 && s.count() === 300")
    wait_for_app_run(page)      # the map's "drawn" report reruns the page: act once that rerun has ended
    frame = next(f for f in page.frames if "webgl_scatter" in f.url and not f.is_detached())
    seq = frame.evaluate("() => window.__scatter.selectSeq()")
    frame.evaluate("(v) => window.__scatter.lasso(v)", [[-0.7, -0.7], [0.7, -0.7], [0.7, 0.7], [-0.7, 0.7]])
    frame.wait_for_function(f"() => window.__scatter.selectSeq() > {seq}")
    query = page.get_by_test_id("stImage").filter(has_text=CENTRE)
    n_lasso = frame.evaluate("() => window.__scatter.selected().length")
    expect(page.get_by_text(f"{n_lasso} selected points")).to_be_visible()
    wait_for_app_run(page)
    expect(query).to_be_visible()
    n = int(CENTRE.search(query.inner_text()).group(1))
    assert 1 < n <= 300
    page.screenshot(path=str(SHOTS / "webgl-selection-query.png"), full_page=True)
    canvas = frame.locator("canvas").first
    b = canvas.bounding_box()
    page.mouse.dblclick(b["x"] + b["width"] * 0.03, b["y"] + b["height"] * 0.03)    # a corner: no point there
    expect(page.get_by_text(f"{n} selected points")).to_have_count(0)
    wait_for_app_run(page)
    expect(query).to_have_count(0)
    expect(page.get_by_text("Click a point, select several")).to_be_visible()
    page.screenshot(path=str(SHOTS / "webgl-selection-cleared.png"), full_page=True)
    assert_no_exception(page)


def test_the_plotly_map_colours_isolates_clears_and_filters(page: Page, app_server: str):
    """One browser page on the Plotly map: colour by z2 with a clipped range (and by the reconstruction error);
    isolate a box selection and show all again; a double-click clears a box selection's query; filter by label and
    index (an unreadable index said); filter by a log p(x) range."""
    page.set_viewport_size({"width": 1400, "height": 1600})
    goto_page(page, app_server, "latent_map?model=digits-2d&map=plotly")
    SHOTS.mkdir(parents=True, exist_ok=True)
    _plotly_map_colours_by_a_latent_dimension_with_a_clipped_range(page)
    _isolate_selection_shows_only_the_selected_points_and_show_all_brings_them_back(page)
    _a_double_click_on_the_plotly_map_clears_the_selections_query(page)
    _plotly_map_filters_by_label_and_index(page)
    _plotly_map_filters_by_a_log_px_range(page)


def test_the_webgl_map_isolates_clears_filters_and_colours(page: Page, app_server: str):
    """One browser page on the WebGL map: isolate a lasso and show all again; a double-click clears a lasso's
    query; filter by label and colour by z1."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    _webgl_map_isolates_a_lasso_and_show_all_brings_the_rest_back(page, app_server)
    _a_double_click_on_the_webgl_map_clears_the_lassos_query(page)
    _webgl_map_filters_and_colours_by_a_dimension(page)
