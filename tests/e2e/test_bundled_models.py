"""The bundled showcase models in a real Chromium: a fresh server opens on MNIST (mnist-2d: 28x28 images on
Decode, all 10,000 test points on the Latent map), and the shapes beta-VAE's first slider moves mainly one
ground-truth factor of the shapes data (measured on the decoded pixels the page draws, not by eye)."""

from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import app_console_errors, assert_no_exception, goto_page, wait_for_app_run

LIVE = "Object.values(window.__latentControl.instances)[0]"   # the Decode page's drag-following control


def wait_for_live_control(page: Page, latent_dim: int) -> None:
    page.wait_for_function(
        f"(d) => window.__latentControl && {LIVE} && {LIVE}.ready() && {LIVE}.getZ().length === d"
        f" && {LIVE}.stats().images > 0", arg=latent_dim, timeout=60_000)


def choose_checkpoint(page: Page, name: str) -> None:
    box = page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").filter(has_text="Checkpoint")
    box.click()
    page.get_by_role("option", name=name, exact=True).click()
    wait_for_app_run(page)
    expect(box).to_contain_text(name)


def test_a_fresh_server_opens_on_mnist(page: Page, app_server: str):
    goto_page(page, app_server)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_test_id("stSelectbox").filter(has_text="Checkpoint")).to_contain_text("mnist-2d")
    expect(sidebar.get_by_text("10,000", exact=False).first).to_be_visible()   # the bundled test split
    wait_for_live_control(page, 2)
    shape = page.evaluate(f"() => {{ const c = document.querySelector('.lc canvas'); "
                          f"return [{LIVE}.readPixels().length, c ? c.width : 0, c ? c.height : 0]; }}")
    assert shape[0] == 28 * 28, shape
    pixels = np.array(page.evaluate(f"() => {LIVE}.readPixels()"), dtype=float).reshape(28, 28)
    assert pixels.max() > 128 and pixels.mean() < 128   # a bright digit on a dark ground
    assert_no_exception(page)

    page.goto(f"{app_server.rstrip('/')}/latent_map")
    wait_for_app_run(page)
    chart = page.get_by_test_id("stPlotlyChart").first
    chart.wait_for()
    page.wait_for_function("() => { const p = document.querySelector('.js-plotly-plot'); return p && p.data && "
                           "p.data.length > 0; }", timeout=60_000)
    # points of the label traces (one per digit; _fullData holds the decoded arrays of Plotly's binary form)
    n_points = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')].map(p =>
        (p._fullData || []).filter(t => /^[0-9]$/.test(String(t.name)))
              .reduce((n, t) => n + (t.x ? t.x.length : 0), 0)).reduce((a, b) => Math.max(a, b), 0)""")
    assert n_points == 10_000
    assert_no_exception(page)
    assert app_console_errors(page) == []


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def test_shapes_beta_first_slider_moves_mainly_one_factor(page: Page, app_server: str):
    """Decode a traversal of the first (highest-KL) slider's dimension with the page's own decoder, find the
    nearest test image of each frame, and correlate the position along the traversal with the factors of
    those neighbours: one factor follows the slider, the others do not."""
    from vae.analysis.factors import factor_targets
    from vae.data import load_dataset

    goto_page(page, app_server)
    choose_checkpoint(page, "shapes-beta")
    wait_for_live_control(page, 10)
    first_dim = int(page.locator(".lc .lc-row input[id^='lc-z-']").first.get_attribute("id").rsplit("-", 1)[1])
    steps = np.linspace(-2.0, 2.0, 17)
    frames = []
    for v in steps:
        z = [0.0] * 10
        z[first_dim] = float(v)
        frames.append(page.evaluate(f"(z) => {LIVE}.decode(z)", z))
    frames = np.array(frames, dtype=np.float32)            # (17, 1024) decoded means in [0, 1]
    assert frames.shape == (len(steps), 32 * 32)

    test = load_dataset("shapes").test
    data = test.images.reshape(len(test), -1).numpy().astype(np.float32) / 255
    nearest = np.argmin(((frames[:, None, :] - data[None, :, :]) ** 2).sum(-1), axis=1)
    names = ["shape", "scale", "rotation", "x", "y"]
    targets = factor_targets(test.factors.numpy(), names)[nearest]
    corr = {n: abs(_spearman(steps, targets[:, j])) for j, n in enumerate(names)}
    main = max(corr, key=corr.get)
    others = sorted((c for n, c in corr.items() if n != main), reverse=True)
    assert corr[main] > 0.85 and others[0] < 0.5, (first_dim, corr)
    assert_no_exception(page)
