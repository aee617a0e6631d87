"""The Decode page on the bundled conv model (assets/mnist-conv, or $VAE_CONV_CHECKPOINT) in Chromium:
the decoder runs in the browser, follows a 2 s drag with a new image nearly every frame, and the
image at the end is model.decode of the point the page holds. Skipped until a conv model is bundled."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from playwright.sync_api import Page, expect

from tests.e2e.helpers import app_console_errors, assert_no_exception, drag_with_new_images, goto_page, wait_for_app_run
from vae import load_model

REPO = Path(__file__).resolve().parents[2]
CONV = Path(os.environ.get("VAE_CONV_CHECKPOINT", REPO / "assets" / "mnist-conv"))
LIVE = "Object.values(window.__latentControl.instances)[0]"


@pytest.fixture(scope="module")
def conv_app(streamlit_app, tmp_path_factory) -> str:
    if not (CONV / "config.json").is_file():
        pytest.skip(f"no bundled conv model at {CONV}")
    assets = tmp_path_factory.mktemp("conv-assets")
    (assets / "mnist-conv").symlink_to(CONV.resolve())        # the only bundled model: the app opens on it
    return streamlit_app("app.py", VAE_ASSETS_DIR=str(assets))


def test_bundled_conv_model_follows_a_drag_in_the_browser(page: Page, conv_app: str):
    model = load_model(CONV).eval()
    assert model.config.arch == "conv"
    goto_page(page, conv_app, "decode", timeout=180_000)
    page.wait_for_function(f"() => window.__latentControl && {LIVE} && {LIVE}.ready() && {LIVE}.stats().images > 0")
    assert page.evaluate(f"() => {LIVE}.mode()") == "browser"
    expect(page.get_by_text("Decoded in your browser: the decoder's weights").first).to_be_visible()
    slider = page.locator(".lc-sliders input[type=range]").first
    slider.scroll_into_view_if_needed()
    drag_with_new_images(page, slider, LIVE, moves=24)     # a new image each move, before the release
    wait_for_app_run(page)
    z = np.asarray(page.evaluate(f"() => {LIVE}.getZ()"), dtype=np.float32)
    assert np.any(z != 0)
    pixels = np.asarray(page.evaluate(f"() => {LIVE}.readPixels()"), dtype=np.float64) / 255.0
    with torch.inference_mode():
        want = model.decode(torch.as_tensor(z)[None])[0].double().numpy().reshape(-1)
    assert np.abs(pixels - want).max() <= 1 / 255 + 1e-9
    # the weights came once, however many reruns the drag's release caused
    assert page.evaluate("() => window.__latentControl.weightPayloads") == 1
    assert_no_exception(page)
    assert app_console_errors(page) == []
