"""A double-click that clears the Latent map's selection clears the neighbours' query made from it (issue 27:
"after a double-click clears a selection, its stale 'query: centre of the selection (840 points)' stays"), on
the Plotly map and on the WebGL map. The bundled digits-2d model maps the 300-image digits test split."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.helpers import (assert_no_exception, box_select, goto_page, lasso_digits_webgl_map, wait_for_app_run,
                               wait_for_plot, wait_until_settled)

SHOTS = Path(__file__).parent / "screenshots"
CENTRE = re.compile(r"query: the centre of the selection \((\d+) points\)")
_CHART_STILL_JS = "(el) => { const r = el.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; }"


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_a_double_click_on_the_plotly_map_clears_the_selections_query(page: Page, app_server: str):
    page.set_viewport_size({"width": 1400, "height": 1600})
    goto_page(page, app_server, "latent_map?model=digits-2d&map=plotly")
    chart = page.get_by_test_id("stPlotlyChart").first
    wait_for_plot(chart)
    wait_for_app_run(page)
    chart.hover()
    chart.locator(".modebar-btn[data-title='Box Select']").click()
    wait_until_settled(chart, _CHART_STILL_JS)
    box_select(page, chart, 0.2, 0.2, 0.8, 0.8)
    query = page.get_by_test_id("stImage").filter(has_text=CENTRE)
    expect(query).to_be_visible()
    wait_for_app_run(page)
    n = int(CENTRE.search(query.inner_text()).group(1))
    assert 1 < n < 300
    expect(page.get_by_text(f"{n} selected points")).to_be_visible()
    rings = chart.locator("svg[data-testid='vaePlotRings'] circle.ring")
    expect(rings).to_have_count(8)
    _shot(page, "plotly-selection-query")
    area = chart.locator(".nsewdrag").first
    b = area.bounding_box()
    page.mouse.dblclick(b["x"] + b["width"] * 0.5, b["y"] + b["height"] * 0.5)
    expect(page.get_by_text(f"{n} selected points")).to_have_count(0)
    wait_for_app_run(page)
    expect(query).to_have_count(0)                     # no stale "query: the centre of the selection"
    expect(page.get_by_text("Click a point, select several")).to_be_visible()
    expect(rings).to_have_count(0)
    _shot(page, "plotly-selection-cleared")
    assert_no_exception(page)


def test_a_double_click_on_the_webgl_map_clears_the_lassos_query(page: Page, app_server: str):
    lasso_digits_webgl_map(page, app_server, 0.7)
    query = page.get_by_test_id("stImage").filter(has_text=CENTRE)
    expect(query).to_be_visible()
    wait_for_app_run(page)
    n = int(CENTRE.search(query.inner_text()).group(1))
    assert 1 < n <= 300
    _shot(page, "webgl-selection-query")
    canvas = next(f for f in page.frames if "webgl_scatter" in f.url and not f.is_detached()).locator("canvas").first
    b = canvas.bounding_box()
    page.mouse.dblclick(b["x"] + b["width"] * 0.03, b["y"] + b["height"] * 0.03)    # a corner: no point there
    expect(page.get_by_text(f"{n} selected points")).to_have_count(0)
    wait_for_app_run(page)
    expect(query).to_have_count(0)
    expect(page.get_by_text("Click a point, select several")).to_be_visible()
    _shot(page, "webgl-selection-cleared")
    assert_no_exception(page)
