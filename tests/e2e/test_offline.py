"""Offline: every request a page makes goes to the app's own server, and no page logs a console error.

The README promises no network. A `:material/...:` page icon made the browser fetch the tab icon from
fonts.gstatic.com on every page; images sent as /media files 404ed when a quick rerun (the live training
fragment, fast widget changes) replaced them before the browser had loaded them ("Image source error").
Unlike the other e2e tests, no console error is ignored here.

The same checks while a run trains (the live fragment replaces its images every second) are made on the Train
page of tests/e2e/test_live_map.py, whose run goes on for more epochs than a run of its own here would.
"""

from __future__ import annotations


from playwright.sync_api import Page, expect

from tests.e2e.helpers import record_traffic, assert_no_exception, goto_page, nav_links, wait_for_app_run

PAGES = ["", "latent_map", "interpolate", "generate", "posterior", "train"]




def test_every_page_makes_only_local_requests_and_logs_no_console_error(page: Page, app_server: str):
    outside, failed, errors = record_traffic(page, app_server)
    goto_page(page, app_server)
    titles = [t for t, _ in nav_links(page)]
    assert len(titles) >= len(PAGES)
    # through the sidebar's links, as a user goes (a deep-link reload makes Streamlit's frontend probe
    # /<page>/_stcore/health, a 404 by design, before it finds the server's root)
    for title in titles + titles[:1]:
        page.get_by_test_id("stSidebarNav").locator("a").filter(has_text=title).first.click()
        wait_for_app_run(page, settle_ms=500)
        expect(page.get_by_test_id("stHeading").first).to_be_visible()
        assert_no_exception(page)

    # fast widget changes: new samples clicked several times without waiting for each run
    page.get_by_test_id("stSidebarNav").locator("a").filter(has_text="Generate").first.click()
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
