"""The WebGL Latent map in Chromium, as a person uses it: hovering a point shows its image (sent by Python
with its neighbours' images), a click on a point picks it (its image, its decoding, its neighbours ringed),
a click on an empty spot decodes there (the map has an inverse), and a new projection of the same points
moves them there in the same component (an animated transition), ending on the new coordinates.

Needs MNIST's IDX files, as tests/e2e/test_webgl_map.py (whose fixture and helpers these tests use).
"""

from __future__ import annotations

import re

import numpy as np
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (app_console_errors, assert_no_exception, goto_page, wait_for_app_run,
                               wait_until_settled)
from tests.e2e.test_webgl_map import SHOTS, mnist_app, scatter_frame, wait_scatter  # noqa: F401 (a fixture)


def canvas_box(page: Page, frame) -> dict:
    """The map canvas's box on the page (CSS px): the frame's own offset plus the canvas's inside it, read once
    the frame has not moved for ten frames (a click at a box read while a rerun's layout still moved the map,
    on a busy machine, lands beside the place it aims at)."""
    wait_until_settled(page.locator("iframe[src*='webgl_scatter']").first)
    return frame.locator("#plot").bounding_box()


def test_hover_click_a_decoded_spot_then_a_new_projection(page: Page, mnist_app: str):  # noqa: F811
    """One page: hover, click, a decoded spot; then a new projection moves the points in the same map
    (a_new_projection_moves_the_points_in_the_same_map)."""
    goto_page(page, mnist_app, "latent_map")
    frame = scatter_frame(page, 10_000)
    box = canvas_box(page, frame)

    # hover: the mouse over a point shows its image beside it (asked from Python, once)
    sx, sy = frame.evaluate("() => window.__scatter.screenPosition(4321)")
    page.mouse.move(box["x"] + sx, box["y"] + sy)
    frame.wait_for_function("() => window.__scatter.hovered() >= 0")
    hovered = frame.evaluate("() => window.__scatter.hovered()")
    frame.wait_for_function(f"() => window.__scatter.hoverShown() === {hovered}")
    text = frame.locator("#hover-text").inner_text()
    assert text.startswith(f"#{hovered} ") and re.search(r"· \d$", text), text
    cached = frame.evaluate("() => window.__scatter.thumbsCached()")
    assert cached > 1                      # its neighbours' images came with it: the next hovers need no rerun
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "webgl_map_hover.png"))

    # a click on that point picks it: its image and decoding below, its neighbours ringed on the map
    page.mouse.click(box["x"] + sx, box["y"] + sy)
    expect(page.get_by_text("1 selected point", exact=True)).to_be_visible()
    expect(page.get_by_text("decoded from their latent means")).to_be_visible()
    frame = scatter_frame(page, 10_000)
    frame.wait_for_function("() => window.__scatter.ringed() > 0")

    # a click on an empty spot (the left margin: the map is wider than the data) decodes there, at the box the
    # map has after the pick's rerun
    wait_for_app_run(page)
    box = canvas_box(page, frame)
    page.mouse.move(box["x"] + 12, box["y"] + box["height"] * 0.5)
    page.mouse.click(box["x"] + 12, box["y"] + box["height"] * 0.5)
    frame.wait_for_function("() => window.__scatter.spot() !== null")
    spot = frame.evaluate("() => window.__scatter.spot()")
    assert spot[0] < -1.0 and abs(spot[1]) < 0.2          # left of the data's square, at mid-height
    expect(page.get_by_text("Decoded at the clicked spot")).to_be_visible()
    expect(page.get_by_text("1 selected point", exact=True)).to_have_count(0)
    caption = page.get_by_text(re.compile(r"^map \(")).first.inner_text()
    x, y = (float(v) for v in re.match(r"map \((-?[\d.]+), (-?[\d.]+)\)", caption).groups())
    z = [float(v) for v in re.search(r"z = \[([^\]]*)\]", caption).group(1).split(",")]
    assert np.allclose([x, y], z, atol=0.011)                 # mnist-2d: the map is the latent plane itself
    # the spot is the query: its neighbours ringed, the spot marked where it was clicked
    frame.wait_for_function("() => window.__scatter.queryXy() !== null && window.__scatter.ringed() > 0")
    qx, qy = frame.evaluate("() => window.__scatter.queryXy()")
    assert abs(qx - spot[0]) < 1e-3 and abs(qy - spot[1]) < 1e-3
    page.screenshot(path=str(SHOTS / "webgl_map_spot_decoded.png"))
    assert_no_exception(page)
    assert not app_console_errors(page)

    a_new_projection_moves_the_points_in_the_same_map(page)


def _procrustes_residual(a: np.ndarray, b: np.ndarray) -> float:
    """Max distance between b and the best s * a @ R + t (R orthogonal, reflections allowed)."""
    a0, b0 = a - a.mean(0), b - b.mean(0)
    u, sv, vt = np.linalg.svd(a0.T @ b0)
    r = u @ vt
    s = sv.sum() / (a0 ** 2).sum()
    return float(np.abs(s * a0 @ r - b0).max())


def a_new_projection_moves_the_points_in_the_same_map(page: Page) -> None:
    """On the Latent map of mnist-2d (open, its latent plane shown, no projection changed yet): a point selected,
    then PCA: the same component moves its points (one transition) to the new coordinates, the selection kept."""
    wait_for_app_run(page)
    frame = scatter_frame(page, 10_000)
    painted, moved = frame.evaluate("() => [window.__scatter.painted(), window.__scatter.transitions()]")
    before = np.array(frame.evaluate("() => window.__scatter.points()"), np.float64)
    frame.evaluate("() => { window.__scatter.mark = 'same frame'; }")
    frame.evaluate("() => window.__scatter.select([10])")
    expect(page.get_by_text("1 selected point", exact=True)).to_be_visible()

    page.get_by_test_id("stRadio").filter(has_text="Projection").get_by_text("PCA", exact=True).click()
    wait_for_app_run(page)
    expect(page.get_by_text("PCA keeps", exact=False)).to_be_visible()
    # the same component (not a new frame) moved its points: one transition, then the new layout held
    wait_scatter(page, f"s.mark === 'same frame' && s.transitions() === {moved + 1} && s.count() === 10000 "
                       f"&& s.painted() === {painted + 1}")
    frame = scatter_frame(page, 10_000)
    after = np.array(frame.evaluate("() => window.__scatter.points()"), np.float64)
    assert np.abs(after - before).max() > 0.05               # they moved ...
    assert _procrustes_residual(before, after) < 2e-3        # ... to PCA of a 2-d plane: a rotation of it
    assert frame.evaluate("() => window.__scatter.selected()") == [10]     # the selection stayed
    expect(page.get_by_text("1 selected point", exact=True)).to_be_visible()
    assert_no_exception(page)
    assert not app_console_errors(page)
