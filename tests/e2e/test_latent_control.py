"""The latent control in a real Chromium: the image follows a drag, the browser's decoder agrees with
model.decode, the keyboard works, and a released drag hands z to Python.

Runs tests/e2e/apps/latent_control_app.py (?arch=mlp or ?arch=conv decode in the browser; &decode=server
decodes on the server).
"""

from __future__ import annotations

import copy

import json
import re

import numpy as np
import pytest
import torch
from playwright.sync_api import Page, expect

from tests.e2e.apps.latent_control_app import make_demo_model
from tests.e2e.helpers import HANG_MS, app_console_errors, assert_no_exception, drag_with_new_images, goto_page

APP = "tests/e2e/apps/latent_control_app.py"
KEY = "lc"  # the component's key in the app
HOOK = f"window.__latentControl.instances.{KEY}"


# Streamlit runs gc.collect(2) after every script run, fragment runs included (60-100 ms with torch
# loaded, holding the GIL), which caps server-side decoding at a few images a second; the app turns
# it off in .streamlit/config.toml ([runner] postScriptGC = false), and so does this server.
NO_POST_SCRIPT_GC = {"STREAMLIT_RUNNER_POST_SCRIPT_GC": "false"}
# the server's torch on one thread: the suite's two workers already keep the cores busy (a second thread only spins)
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def app_url(streamlit_app) -> str:
    return streamlit_app(APP, **NO_POST_SCRIPT_GC, **ONE_THREAD)


def open_app(page: Page, url: str, arch: str, decode: str = "auto") -> None:
    goto_page(page, url, f"?arch={arch}&decode={decode}")
    page.wait_for_function(f"() => window.__latentControl && {HOOK} && {HOOK}.ready()")
    page.wait_for_function(f"() => {HOOK}.stats().images > 0")


def shown_z(page: Page) -> list[float]:
    """The z that Python holds (the app prints it in a code block)."""
    return json.loads(page.get_by_test_id("stCode").inner_text())


def start_sampling(page: Page) -> None:
    """Hash the canvas every animation frame, in the page, into a set of distinct images."""
    page.evaluate(f"""() => {{
        const h = {HOOK};
        window.__lcSeen = new Set([h.canvasHash()]);
        window.__lcSampling = true;
        const loop = () => {{ if (!window.__lcSampling) return;
                             window.__lcSeen.add(h.canvasHash()); requestAnimationFrame(loop); }};
        requestAnimationFrame(loop);
    }}""")


def stop_sampling(page: Page) -> int:
    """Number of new distinct images seen since start_sampling."""
    return page.evaluate("() => { window.__lcSampling = false; return window.__lcSeen.size - 1; }")


def wait_for_canvas(page: Page, model, z: np.ndarray, timeout: float = HANG_MS) -> float:
    """Wait until the canvas shows model.decode(z) (the component draws on its next animation frame,
    after getZ() already reports z); return max |pixel/255 - decode| of the last look."""
    with torch.inference_mode():
        want = model.decode(torch.as_tensor(np.asarray(z, dtype=np.float32))[None])[0].double().numpy().reshape(-1)
    try:
        page.wait_for_function(
            f"""([want, tol]) => {{ const px = {HOOK}.readPixels();
                return px.length === want.length && px.every((v, i) => Math.abs(v / 255 - want[i]) <= tol); }}""",
            arg=[want.tolist(), 1 / 255 + 1e-9], timeout=timeout)
    except Exception:  # noqa: BLE001 - the assertion below reports how far off it stayed
        pass
    pixels = np.asarray(page.evaluate(f"() => {HOOK}.readPixels()"), dtype=np.float64) / 255.0
    return float(np.abs(pixels - want).max())


def canvas_vs_decode(page: Page, model, z: np.ndarray) -> float:
    """Set z through the component, read the canvas back, return max |pixel/255 - model.decode(z)|."""
    page.evaluate(f"(z) => {HOOK}.setZ(z)", [float(v) for v in z])
    pixels = np.asarray(page.evaluate(f"() => {HOOK}.readPixels()"), dtype=np.float64) / 255.0
    with torch.inference_mode():
        want = model.decode(torch.as_tensor(z, dtype=torch.float32)[None])[0].double().numpy().reshape(-1)
    return float(np.abs(pixels - want).max())


def test_drag_redraws_every_frame_in_the_browser_and_release_returns_z(page: Page, app_url: str):
    open_app(page, app_url, "mlp")
    assert page.evaluate(f"() => {HOOK}.mode()") == "browser"
    expect(page.get_by_text("commits: 0")).to_be_visible()
    # 24 moves with the button held: each one draws a new image before the release reaches Python
    final = drag_with_new_images(page, page.locator("input#lc-z-0"), HOOK, moves=24)
    # the release commits once, and Python now holds the slider's value
    expect(page.get_by_text("commits: 1")).to_be_visible()
    assert shown_z(page)[0] == pytest.approx(final, abs=1e-4)
    assert shown_z(page)[1:] == [0.0] * 19
    assert app_console_errors(page) == []


def test_pad_drags_two_dimensions_at_once(page: Page, app_url: str):
    open_app(page, app_url, "mlp")
    pad = page.locator("canvas.lc-pad")
    expect(pad).to_have_attribute("aria-label", "Pad over z1 (left-right) and z2 (down-up)")
    box = pad.bounding_box()
    start_sampling(page)
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    for k in range(1, 31):  # towards the top-right corner: z0 up, z1 up
        page.mouse.move(box["x"] + box["width"] * (0.5 + k / 80), box["y"] + box["height"] * (0.5 - k / 80))
    page.mouse.up()
    assert stop_sampling(page) >= 10
    expect(page.get_by_text("commits: 1")).to_be_visible()
    z = shown_z(page)
    assert z[0] == pytest.approx(3 * 2 * 30 / 80, abs=0.05) and z[1] == pytest.approx(z[0], abs=0.05)
    assert z[2:] == [0.0] * 18
    assert app_console_errors(page) == []


def test_browser_decoder_matches_model_decode_for_every_architecture(page: Page, app_url: str):
    model = make_demo_model("mlp")
    open_app(page, app_url, "mlp")
    rng = np.random.default_rng(0)
    zs = [np.zeros(20), rng.normal(size=20), 2.5 * rng.normal(size=20), np.full(20, -3.0), np.full(20, 3.0)]
    sent = copy.deepcopy(model)
    if page.evaluate(f"() => {HOOK}.weightsDtype()") == "float16":
        with torch.no_grad():
            for p in sent.decoder.parameters():
                p.copy_(p.half().float())
    for z in zs:
        z = z.astype(np.float32)
        assert canvas_vs_decode(page, model, z) <= 1 / 255 + 1e-9
        # the JS decoder's floats, before quantisation, agree to float32 rounding with model.decode of the
        # weights as sent (float16 when that kept every pixel within 1/255: vae.browser_decoder.float16_parity)
        js = np.asarray(page.evaluate(f"(z) => {HOOK}.decode(z)", [float(v) for v in z]))
        with torch.inference_mode():
            want = sent.decode(torch.as_tensor(z)[None])[0].numpy().reshape(-1)
        np.testing.assert_allclose(js, want, atol=1e-5)
    assert app_console_errors(page) == []
    # the same page: every architecture the library builds (test hook decodeWith, no change to the control)
    _every_architecture_decodes_like_model_decode(page)


def test_keyboard_moves_the_focused_slider_and_the_image(page: Page, app_url: str):
    open_app(page, app_url, "mlp")
    slider = page.locator("input#lc-z-2")
    expect(slider).to_have_accessible_name("z3 · KL 2.68 nats")
    expect(slider).to_have_attribute("aria-valuetext", "z3 = 0.00")
    before = page.evaluate(f"() => {HOOK}.canvasHash()")
    slider.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(slider).to_have_attribute("aria-valuetext", "z3 = 0.20")
    assert float(slider.input_value()) == pytest.approx(0.2)
    page.wait_for_function(f"(h) => {HOOK}.canvasHash() !== h", arg=before)
    # the presses are committed (debounced: once when they come quickly) and Python holds the value
    expect(page.get_by_test_id("stCode")).to_contain_text("[0.0, 0.0, 0.2, 0.0,")
    assert shown_z(page)[2] == pytest.approx(0.2)
    # inactive dimensions are folded away by default, and marked in their label
    fold = page.locator("details.lc-fold")
    expect(fold.locator("summary")).to_have_text("2 inactive dimensions")
    expect(page.locator("input#lc-z-19")).to_be_hidden()
    fold.locator("summary").click()
    expect(page.locator("input#lc-z-19")).to_be_visible()
    expect(page.locator("input#lc-z-19")).to_have_accessible_name("z20 · KL 0.00 nats inactive")
    # the legend explains the pad's marks and the inactive tag
    expect(page.locator(".lc-legend")).to_contain_text("on the pad")
    expect(page.locator(".lc-row.lc-on-pad")).to_have_count(2)
    assert app_console_errors(page) == []


def test_python_moves_z_and_weights_are_sent_once(page: Page, app_url: str):
    model = make_demo_model("mlp")
    open_app(page, app_url, "mlp")
    assert page.evaluate("() => window.__latentControl.weightPayloads") == 1
    page.get_by_role("button", name="Set z to 0.5").click()
    expect(page.locator("input#lc-z-7")).to_have_attribute("aria-valuetext", "z8 = 0.50")
    page.wait_for_function(f"() => {HOOK}.getZ().every(v => v === 0.5)")
    assert wait_for_canvas(page, model, np.full(20, 0.5)) <= 1 / 255 + 1e-9
    # reruns after the first do not re-send the decoder's weights
    assert page.evaluate("() => window.__latentControl.weightPayloads") == 1
    # a browser that lost them (cache evicted) asks again and gets them
    page.evaluate("() => window.__latentControlWeights.clear()")
    page.locator("input#lc-z-7").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_text("commits: 1")).to_be_visible()
    page.wait_for_function("() => window.__latentControl.weightPayloads === 2")
    page.wait_for_function(f"() => {HOOK}.ready()")
    assert canvas_vs_decode(page, model, np.asarray(shown_z(page), dtype=np.float32)) <= 1 / 255 + 1e-9
    assert_no_exception(page)
    assert app_console_errors(page) == []


def test_conv_decoder_follows_a_drag_in_the_browser_and_matches_model_decode(page: Page, app_url: str):
    model = make_demo_model("conv")
    open_app(page, app_url, "conv")
    assert page.evaluate(f"() => {HOOK}.mode()") == "browser"
    expect(page.locator(".lc-status")).to_contain_text("decoded in your browser")
    final = drag_with_new_images(page, page.locator("input#lc-z-0"), HOOK, moves=24)   # a new image each move
    expect(page.get_by_text("commits: 1")).to_be_visible()
    z = np.asarray(shown_z(page), dtype=np.float32)
    assert z[0] == pytest.approx(final, abs=1e-4)
    pixels = np.asarray(page.evaluate(f"() => {HOOK}.readPixels()"), dtype=np.float64) / 255.0
    with torch.inference_mode():
        want = model.decode(torch.as_tensor(z)[None])[0].double().numpy().reshape(-1)
    assert np.abs(pixels - want).max() <= 1 / 255 + 1e-9
    rng = np.random.default_rng(1)
    for z in [rng.normal(size=8), np.full(8, -4.0), np.full(8, 4.0)]:
        assert canvas_vs_decode(page, model, z.astype(np.float32)) <= 1 / 255 + 1e-9
    assert page.evaluate("() => window.__latentControl.weightPayloads") == 1
    assert app_console_errors(page) == []


CONV_ARCHS = [dict(arch="conv", image_size=28, channels=1, conv_channels=(32, 64), hidden=(256,)),
              dict(arch="conv", image_size=32, channels=3, conv_channels=(8, 16), hidden=(32,), activation="tanh"),
              dict(arch="conv", image_size=64, channels=3, conv_channels=(8, 8, 16), hidden=(32,),
                   likelihood="gaussian"),
              dict(arch="conv", image_size=64, channels=1, conv_channels=(8, 16), hidden=(32, 16),
                   activation="tanh", likelihood="gaussian", gaussian_sigma=None),
              dict(arch="mlp", image_size=28, channels=1, hidden=(64, 32), activation="tanh")]


def _every_architecture_decodes_like_model_decode(page: Page) -> None:
    """The browser's JavaScript decoder (the one the control runs, open on the page) against model.decode, every
    pixel within 1/255 (and the floats to 1e-5), random and extreme z, each architecture the library builds."""
    from vae import VAE, ModelConfig
    from vae.browser_decoder import export_decoder

    for i, kw in enumerate(CONV_ARCHS):
        torch.manual_seed(i)
        model = VAE(ModelConfig(latent_dim=6, **kw)).eval()
        with torch.no_grad():   # contrast: logits far from 0, so the sigmoid's rounding is exercised
            last = model.decoder.deconvs[-1] if kw["arch"] == "conv" else model.decoder.net[-1]
            last.weight.mul_(6.0)
        rng = np.random.default_rng(i)
        zs = np.concatenate([rng.normal(size=(4, 6)) * 1.5, np.full((1, 6), 4.0), np.full((1, 6), -4.0),
                             np.eye(6)[:2] * 8]).astype(np.float32)
        got = np.asarray(page.evaluate(f"([e, zs]) => {HOOK}.decodeWith(e, zs)",
                                       [export_decoder(model), zs.tolist()]), dtype=np.float64)
        with torch.inference_mode():
            want = model.decode(torch.as_tensor(zs)).reshape(len(zs), -1).double().numpy()
        np.testing.assert_allclose(got, want, atol=1e-5, err_msg=str(kw))
        assert np.abs(np.round(got * 255) - np.round(want * 255)).max() <= 1, kw
    assert app_console_errors(page) == []


def test_server_decoding_follows_the_drag_as_the_fallback(page: Page, app_url: str):
    model = make_demo_model("conv")
    open_app(page, app_url, "conv", decode="server")
    assert page.evaluate(f"() => {HOOK}.mode()") == "server"
    # the benchmark reports the real rate; here: images do arrive during the drag, not only at the end (each
    # of 5 moves, the button held, brings a new image from the server)
    final = drag_with_new_images(page, page.locator("input#lc-z-0"), HOOK, moves=5)
    expect(page.get_by_text("commits: 1")).to_be_visible()
    z = np.asarray(shown_z(page), dtype=np.float32)
    assert z[0] == pytest.approx(final, abs=1e-4)
    # once idle, the canvas shows model.decode of Python's z
    page.wait_for_function(f"() => {HOOK}.getZ()[0] === {final}")
    assert wait_for_canvas(page, model, z) <= 1 / 255 + 1e-9
    assert app_console_errors(page) == []


def _luminance(css_color: str) -> float:
    r, g, b = (float(v) for v in re.findall(r"[\d.]+", css_color)[:3])  # rgb(...) or rgba(...)
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def test_dark_theme_is_readable(page: Page, app_url: str):
    # the app sets no theme, so Streamlit follows the browser's preference: a browser that prefers dark gets
    # Streamlit's dark theme from the same server (no second server with theme.base = "dark" to start)
    page.emulate_media(color_scheme="dark")
    open_app(page, app_url, "mlp")
    label = page.locator(".lc-row label").first
    text = label.evaluate("el => getComputedStyle(el).color")
    background = page.evaluate("() => getComputedStyle(document.querySelector('.stApp')).backgroundColor")
    assert _luminance(background) < 0.25 and _luminance(text) > 0.6, (text, background)
    # the pad is drawn with the theme's colours, not the light defaults
    corner = page.locator("canvas.lc-pad").evaluate(
        "c => Array.from(c.getContext('2d').getImageData(3, 3, 1, 1).data)")
    assert max(corner[:3]) < 100, corner
    assert app_console_errors(page) == []
