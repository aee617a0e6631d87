"""The Latent map's query by a drawing: the drawn digit is made as MNIST's digits were before it is encoded
(issue 27: the map took the drawing as drawn, off-centre, while the Posterior page normalised it)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.helpers import (assert_no_exception, draw_seven_in_corner, drawn_digit_geometry, goto_page,
                               wait_for_app_run)

SHOTS = Path(__file__).parent / "screenshots"


def test_a_digit_drawn_on_the_map_is_centred_and_scaled_like_mnist(page: Page, app_server: str):
    page.set_viewport_size({"width": 1400, "height": 1800})
    goto_page(page, app_server, "latent_map?model=mnist-2d&map=plotly")
    page.get_by_test_id("stRadio").filter(has_text="Neighbours of").get_by_text("an uploaded or drawn image").click()
    wait_for_app_run(page)
    page.get_by_test_id("stRadio").filter(has_text="Image").get_by_text("Draw", exact=True).click()
    wait_for_app_run(page)
    canvas = page.locator("canvas.dc-canvas")
    canvas.scroll_into_view_if_needed()
    expect(canvas).to_be_visible()
    draw_seven_in_corner(page, canvas)
    query = page.get_by_test_id("stImage").filter(has_text="query: your drawing")
    expect(query).to_be_visible()
    wait_for_app_run(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "map-draw-query.png"), full_page=True)
    expect(query).to_contain_text("centred like MNIST")
    com, side = drawn_digit_geometry(query.locator("img").first.get_attribute("src"))
    assert abs(com[0] - 13.5) <= 1.0 and abs(com[1] - 13.5) <= 1.0, com     # the drawn 7 sat top-left
    assert side in (19, 20, 21, 22)
    assert_no_exception(page)
