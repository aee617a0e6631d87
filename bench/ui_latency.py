"""UI latency of the explorer in real Chromium (Playwright + Debian's /usr/bin/chromium).

    python bench/ui_latency.py [--presses 30] [--skip-tsne] [--drag]

Rows, all measured in the same run against `streamlit run`:
  first render          fresh server, fresh browser: page.goto("/") -> the Decode page idle, its first
                        decoded image drawn by the live control
  first render (warm)   the same server, a new browser context
  live control          Decode page's drag-following control (the default): keydown -> first animation
                        frame with new canvas pixels, p50 / p95
  key press -> image    Decode page with plain sliders (toggle off): focus a slider thumb, press ArrowRight, time until the decoded image's
                        new <img> has loaded (in-page clock: keydown event -> img load event), p50 / p95
  baseline slider       the same measurement on a minimal app: one plain st.slider and st.image in an
                        st.fragment (the ratio column compares against it)
  t-SNE 10k MNIST       Latent map page, 10,000 MNIST test points of a 20-d model: choose t-SNE -> PCA
                        map shown (at once) and -> the finished t-SNE map drawn
--drag adds the rows of bench/ui_drag.py (the drag-following latent control).

The MNIST model is assets/mnist-20d when bundled, else one epoch trained once into bench/out/.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, StreamlitServer  # noqa: E402
from tests.e2e.helpers import choose_option, wait_for_app_run  # noqa: E402

OUT = REPO / "bench" / "out"
MNIST_DIR = REPO.parent / "shared" / "datasets" / "mnist"

BASELINE_APP = '''
import numpy as np, streamlit as st, torch
from vae import load_model
from vae.ui.images import show
model = st.cache_resource(lambda: load_model("{ckpt}"))()
@st.fragment
def f():
    z = [st.slider(f"z{{d}}", -4.0, 4.0, 0.0, 0.05, key=f"z{{d}}") for d in range(model.config.latent_dim)]
    with torch.inference_mode():
        img = model.decode(torch.tensor([z], dtype=torch.float32))[0]
    show(img.numpy(), 336, caption="decoded mean image")
f()
'''

# In-page timing: keydown (capture) -> the decoded image's <img> is replaced and has loaded.
PROBE = """(caption) => {
    const find = () => {
        const fig = [...document.querySelectorAll("[data-testid='stImage']")].find(e => e.innerText.includes(caption));
        return fig ? fig.querySelector("img") : null;
    };
    window.__lat = {samples: [], t: null, src: find() ? find().src : null};
    document.addEventListener("keydown", () => { window.__lat.t = performance.now(); }, true);
    const check = () => {
        const img = find();
        const L = window.__lat;
        if (img && L.t !== null && img.src !== L.src) {
            const done = () => { if (L.t !== null && img.src !== L.src) {
                L.samples.push(performance.now() - L.t); L.t = null; L.src = img.src; } };
            if (img.complete && img.naturalWidth) done(); else img.addEventListener("load", done, {once: true});
        }
    };
    new MutationObserver(check).observe(document.body, {subtree: true, childList: true, attributes: true,
                                                        attributeFilter: ["src"]});
}"""


def pct(values, q) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def key_presses(page, caption: str, presses: int) -> list[float]:
    page.evaluate(PROBE, caption)
    thumb = page.get_by_test_id("stSlider").first.get_by_role("slider")
    thumb.focus()
    out = []
    for i in range(presses):
        key = "ArrowRight" if (i // 20) % 2 == 0 else "ArrowLeft"      # stay inside the slider's range
        n = page.evaluate("() => window.__lat.samples.length")
        page.keyboard.press(key)
        page.wait_for_function(f"() => window.__lat.samples.length > {n}", timeout=15_000)
        wait_for_app_run(page, settle_ms=50)
        out.append(page.evaluate("() => window.__lat.samples.at(-1)"))
    return out


LIVE = "Object.values(window.__latentControl.instances)[0]"

# In-page timing for the live control: keydown (capture) -> the first animation frame whose canvas differs.
LIVE_PROBE = """() => {
    const h = %s;
    window.__live = {samples: []};
    document.addEventListener("keydown", () => {
        const t0 = performance.now(), old = h.canvasHash();
        const poll = () => h.canvasHash() !== old ? window.__live.samples.push(performance.now() - t0)
                                                  : requestAnimationFrame(poll);
        requestAnimationFrame(poll);
    }, {capture: true});
}""" % LIVE


def live_key_presses(page, presses: int) -> list[float]:
    """Decode's drag-following control: ArrowRight/Left on its first slider -> new pixels on its canvas."""
    page.wait_for_function(f"() => window.__latentControl && {LIVE} && {LIVE}.stats().images > 0", timeout=30_000)
    page.evaluate(LIVE_PROBE)
    page.locator("input#lc-z-0").focus()
    out = []
    for i in range(presses):
        key = "ArrowRight" if (i // 20) % 2 == 0 else "ArrowLeft"
        n = page.evaluate("() => window.__live.samples.length")
        page.keyboard.press(key)
        page.wait_for_function(f"() => window.__live.samples.length > {n}", timeout=15_000)
        out.append(page.evaluate("() => window.__live.samples.at(-1)"))
        page.wait_for_timeout(30)
    return out


def first_render(browser, url: str) -> float:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    t0 = time.perf_counter()
    page.goto(url)
    wait_for_app_run(page, timeout=60_000, settle_ms=0)
    page.wait_for_function(f"() => window.__latentControl && {LIVE} && {LIVE}.stats().images > 0",
                           timeout=60_000)                  # the Decode page's first decoded image is drawn
    dt = time.perf_counter() - t0
    ctx.close()
    return dt


def mnist_model() -> Path:
    """A 20-d MLP VAE on MNIST: assets/mnist-20d, else one epoch trained once into bench/out/mnist-20d."""
    bundled = REPO / "assets" / "mnist-20d"
    if (bundled / "config.json").is_file():
        return bundled
    out = OUT / "mnist-20d"
    if not (out / "config.json").is_file():
        print("training a 1-epoch MNIST model for the t-SNE row (once) ...", flush=True)
        subprocess.run([sys.executable, "-m", "vae", "train", "--dataset", "mnist", "--data-dir", str(MNIST_DIR),
                        "--latent-dim", "20", "--hidden", "400", "--epochs", "1", "--out", str(out),
                        "--no-optimizer-state", "--quiet", "--overwrite"], check=True, cwd=REPO)
    return out


def tsne_time(browser, url: str) -> tuple[float, float]:
    """(seconds to the PCA map after choosing t-SNE, seconds to the finished t-SNE map)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/latent_map")
    wait_for_app_run(page, timeout=120_000)
    sidebar = page.get_by_test_id("stSidebar")
    choose_option(page, sidebar.get_by_test_id("stSelectbox").filter(has_text="Checkpoint"), "mnist-20d")
    wait_for_app_run(page, timeout=120_000)
    points = page.get_by_test_id("stSlider").filter(has_text="Points").get_by_role("slider")
    points.focus()
    page.keyboard.press("End")                                          # the whole test split: 10,000
    wait_for_app_run(page, timeout=120_000)
    shown = page.get_by_test_id("stSlider").filter(has_text="Points").get_by_test_id("stSliderThumbValue").inner_text()
    assert shown.replace(",", "") == "10000", shown
    t0 = time.perf_counter()
    page.get_by_text("t-SNE", exact=True).click()
    page.get_by_test_id("stProgress").filter(has_text="t-SNE").wait_for(timeout=60_000)
    page.get_by_test_id("stPlotlyChart").first.wait_for()
    t_pca = time.perf_counter() - t0
    page.get_by_text("t-SNE (perplexity").wait_for(timeout=300_000)
    wait_for_app_run(page, settle_ms=0)
    page.get_by_test_id("stPlotlyChart").first.locator(".js-plotly-plot").wait_for()
    t_tsne = time.perf_counter() - t0
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / "tsne-10k-mnist.png"), full_page=True)
    page.close()
    return t_pca, t_tsne


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presses", type=int, default=30)
    ap.add_argument("--skip-tsne", action="store_true")
    ap.add_argument("--drag", action="store_true", help="also run bench/ui_drag.py's rows")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    assets = Path(tempfile.mkdtemp(prefix="vae-bench-assets-"))
    src_assets = Path(os.environ.get("VAE_ASSETS_DIR", REPO / "assets"))
    for p in src_assets.iterdir():
        if (p / "config.json").is_file():
            shutil.copytree(p, assets / p.name)
    if not args.skip_tsne:
        shutil.copytree(mnist_model(), assets / "mnist-20d")
    digits = assets / "digits-2d"
    baseline_script = Path(tempfile.mkdtemp(prefix="vae-bench-")) / "baseline_slider.py"
    baseline_script.write_text(BASELINE_APP.format(ckpt=digits))

    rows: list[tuple[str, str, str, str]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        baselines = {}
        base_first = float("nan")
        for name, env in (("default config", {"STREAMLIT_RUNNER_POST_SCRIPT_GC": "true"}),
                          ("postScriptGC off", {"STREAMLIT_RUNNER_POST_SCRIPT_GC": "false"})):
            base = StreamlitServer(baseline_script, env)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                t0 = time.perf_counter()
                page.goto(base.url)
                wait_for_app_run(page, timeout=60_000, settle_ms=0)
                page.get_by_test_id("stImage").locator("img").first.wait_for(timeout=60_000)
                if name == "default config":          # fresh server: the first-render baseline
                    base_first = time.perf_counter() - t0
                baselines[name] = key_presses(page, "decoded mean image", args.presses)
                page.close()
            finally:
                base.close()
        b = baselines["default config"]
        app = StreamlitServer("app.py", {"VAE_ASSETS_DIR": str(assets)})
        try:
            cold = first_render(browser, app.url)
            warm = first_render(browser, app.url)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(app.url)
            wait_for_app_run(page)
            live = live_key_presses(page, args.presses)
            page.get_by_test_id("stCheckbox").filter(has_text="Live decoding while dragging").locator("label").click()
            wait_for_app_run(page, settle_ms=300)
            a = key_presses(page, "decoded mean image", args.presses)
            page.close()
            rows.append(("baseline first render: st.slider + st.image app (fresh server)", f"{base_first * 1000:.0f} ms",
                         "", "1.00x"))
            rows.append(("first render (fresh server)", f"{cold * 1000:.0f} ms", "", f"{cold / base_first:.2f}x"))
            rows.append(("first render (warm server)", f"{warm * 1000:.0f} ms", "", f"{warm / base_first:.2f}x"))
            for name, v in baselines.items():
                rows.append((f"baseline st.slider + st.image in a fragment, {name} (n={len(v)})",
                             f"{pct(v, 50):.0f} ms", f"{pct(v, 95):.0f} ms", f"{pct(v, 50) / pct(b, 50):.2f}x"))
            rows.append((f"Decode page, live control: key press -> canvas (n={len(live)})", f"{pct(live, 50):.0f} ms",
                         f"{pct(live, 95):.0f} ms", f"{pct(live, 50) / pct(b, 50):.2f}x"))
            rows.append((f"Decode page, plain sliders: key press -> image (n={len(a)})", f"{pct(a, 50):.0f} ms",
                         f"{pct(a, 95):.0f} ms", f"{pct(a, 50) / pct(b, 50):.2f}x"))
            if not args.skip_tsne:
                t_pca, t_tsne = tsne_time(browser, app.url)
                rows.append(("t-SNE 10k MNIST: PCA map shown", f"{t_pca:.1f} s", "", ""))
                rows.append(("t-SNE 10k MNIST: finished t-SNE map", f"{t_tsne:.1f} s", "", ""))
        finally:
            app.close()
        browser.close()
    if args.drag:
        from bench.ui_drag import run as drag_rows

        for r in drag_rows():
            rows.append((f"drag: {r['mode']}", f"{r.get('images_per_s', float('nan')):.1f} img/s",
                         f"p50 {r.get('latency_p50_ms', float('nan')):.0f} ms", ""))
    w = max(len(r[0]) for r in rows)
    print(f"\n{'measurement':<{w}}  {'p50 / value':>12}  {'p95':>10}  {'vs baseline':>11}")
    for r in rows:
        print(f"{r[0]:<{w}}  {r[1]:>12}  {r[2]:>10}  {r[3]:>11}")


if __name__ == "__main__":
    main()
