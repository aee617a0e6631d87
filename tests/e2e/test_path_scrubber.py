"""Interpolate's scrubber in Chromium: the image follows a 2 s drag along the path, decoded in the
browser, and matches model.decode of the same point of the path (lerp and slerp)."""

from __future__ import annotations

import numpy as np
import torch
from playwright.sync_api import Page, expect

from tests.e2e.helpers import app_console_errors, assert_no_exception, goto_page, sweep_drag
from vae import load_model
from vae.analysis.latent import slerp
from vae.ui.components.latent_control.scrubber import path_point

HOOK = "Object.values(window.__pathScrubber.instances)[0]"


def test_scrubbing_the_path_decodes_in_the_browser_like_model_decode(page: Page, app_server: str, assets_dir):
    goto_page(page, app_server, "interpolate?model=digits-2d")
    expect(page.get_by_role("heading", name="Scrub along the path")).to_be_visible()
    page.wait_for_function(f"() => window.__pathScrubber && {HOOK} && {HOOK}.ready() && {HOOK}.images() > 0")
    expect(page.locator(".ps-status")).to_contain_text("decoded in your browser")
    # a 2 s drag: a new image nearly every frame
    page.evaluate(f"() => {{ const h = {HOOK}; window.__seen = new Set([h.canvasHash()]); window.__on = true;"
                  " const loop = () => { if (!window.__on) return; window.__seen.add(h.canvasHash());"
                  " requestAnimationFrame(loop); }; requestAnimationFrame(loop); }")
    slider = page.locator("input.ps-t")
    slider.scroll_into_view_if_needed()
    sweep_drag(page, slider, 2.0)
    distinct = page.evaluate("() => { window.__on = false; return window.__seen.size - 1; }")
    assert distinct >= 20, f"only {distinct} distinct images during a 2 s drag"
    # the release hands t to Python (the caption follows)
    t_final = page.evaluate(f"() => {HOOK}.getT()")
    expect(page.get_by_text(f"t = {t_final:.3f} at the last release")).to_be_visible()
    # parity with model.decode at points of the path the page drew (its endpoints and method)
    model = load_model(assets_dir / "digits-2d")
    path = page.evaluate(f"() => {HOOK}.path()")
    za, zb, kind = np.asarray(path["z_a"]), np.asarray(path["z_b"]), path["kind"]
    assert kind == "slerp"                                      # the page's default method
    np.testing.assert_allclose(path_point(za, zb, "slerp", 0.25), slerp(za, zb, 5)[1], atol=1e-6)
    for t in (0.0, 0.25, 0.5, 0.9, 1.0):
        page.evaluate(f"(t) => {HOOK}.setT(t)", t)
        pixels = np.asarray(page.evaluate(f"() => {HOOK}.readPixels()"), dtype=np.float64) / 255.0
        z = torch.as_tensor(path_point(za, zb, kind, t), dtype=torch.float32)[None]
        with torch.inference_mode():
            want = model.decode(z)[0].double().numpy().reshape(-1)
        assert np.abs(pixels - want).max() <= 1 / 255 + 1e-6, t
    assert_no_exception(page)
    assert app_console_errors(page) == []
