"""t-SNE shown as it computes, in Chromium: while the background task runs, the Latent map page draws the
intermediate layout (vae.ui.tasks' published partial result, drawn by vae.ui.map.latent_map.layout_preview) under
the progress bar, and it changes; when the task ends, the finished map replaces it, its note giving the
time with the map's trustworthiness and 10-NN accuracy.
(A failed t-SNE's error and Retry: tests/e2e/test_hosting.py.)

Screenshots go to $SHOTS_DIR (default /tmp/shots-tsne-live).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.helpers import app_console_errors, assert_no_exception, goto_page, wait_for_app_run, wait_scatter

SHOTS = Path(os.environ.get("SHOTS_DIR", "/tmp/shots-tsne-live"))

# Collects, in the page, each distinct layout image the preview has shown (Streamlit names a media file by
# its content, so a new layout is a new src); true once `want` distinct ones were seen. Run by
# wait_for_function on every animation frame.
SEEN_LAYOUTS = """(want) => {
    const seen = (window.__layouts = window.__layouts || new Set());
    const img = document.querySelector('.st-key-map_layout_preview img');
    if (img && img.complete && img.naturalWidth > 0) seen.add(img.src);
    return seen.size >= want;
}"""


def wait_finished_map(page: Page, method: str) -> None:
    """The finished map's note (`method`, a regex, then its time and how faithful it is: vae.analysis.map_quality)
    is on the page, the page has rested, and the preview of the layout as it computed is gone."""
    expect(page.get_by_text(re.compile(method + r" took [0-9.]+ s "
                                       r"\(trustworthiness 0\.\d{3}, 10-NN accuracy 0\.\d{3}\)"))).to_be_visible()
    wait_for_app_run(page)
    expect(page.locator(".st-key-map_layout_preview")).to_have_count(0)


def test_tsne_layout_is_shown_as_it_computes(page: Page, streamlit_app):
    # a server of its own: the t-SNE of 2,000 of mnist-2d's test points is computed once per server and shared,
    # and this test must see it run (2,000 points, like the UMAP test's: its layout still moves for several polls)
    url = streamlit_app("app.py", VAE_TEST_SERVER="tsne-live")
    goto_page(page, url, "latent_map?perp=20&n=2000")
    # the map of the latent space itself; this frame of it (marked) will move its points to PCA's places while
    # t-SNE computes, then to t-SNE's, keeping a selected point
    wait_scatter(page, "s.count() === 2000 && s.painted() >= 1")
    page.evaluate("() => [...document.querySelectorAll('iframe')].filter(f => /webgl_scatter/.test(f.src))"
                  ".forEach(f => { const s = f.contentWindow.__scatter; s.mark = 'same frame'; s.select([10]); })")
    expect(page.get_by_text("1 selected point", exact=True)).to_be_visible()
    wait_for_app_run(page)
    page.get_by_test_id("stRadio").filter(has_text="Projection").get_by_text("t-SNE", exact=True).click()
    bar = page.get_by_test_id("stProgress").filter(has_text="t-SNE of")
    expect(bar).to_be_visible()
    caption = page.get_by_text("t-SNE as it computes: iteration")
    expect(caption).to_be_visible()
    # the preview exists only while the task runs, so every layout it drew is an intermediate one
    page.wait_for_function(SEEN_LAYOUTS, arg=2, polling="raf")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "tsne-as-it-computes.png"), full_page=True)
    # the end: the page reruns with the finished map, and the preview and the bar are gone
    # with its time, how faithful it is (vae.analysis.map_quality)
    wait_finished_map(page, r"t-SNE \(perplexity 20\)")
    expect(page.get_by_test_id("stProgress")).to_have_count(0)
    # a smooth change of projection: the same frame moved its points to t-SNE's places (a transition), not a frame
    # made anew (the progress above the map came and went: had the map's place moved, the browser would have made
    # it anew, losing the selection and the images)
    wait_scatter(page, "s.mark === 'same frame' && s.transitions() >= 2 && s.selected().join() === '10'")
    expect(page.get_by_text("1 selected point", exact=True)).to_be_visible()
    page.screenshot(path=str(SHOTS / "tsne-finished.png"), full_page=True)
    assert_no_exception(page)
    assert app_console_errors(page) == []


def test_umap_layout_is_shown_as_it_computes(page: Page, streamlit_app):
    # the t-SNE test's server (one per session: no server of its own), a small map of 2,000 points: UMAP's
    # epochs run one by one (vae.analysis.umap_projection) and the page draws the layout between them, as t-SNE's
    url = streamlit_app("app.py", VAE_TEST_SERVER="tsne-live")
    goto_page(page, url, "latent_map?proj=umap&n=2000")
    expect(page.get_by_test_id("stProgress").filter(has_text="UMAP of 2,000 points")).to_be_visible()
    expect(page.get_by_text(re.compile(r"UMAP as it computes: epoch \d+ of 500, all 2,000 points"))).to_be_visible()
    # moved at least twice while it computes: three different layouts seen before the finished map replaced them
    page.wait_for_function(SEEN_LAYOUTS, arg=3, polling="raf")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "umap-as-it-computes.png"), full_page=True)
    wait_finished_map(page, r"UMAP \(15 neighbours, min_dist 0\.1\)")
    page.screenshot(path=str(SHOTS / "umap-finished.png"), full_page=True)
    assert_no_exception(page)
    assert app_console_errors(page) == []
