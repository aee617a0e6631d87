"""An outside model (tests/outside_vaes.py:build_conv, an upsample-and-convolve decoder) in a real Chromium:
named by VAE_EXPLORER_MODEL as `-- --model` would, every page opens on it without an exception box, and the
Decode page's image follows a drag on the pad: decoded on the server when onnxruntime-web cannot start in
the browser (its .wasm blocked here), the page saying so in one line. The ONNX path itself: test_onnx_decode.py."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.helpers import (HANG_MS, app_console_errors, assert_no_exception, click_every_page, goto_page,
                               shoot_each_page, wait_for_app_run)

REPO = Path(__file__).resolve().parents[2]
SPEC = f"{REPO / 'tests' / 'outside_vaes.py'}:build_conv"
SHOTS = os.environ.get("VAE_E2E_SCREENSHOTS") == "1"
SHOTS_DIR = REPO / "tests" / "e2e" / "screenshots"
LIVE = "Object.values(window.__latentControl.instances)[0]"


def _server(streamlit_app) -> str:
    # torch on one thread: the suite's two workers already keep the cores busy (a second thread only spins)
    return streamlit_app("app.py", VAE_EXPLORER_MODEL=SPEC, VAE_EXPLORER_DATASET="mnist", OMP_NUM_THREADS="1")


def test_decode_falls_back_to_the_server_then_every_page_opens_on_an_outside_model(page: Page, streamlit_app):
    """With onnxruntime-web's .wasm blocked the ONNX session fails; the server decodes instead, the page says
    why in one line, and the pad, dragged, redraws the image after each move. Then every page opens on the
    outside model (its name and latent size in the sidebar) without an exception box."""
    url = _server(streamlit_app)
    page.route("**/ort-wasm-simd-threaded.wasm", lambda route: route.abort())
    goto_page(page, url)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("outside_vaes.py:build_conv").first).to_be_visible()
    expect(sidebar.get_by_text("outside, 6-d latent", exact=False)).to_be_visible()
    page.wait_for_function(f"() => window.__latentControl && {LIVE} && {LIVE}.mode() === 'server' && "
                           f"{LIVE}.ready() && {LIVE}.stats().images > 0", timeout=HANG_MS)
    expect(page.get_by_text("Decoded on the server as you move: the browser could not run it",
                            exact=False)).to_be_visible()
    wait_for_app_run(page)                 # the rerun that moved the control to the server has ended
    expect(page.locator("canvas.lc-pad")).to_have_count(1)
    pad = page.locator("canvas.lc-pad").bounding_box()
    x, y = pad["x"] + pad["width"] * 0.3, pad["y"] + pad["height"] * 0.5
    page.mouse.move(x, y)
    page.mouse.down()
    seen = {page.evaluate(f"() => {LIVE}.canvasHash()")}
    for _ in range(8):          # a new picture after each move, before the release (counted per move, not per second)
        before = page.evaluate(f"() => {LIVE}.canvasHash()")
        x += pad["width"] * 0.05
        page.mouse.move(x, y)
        page.wait_for_function(f"(old) => {LIVE}.canvasHash() !== old", arg=before, polling="raf")
        seen.add(page.evaluate(f"() => {LIVE}.canvasHash()"))
    page.mouse.up()
    assert len(seen) >= 5      # every move gave a new picture (the waits above); most of them distinct
    wait_for_app_run(page)
    assert_no_exception(page)
    errors = app_console_errors(page)      # the blocked .wasm's own messages only
    assert [e for e in errors if not any(w in e.lower() for w in ("wasm", "backend", "arraybuffer"))] == [], errors

    # every page, through the sidebar's links (VAE_E2E_SCREENSHOTS=1: a picture of each, tests/e2e/screenshots/,
    # ignored); the .wasm unblocked, so that no message of its own is left to excuse
    page.unroute("**/ort-wasm-simd-threaded.wasm")
    page.console_errors.clear()
    click_every_page(page, shoot_each_page(page, SHOTS_DIR if SHOTS else None, prefix="outside-"))
    assert app_console_errors(page) == []
