"""A reload keeps what a person set, and a link carries each page's own settings (issue 27: F5 reset the model
to the default and dropped the Decode point and saved directions; a Generate link made at seed 7 reopened
at seed 0)."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    HANG_MS,
    app_console_errors,
    assert_no_exception,
    choose_checkpoint,
    goto_page,
    move_first_latent_to_0_3,
    wait_for_app_run,
)
from vae.ui.hosting.owner import COOKIE

SHOTS = Path(__file__).parent / "screenshots"
LIVE = "Object.values(window.__latentControl.instances)[0]"


def _decode_ready(page: Page) -> None:
    page.wait_for_function(f"() => window.__latentControl && {LIVE} && {LIVE}.ready()")


def _nav(page: Page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    wait_for_app_run(page)


def test_a_reload_keeps_the_model_the_decode_point_and_the_generate_seed(page: Page, app_server: str, browser):
    goto_page(page, app_server, "")
    choose_checkpoint(page, "digits-2d", "digits")
    _decode_ready(page)
    move_first_latent_to_0_3(page)
    _nav(page, "Generate")
    seed = page.get_by_label("Seed", exact=True)
    seed.fill("7")
    seed.press("Enter")
    wait_for_app_run(page)
    expect(page.get_by_text(re.compile(r"samples from the prior, temperature 1, seed 7"))).to_be_visible()

    page.wait_for_function(f"() => document.cookie.includes('{COOKIE}=')")   # the browser holds its cookie
    page.reload()                                           # F5: a new session in the same browser
    wait_for_app_run(page)
    expect(page.get_by_label("Seed", exact=True)).to_have_value("7")
    expect(page.get_by_test_id("stSidebar").get_by_role("combobox", name="Checkpoint")).to_have_value("digits-2d")
    assert "seed=7" in page.url and "model=digits-2d" in page.url, page.url     # the address shows the view
    _nav(page, "Decode")
    _decode_ready(page)
    expect(page.locator("input#lc-z-0")).to_have_value(re.compile(r"^0\.30?$"))
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "decode-after-reload.png"))

    # the link made on Generate carries its seed into another browser (no memory of this one there)
    _nav(page, "Generate")
    page.get_by_test_id("stSidebar").get_by_role("button", name="Link to this view").click()
    wait_for_app_run(page)
    link = page.get_by_test_id("stSidebar").get_by_test_id("stCode").inner_text().strip()
    assert "seed=7" in link and "/generate" in link, link
    other_context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        other = other_context.new_page()
        other.set_default_timeout(HANG_MS)
        other.goto(link)
        wait_for_app_run(other)
        expect(other.get_by_label("Seed", exact=True)).to_have_value("7")
        expect(other.get_by_text(re.compile(r"temperature 1, seed 7"))).to_be_visible()
        assert_no_exception(other)
        # the same browser context, opened again without a link: its own memory (once it holds its cookie)
        other.wait_for_function(f"() => document.cookie.includes('{COOKIE}=')")
        goto_page(other, app_server, "generate")
        expect(other.get_by_label("Seed", exact=True)).to_have_value("7")
    finally:
        other_context.close()
    # a fresh browser with no link opens on the defaults: the memory is each browser's own
    fresh_context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        fresh = fresh_context.new_page()
        fresh.set_default_timeout(HANG_MS)
        goto_page(fresh, app_server, "generate")
        expect(fresh.get_by_label("Seed", exact=True)).to_have_value("0")
    finally:
        fresh_context.close()
    assert_no_exception(page)
    assert app_console_errors(page) == []
