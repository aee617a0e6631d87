"""The bundled showcase models in a real Chromium: a fresh server opens on MNIST (mnist-2d: 28x28 images on
Decode, all 10,000 test points on the Latent map), and the shapes beta-VAE's first slider moves mainly one
ground-truth factor of the shapes data (measured on the decoded pixels the page draws, not by eye)."""

from __future__ import annotations

import numpy as np
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    app_console_errors,
    assert_no_exception,
    choose_checkpoint,
    goto_page,
    wait_for_app_run,
)


def live(latent_dim: int) -> str:
    """JS for the Decode page's drag-following control of a model with `latent_dim` dimensions (the page keeps
    the control of an earlier model too)."""
    return (f"Object.values(window.__latentControl.instances).filter(i => i.getZ().length === {latent_dim}).pop()")


def wait_for_live_control(page: Page, latent_dim: int) -> None:
    lc = live(latent_dim)
    page.wait_for_function(f"() => window.__latentControl && {lc} && {lc}.ready() && {lc}.stats().images > 0")


def test_a_fresh_server_opens_on_mnist_and_the_shapes_beta_first_slider_moves_mainly_one_factor(
        page: Page, app_server: str):
    """A fresh session opens on mnist-2d (the Decode page, then the Latent map's 10,000 test points); in between,
    the same Decode page switched to shapes-beta (shapes_beta_first_slider_moves_mainly_one_factor)."""
    goto_page(page, app_server)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_role("combobox", name="Checkpoint")).to_have_value("mnist-2d")
    expect(sidebar.get_by_text("10,000", exact=False).first).to_be_visible()   # the bundled test split
    wait_for_live_control(page, 2)
    pixels = np.array(page.evaluate(f"() => {live(2)}.readPixels()"), dtype=float)
    assert pixels.size == 28 * 28                       # the image drawn on the page: one 28x28 grey channel
    pixels = pixels.reshape(28, 28)
    assert pixels.max() > 128 and pixels.mean() < 128   # a bright digit on a dark ground
    assert_no_exception(page)

    shapes_beta_first_slider_moves_mainly_one_factor(page)

    page.goto(f"{app_server.rstrip('/')}/latent_map?map=plotly")     # Plotly's traces (WebGL: test_webgl_map)
    wait_for_app_run(page)
    chart = page.get_by_test_id("stPlotlyChart").first
    chart.wait_for()
    page.wait_for_function("() => { const p = document.querySelector('.js-plotly-plot'); return p && p.data && "
                           "p.data.length > 0; }")
    # points of the label traces (one per digit; _fullData holds the decoded arrays of Plotly's binary form)
    n_points = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')].map(p =>
        (p._fullData || []).filter(t => /^[0-9]$/.test(String(t.name)))
              .reduce((n, t) => n + (t.x ? t.x.length : 0), 0)).reduce((a, b) => Math.max(a, b), 0)""")
    assert n_points == 10_000
    assert_no_exception(page)
    assert app_console_errors(page) == []


def pixel_features(images: np.ndarray) -> np.ndarray:
    """(N, 32*32) grey images in [0, 1] -> (N, 4): centre of mass (column, row), sqrt of the mass, and 1."""
    img = images.reshape(len(images), 32, 32)
    rows, cols = np.mgrid[0:32, 0:32]
    mass = img.sum((1, 2)) + 1e-6
    return np.stack([(img * cols).sum((1, 2)) / mass, (img * rows).sum((1, 2)) / mass, np.sqrt(mass),
                     np.ones(len(img))], axis=1)


def shapes_beta_first_slider_moves_mainly_one_factor(page: Page) -> None:
    """On the Decode page (open): choose shapes-beta, decode a traversal of the first (highest-KL) slider's dimension with the page's own decoder, read
    each frame's x, y and scale in the units of the shapes data's factors (a linear map from the centre of
    mass and size of an image, fitted on the test images and their true factors), and compare how far each
    factor moves: one moves across most of its range, the others hardly. (Shape and rotation, which
    shapes-beta does not encode, see assets/README.md, cannot be read off its blurred blobs.)"""
    from vae.data import load_dataset

    choose_checkpoint(page, "shapes-beta", "shapes")
    wait_for_live_control(page, 8)
    first_dim = int(page.locator(".lc .lc-row input[id^='lc-z-']").first.get_attribute("id").rsplit("-", 1)[1])
    steps = np.linspace(-1.5, 1.5, 13)
    frames = []
    for v in steps:
        z = [0.0] * 8
        z[first_dim] = float(v)
        frames.append(page.evaluate(f"(z) => {live(8)}.decode(z)", z))
    frames = np.array(frames, dtype=np.float64)            # (13, 1024) decoded means in [0, 1]
    assert frames.shape == (len(steps), 32 * 32)

    test = load_dataset("shapes", n_train=10).test      # the same test images as load_dataset("shapes")
    names = ["scale", "x", "y"]
    truth = test.factors.numpy()[:, [1, 3, 4]].astype(np.float64)      # (N, 3) columns of SHAPE_FACTOR_NAMES
    to_factors, *_ = np.linalg.lstsq(pixel_features(test.images.reshape(len(test), -1).numpy() / 255), truth,
                                     rcond=None)
    assert np.corrcoef((pixel_features(test.images.reshape(len(test), -1).numpy() / 255) @ to_factors)[:, 1],
                       truth[:, 1])[0, 1] > 0.95                       # the map reads x well on real images
    moved = pixel_features(frames) @ to_factors                          # (13, 3) factor values along the traversal
    slope = np.polyfit(steps, moved, 1)[0]                                # factor units per unit of z
    travel = dict(zip(names, np.abs(slope) * (steps[-1] - steps[0]) / (truth.max(0) - truth.min(0))))
    main = max(travel, key=travel.get)
    others = [t for n, t in travel.items() if n != main]
    assert travel[main] > 0.4 and max(others) < 0.3 * travel[main], (first_dim, travel)
    assert_no_exception(page)
