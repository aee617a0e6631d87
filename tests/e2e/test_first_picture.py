"""The first second (issue 24): a fresh server's first Decode page draws the default model's picture from its
files before torch is imported (vae.ui.decode.first_picture), then gives way to the page's own control.

A server of its own with VAE_FIRST_PICTURE=1 (the other e2e servers turn it off) and the UMAP warm-up on, as
a user gets a fresh server. Screenshots go to $SHOTS_DIR (default /tmp/shots-first-picture)."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.conftest import StreamlitServer
from tests.e2e.helpers import (app_console_errors, assert_no_exception, click_every_page, shoot_each_page,
                               wait_for_app_run)

SHOTS = Path(os.environ.get("SHOTS_DIR", "/tmp/shots-first-picture"))
HOOK = "window.__latentControl && window.__latentControl.instances"
HAS_PIXELS = "k => !!({hook}) && !!{hook}[k] && {hook}[k].readPixels().some(v => v > 0)".format(hook=HOOK)


def test_the_first_picture_comes_before_torch_and_gives_way_to_the_page(page: Page):
    server = StreamlitServer("app.py", {"VAE_FIRST_PICTURE": "1", "VAE_WARMUP": "1"})
    try:
        page.goto(server.url)
        page.wait_for_function(HAS_PIXELS, arg="dec_first_picture")          # the early control's picture
        SHOTS.mkdir(parents=True, exist_ok=True)
        wait_for_app_run(page)
        page.screenshot(path=str(SHOTS / "decode-complete.png"))
        # the page as on any other run: one title, the page's own control drawing, the early one gone
        expect(page.get_by_role("heading", name="Decode a latent point")).to_have_count(1)
        expect(page.locator(".st-key-dec_first_picture")).to_have_count(0)
        expect(page.get_by_text("Traversals")).to_be_visible()
        page_key = page.evaluate(f"Object.keys({HOOK}).find(k => k.startsWith('dec_latent_'))")
        assert page_key, page.evaluate(f"Object.keys({HOOK})")
        page.wait_for_function(HAS_PIXELS, arg=page_key)
        assert_no_exception(page)
        # every page of the fresh server, through the sidebar's links, its warm-up running: no exception anywhere
        click_every_page(page, shoot_each_page(page, SHOTS, "walk-"))
        assert not app_console_errors(page), app_console_errors(page)
        assert "Traceback" not in server.output(), server.output()[-3000:]
    finally:
        server.close()
