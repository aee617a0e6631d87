"""The Decode page at /decode as well as at "/" (issue 22): a default page answers only at the app's root, so
/decode opened Streamlit's "Page not found" dialog over the default page (from the server's second session
on) and ran it at "/". app.py adds a hidden page "decode"
running the same script. Links the app makes from /decode (the sidebar's "Link to this view") reopen the view;
the sidebar's pages open from there, and its Decode entry still goes to "/".

Screenshots go to $SHOTS_DIR (default /tmp/shots-decode-url)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.helpers import (HANG_MS, app_console_errors, assert_no_exception, goto_page, move_first_latent_to_0_3,
                               wait_for_app_run, wait_scatter)

LIVE = "Object.values(window.__latentControl.instances)[0]"
SHOTS = Path(os.environ.get("SHOTS_DIR", "/tmp/shots-decode-url"))


def _decode_page_shows(page: Page) -> None:
    """The Decode page, its latent control ready, and no "Page not found" dialog or exception box."""
    expect(page.get_by_role("heading", name="Decode a latent point")).to_be_visible()
    page.wait_for_function(f"() => window.__latentControl && {LIVE} && {LIVE}.ready()")
    expect(page.get_by_text("Page not found")).to_have_count(0)
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert_no_exception(page)


def test_the_root_and_slash_decode_open_the_decode_page_and_its_links_work(page: Page, app_server: str, browser):
    # the server's second session: the first one on a fresh server showed no dialog, every later one did (the
    # dialog bench/browser_decode.py met from its second visit on, when it opened /decode)
    goto_page(page, app_server)
    # the root URL is still the Decode page, and the sidebar's Decode entry is there
    _decode_page_shows(page)
    expect(page.get_by_test_id("stSidebarNav").get_by_role("link", name="Decode", exact=True)).to_have_count(1)
    assert app_console_errors(page) == []
    goto_page(page, app_server, "decode?model=digits-2d")
    _decode_page_shows(page)
    assert re.search(r"/decode\?", page.url), page.url                  # not sent to "/"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "decode-at-slash-decode.png"), full_page=True)
    move_first_latent_to_0_3(page)
    wait_for_app_run(page)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_role("button", name="Link to this view").click()
    wait_for_app_run(page)
    link = sidebar.get_by_test_id("stCode").inner_text().strip()
    assert "/decode?" in link and "model=digits-2d" in link and "z=0.3" in link, link

    fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        other = fresh.new_page()
        other.set_default_timeout(HANG_MS)
        other.goto(link)
        wait_for_app_run(other)
        _decode_page_shows(other)
        expect(other.locator("input#lc-z-0")).to_have_value(re.compile(r"^0\.30?$"))
    finally:
        fresh.close()

    # the sidebar's pages open from /decode, and its Decode entry is the page at "/"
    nav = page.get_by_test_id("stSidebarNav")
    nav.get_by_role("link", name="Latent map", exact=True).click()
    wait_for_app_run(page)
    expect(page.get_by_role("heading", name="Latent map")).to_be_visible()
    # the WebGL map reruns the page by itself twice (drawn; then the 300 points' thumbnails): a page link clicked
    # while its value was on the way went nowhere (the value's rerun carried the Latent map's page; CI rehearsal)
    wait_scatter(page, "s.painted() > 0 && s.thumbsDrawn() > 0")
    wait_for_app_run(page)
    assert_no_exception(page)
    nav.get_by_role("link", name="Decode", exact=True).click()
    wait_for_app_run(page)
    _decode_page_shows(page)
    assert page.url.rstrip("/").split("?")[0] == app_server.rstrip("/"), page.url
    assert app_console_errors(page) == []

