"""The Decode page in Chromium: a key press on the live control moves the traversal grid with it
(no Refresh button), and the legend explains the pad's marks."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.helpers import app_console_errors, assert_no_exception, goto_page

LIVE = "Object.values(window.__latentControl.instances)[0]"


def test_traversal_grid_follows_a_key_press(page: Page, app_server: str):
    goto_page(page, app_server)
    page.wait_for_function(f"() => window.__latentControl && {LIVE} && {LIVE}.ready() && {LIVE}.stats().images > 0")
    caption = page.get_by_text(re.compile(r"each row sweeps its dimension"))
    expect(caption).to_contain_text("z = [0.00, 0.00]")
    expect(page.locator(".lc-legend")).to_contain_text("on the pad")
    slider = page.locator(".lc-sliders input[type=range]").first
    dim = int(slider.get_attribute("data-dim"))
    slider.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    want = ["0.00", "0.00"]
    want[dim] = "0.30"
    expect(caption).to_contain_text(f"z = [{want[0]}, {want[1]}]")
    expect(page.get_by_role("button", name=re.compile("Refresh"))).to_have_count(0)
    assert_no_exception(page)
    assert app_console_errors(page) == []
