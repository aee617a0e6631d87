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


def test_the_pad_moves_the_two_dimensions_picked_for_it(page: Page, app_server: str):
    """Issue 27: the pad always drove the two dimensions of most KL. Pick z3 and z8 for it, drag it to the
    top-right: z3 and z8 (their sliders and the point the server holds) move, no other dimension does."""
    from tests.e2e.helpers import choose_option, wait_for_app_run

    goto_page(page, app_server, "decode?model=shapes-8d")
    page.wait_for_function(f"() => window.__latentControl && {LIVE} && {LIVE}.ready() && {LIVE}.stats().images > 0")
    pad = page.locator("canvas.lc-pad")
    choose_option(page, page.get_by_test_id("stSelectbox").filter(has_text="Pad →"), "z3 · KL")
    wait_for_app_run(page)
    choose_option(page, page.get_by_test_id("stSelectbox").filter(has_text="Pad ↑"), "z8 · KL")
    wait_for_app_run(page)
    expect(pad).to_have_attribute("aria-label", "Pad over z3 (left-right) and z8 (down-up)")
    expect(page.locator(".lc-row.lc-on-pad")).to_have_count(2)
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    for k in range(1, 21):                       # towards the top-right corner: z3 up, z8 up
        page.mouse.move(box["x"] + box["width"] * (0.5 + k / 80), box["y"] + box["height"] * (0.5 - k / 80))
    page.mouse.up()
    values = [float(page.locator(f"input#lc-z-{d}").input_value()) for d in range(8)]
    assert values[2] > 0.5 and values[7] > 0.5, values
    assert [v for d, v in enumerate(values) if d not in (2, 7)] == [0.0] * 6, values
    # the released point reaches the server: the traversals' caption names it
    caption = page.get_by_text(re.compile(r"the others held at the current point z = \["))
    want = ", ".join(f"{v:.2f}" for v in values)
    expect(caption).to_contain_text(f"z = [{want}]")
    assert_no_exception(page)
    assert app_console_errors(page) == []
