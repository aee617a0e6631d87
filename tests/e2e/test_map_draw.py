"""The Latent map's query by a drawing: the drawn digit is made as MNIST's digits were before it is encoded
(issue 27: the map took the drawing as drawn, off-centre, while the Posterior page normalised it)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import Page, expect

from tests.e2e.helpers import assert_no_exception, goto_page, wait_for_app_run

SHOTS = Path("/tmp/i27a/shots")


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
    box = canvas.bounding_box()
    at = lambda fx, fy: (box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)  # noqa: E731
    page.mouse.move(*at(0.05, 0.05))
    page.mouse.down()
    for t in np.linspace(0, 1, 10):                                  # a 7 in the top-left corner: its bar,
        page.mouse.move(*at(0.05 + 0.55 * t, 0.05))
    for t in np.linspace(0, 1, 12):                                  # then its stem
        page.mouse.move(*at(0.6 - 0.35 * t, 0.05 + 0.7 * t))
    page.mouse.up()
    query = page.get_by_test_id("stImage").filter(has_text="query: your drawing")
    expect(query).to_be_visible()
    wait_for_app_run(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "map-draw-query.png"), full_page=True)
    expect(query).to_contain_text("centred like MNIST")
    src = query.locator("img").first.get_attribute("src")
    png = base64.b64decode(src.split(",", 1)[1])                    # vae.ui.images.show sends a data URL
    a = np.asarray(Image.open(io.BytesIO(png)).convert("L").resize((28, 28), Image.Resampling.BOX), np.float64)
    rows, cols = np.indices(a.shape)
    com = ((rows * a).sum() / a.sum(), (cols * a).sum() / a.sum())
    assert abs(com[0] - 13.5) <= 1.0 and abs(com[1] - 13.5) <= 1.0, com
    ink_r, ink_c = np.nonzero(a >= 32)
    assert max(np.ptp(ink_r), np.ptp(ink_c)) + 1 in (19, 20, 21, 22)
    assert_no_exception(page)
