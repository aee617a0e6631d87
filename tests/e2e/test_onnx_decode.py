"""In-browser decoding with onnxruntime-web (issue 22): an outside conv VAE whose decoder upsamples and
convolves (with batch norm), written into the test's tmp dir with its weights and opened as a user would,
`python -m streamlit run app.py -- --model FILE.py:build --weights W.safetensors --dataset digits`. The
hand-written JavaScript decoder cannot run it, so the Decode page sends decoder.onnx and onnxruntime-web
(WASM, served from the component's folder) decodes every move of a drag in the browser; every page opens."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from playwright.sync_api import Page, expect
from safetensors.torch import save_file

from tests.e2e.helpers import (HANG_MS, app_console_errors, assert_no_exception, goto_page, open_every_page,
                               wait_for_app_run)

LIVE = "Object.values(window.__latentControl.instances)[0]"
MOVES = 40

MODEL_SOURCE = '''
import torch
import torch.nn as nn
import torch.nn.functional as F


class UpsampleDigitsVAE(nn.Module):
    """8x8 digits: conv encoder; decoder fc -> (8, 2, 2) -> [upsample x2, conv 3x3, BN, LeakyReLU]
    -> [upsample x2, conv 3x3] -> logits (1, 8, 8)."""

    latent_dim = 4
    image_shape = (1, 8, 8)
    likelihood = "bernoulli"

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 8))
        self.fc = nn.Linear(4, 8 * 2 * 2)
        self.dec = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(8, 8, 3, padding=1),
                                 nn.BatchNorm2d(8), nn.LeakyReLU(0.1),
                                 nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(8, 1, 3, padding=1))

    def encode(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z):
        return self.dec(F.relu(self.fc(z)).view(-1, 8, 2, 2))


def build():
    return UpsampleDigitsVAE()
'''


def _module(path):
    spec = importlib.util.spec_from_file_location("onnx_decode_outside", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.build().eval()


@pytest.fixture(scope="module")
def outside(tmp_path_factory):
    """(spec, weights path, the torch module with those weights) in a fresh tmp dir."""
    d = tmp_path_factory.mktemp("onnx-outside")
    path = d / "upsample_vae.py"
    path.write_text(MODEL_SOURCE)
    model = _module(path)
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.8)
        model.dec[2].running_mean.uniform_(-0.2, 0.2, generator=g)
        model.dec[2].running_var.uniform_(0.5, 1.5, generator=g)
    weights = d / "W.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    return f"{path}:build", weights, model


@pytest.fixture(scope="module")
def onnx_app(streamlit_app, outside) -> str:
    spec, weights, _ = outside
    return streamlit_app("app.py", args=["--model", spec, "--weights", str(weights), "--dataset", "digits"])


def test_decode_follows_a_drag_with_onnxruntime_web(page: Page, onnx_app: str, outside):
    _, _, model = outside
    goto_page(page, onnx_app, "decode")
    page.wait_for_function(f"() => window.__latentControl && {LIVE} && {LIVE}.ready() && {LIVE}.stats().images > 0",
                           timeout=HANG_MS)
    assert page.evaluate(f"() => {LIVE}.decoder()") == "onnx"
    expect(page.get_by_text("Decoded in your browser with onnxruntime-web", exact=False).first).to_be_visible()
    slider = page.locator(".lc-sliders input[type=range]").first
    slider.scroll_into_view_if_needed()
    page.evaluate(f"() => {LIVE}.resetStats()")
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    x0, x1 = box["x"] + 0.1 * box["width"], box["x"] + 0.9 * box["width"]
    page.mouse.move(x0, y)
    page.mouse.down()
    seen = set()
    for i in range(1, MOVES + 1):        # a new picture after each move, before the release
        before = page.evaluate(f"() => {LIVE}.canvasHash()")
        page.mouse.move(x0 + (x1 - x0) * i / MOVES, y)
        page.wait_for_function(f"(old) => {LIVE}.canvasHash() !== old", arg=before, polling="raf")
        seen.add(page.evaluate(f"() => {LIVE}.canvasHash()"))
    stats = page.evaluate(f"() => {LIVE}.stats()")
    page.mouse.up()
    assert len(seen) >= 30, len(seen)
    assert stats["mode"] == "onnx" and stats["requests"] == 0 and stats["images"] >= 30, stats
    wait_for_app_run(page)
    assert page.evaluate(f"() => {LIVE}.decoder()") == "onnx"
    # the picture is model.decode (sigmoid of the logits) of the point the page holds, to one grey level
    page.wait_for_function(f"() => {LIVE}.settled()", polling="raf")
    z = np.asarray(page.evaluate(f"() => {LIVE}.getZ()"), dtype=np.float32)
    assert np.any(z != 0)
    pixels = np.asarray(page.evaluate(f"() => {LIVE}.readPixels()"), dtype=np.float64) / 255.0
    with torch.inference_mode():
        want = torch.sigmoid(model.decode(torch.as_tensor(z)[None]))[0].double().numpy().reshape(-1)
    assert np.abs(pixels - want).max() <= 1 / 255 + 1e-6
    assert page.evaluate("() => window.__latentControl.weightPayloads") == 1
    assert_no_exception(page)
    assert app_console_errors(page) == []


def test_every_page_opens_on_the_outside_upsample_model(page: Page, onnx_app: str):
    goto_page(page, onnx_app)
    open_every_page(page)
    assert app_console_errors(page) == []
