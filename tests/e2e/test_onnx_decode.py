"""In-browser decoding with onnxruntime-web (issue 22): an outside conv VAE whose decoder upsamples and
convolves (with batch norm), written into the test's tmp dir with its weights and opened as a user would,
`python -m streamlit run app.py -- --model FILE.py:build --weights W.safetensors --dataset digits`. The
hand-written JavaScript decoder cannot run it, so the Decode page sends decoder.onnx and onnxruntime-web
(WASM, served from the component's folder) decodes every move of a drag in the browser; every page opens.
The same model (milder weights) exported with `export-onnx --float16` (decoder.onnx with float16 weights),
zipped and uploaded to a hosted server (VAE_EXPLORER_HOSTED=1: no outside code), decodes in the browser too,
within 1/255 of the float32 torch model, and every page opens on it.
Screenshots go to $SHOTS_DIR (default /tmp/shots-onnx)."""

from __future__ import annotations

import importlib.util
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from playwright.sync_api import Page, expect
from safetensors.torch import save_file

from tests.e2e.helpers import (HANG_MS, app_console_errors, assert_no_exception, click_every_page, goto_page,
                               wait_for_app_run)

LIVE = "Object.values(window.__latentControl.instances)[0]"
THUMBS_IN = "s.painted() > 0 && s.thumbsDrawn() > 0"    # the digits map: drawn, then its thumbnails (in a rerun)
MOVES = 40
SHOTS = os.environ.get("SHOTS_DIR", "/tmp/shots-onnx")

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


def _outside_model(folder: Path, weight_scale: float):
    """(spec, weights path, the torch module with those weights): the model file and random weights N(0, scale^2)
    (batch-norm statistics too) written into `folder`."""
    path = folder / "upsample_vae.py"
    path.write_text(MODEL_SOURCE)
    model = _module(path)
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * weight_scale)
        model.dec[2].running_mean.uniform_(-0.2, 0.2, generator=g)
        model.dec[2].running_var.uniform_(0.5, 1.5, generator=g)
    weights = folder / "W.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    return f"{path}:build", weights, model


@pytest.fixture(scope="module")
def outside(tmp_path_factory):
    """Weights of scale 0.8: logits so steep that float16 weights would move a pixel by 1.2/255, so the app
    sends decoder.onnx with float32 weights (vae.browser_onnx, dtype "auto")."""
    return _outside_model(tmp_path_factory.mktemp("onnx-outside"), 0.8)


@pytest.fixture(scope="module")
def outside_float16(tmp_path_factory):
    """Weights of scale 0.6: float16 weights move a pixel by at most 0.24/255."""
    return _outside_model(tmp_path_factory.mktemp("onnx-outside-f16"), 0.6)


@pytest.fixture(scope="module")
def onnx_app(streamlit_app, outside) -> str:
    spec, weights, _ = outside
    # torch on one thread: the suite's two workers already keep the cores busy (a second thread only spins)
    return streamlit_app("app.py", args=["--model", spec, "--weights", str(weights), "--dataset", "digits"],
                         OMP_NUM_THREADS="1")


def _drag_decodes_in_the_browser(page: Page, model, dtype: str, live: str = LIVE) -> None:
    """On the Decode page: onnxruntime-web runs decoder.onnx; a drag of MOVES moves shows >= 30 distinct pictures,
    all decoded in the browser (no server request) by a decoder.onnx whose weights are `dtype`, and the last one
    is sigmoid(model.decode(z)) (float32 torch) to 1/255.
    `live`: JS for the latent control's test hook."""
    page.wait_for_function(f"() => window.__latentControl && {live} && {live}.ready() && {live}.stats().images > 0",
                           timeout=HANG_MS)
    assert page.evaluate(f"() => {live}.decoder()") == "onnx"
    assert page.evaluate(f"() => {live}.weightsDtype()") == dtype      # of decoder.onnx's weights

    expect(page.get_by_text("Decoded in your browser with onnxruntime-web", exact=False).first).to_be_visible()
    slider = page.locator(".lc-sliders input[type=range]").first
    slider.scroll_into_view_if_needed()
    page.evaluate(f"() => {live}.resetStats()")
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    x0, x1 = box["x"] + 0.1 * box["width"], box["x"] + 0.9 * box["width"]
    page.mouse.move(x0, y)
    page.mouse.down()
    seen = set()
    for i in range(1, MOVES + 1):        # a new picture after each move, before the release
        before = page.evaluate(f"() => {live}.canvasHash()")
        page.mouse.move(x0 + (x1 - x0) * i / MOVES, y)
        page.wait_for_function(f"(old) => {live}.canvasHash() !== old", arg=before, polling="raf")
        seen.add(page.evaluate(f"() => {live}.canvasHash()"))
    stats = page.evaluate(f"() => {live}.stats()")
    page.mouse.up()
    assert len(seen) >= 30, len(seen)
    assert stats["mode"] == "onnx" and stats["requests"] == 0 and stats["images"] >= 30, stats
    wait_for_app_run(page)
    assert page.evaluate(f"() => {live}.decoder()") == "onnx"
    # the picture is model.decode (sigmoid of the logits) of the point the page holds, to one grey level
    page.wait_for_function(f"() => {live}.settled()", polling="raf")
    z = np.asarray(page.evaluate(f"() => {live}.getZ()"), dtype=np.float32)
    assert np.any(z != 0)
    pixels = np.asarray(page.evaluate(f"() => {live}.readPixels()"), dtype=np.float64) / 255.0
    with torch.inference_mode():
        want = torch.sigmoid(model.decode(torch.as_tensor(z)[None]))[0].double().numpy().reshape(-1)
    assert np.abs(pixels - want).max() <= 1 / 255 + 1e-6


def test_decode_follows_a_drag_with_onnxruntime_web_and_every_page_opens(page: Page, onnx_app: str, outside):
    _, _, model = outside
    goto_page(page, onnx_app, "decode")
    _drag_decodes_in_the_browser(page, model, "float32")
    assert page.evaluate("() => window.__latentControl.weightPayloads") == 1
    assert_no_exception(page)
    assert app_console_errors(page) == []
    # every page opens on the outside upsample model, clicked in the sidebar (the same session, as a person goes)
    click_every_page(page, map_ready=THUMBS_IN)
    assert app_console_errors(page) == []


# ---- the same model exported to ONNX and uploaded to a hosted server: data, not code -----------------------

@pytest.fixture(scope="module")
def onnx_zip(outside_float16, tmp_path_factory) -> bytes:
    """`python -m vae export-onnx MODEL OUT --float16 --dataset digits` of the outside model (decoder.onnx with
    float16 weights), zipped as a user would."""
    from vae.cli import main

    spec, weights, _ = outside_float16
    out = tmp_path_factory.mktemp("onnx-export") / "out"
    assert main(["export-onnx", spec, str(out), "--weights", str(weights), "--dataset", "digits", "--float16"]) == 0
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in ("encoder.onnx", "decoder.onnx", "vae.json"):
            zf.write(out / name, name)
    return buf.getvalue()


def test_an_uploaded_onnx_model_decodes_in_the_browser_on_a_hosted_server(page: Page, streamlit_app,
                                                                          outside_float16, onnx_zip: bytes):
    _, _, model = outside_float16
    url = streamlit_app("app.py", VAE_EXPLORER_HOSTED="1")
    goto_page(page, url)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Upload a checkpoint").click()
    wait_for_app_run(page)
    sidebar.locator("input[type='file']").first.set_input_files(
        files=[{"name": "upsample-onnx.zip", "mimeType": "application/zip", "buffer": onnx_zip}])
    expect(sidebar.get_by_text("MB of ONNX graphs")).to_be_visible()
    wait_for_app_run(page)
    expect(sidebar.get_by_test_id("stAlertContentError")).to_have_count(0)
    expect(page.locator("input#lc-z-3")).to_be_visible()            # the uploaded model's 4 latent sliders
    # the bundled model's control came first (its weights: one payload); the upload's is the newest instance
    _drag_decodes_in_the_browser(page, model, "float16", "Object.values(window.__latentControl.instances).at(-1)")
    assert page.evaluate("() => window.__latentControl.weightPayloads") == 2
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=f"{SHOTS}/hosted-onnx-upload-decode.png", full_page=True)
    # ... each page still on the uploaded model (its sidebar's note)
    click_every_page(page, lambda _: expect(sidebar.get_by_text("MB of ONNX graphs")).to_be_visible(),
                     map_ready=THUMBS_IN)
    assert app_console_errors(page) == []
