"""Images per second while dragging a latent slider, and input-to-pixels latency.

Drives tests/e2e/apps/latent_control_app.py in headless Chromium (Playwright): holds the mouse down
on a slider and sweeps it for a few seconds, sampling the decoded image every animation frame.

    python bench/ui_drag.py [--seconds 3]

Rows (all in the same run):
  st.slider (baseline)   st.slider + st.image: the value only reaches Python on release
  browser (mlp), (conv)  the latent control, decoding in JavaScript every animation frame
                         (mlp: 20-400-784; conv-mnist: the README's MNIST conv size, latent 32, fc 512,
                         deconvs 64 -> 32 -> 1, 1.66 M decoder weights)
  server (mlp), (conv)   the latent control with decode_in="server" (the fallback), one request in
                         flight, decoded in an st.fragment:
                         default config; with runner.postScriptGC=false (Streamlit otherwise runs
                         gc.collect(2) after every run, fragment runs included: 60-100 ms here, and
                         it holds the GIL so the reply waits); and also with torch.set_num_threads(1)

images/s counts distinct canvas images during the drag; per frame = images / animation frames
(1.0 = a new image every frame); latency = from the input event's timestamp to the decoded
pixels being on the canvas (browser: same frame; server: reply drawn), p50/p95 in ms. For the
baseline, latency is release -> new image, since nothing changes during the drag.
Also reports the one-off cost of shipping each decoder's weights to the browser (bytes, export time).
Ratios: images/s against the baseline, and browser against server for the same model.
`run()` returns the rows for bench/ui_latency.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, StreamlitServer  # noqa: E402
from tests.e2e.helpers import sweep_drag, wait_for_app_run  # noqa: E402

APP = "tests/e2e/apps/latent_control_app.py"
HOOK = "window.__latentControl.instances.lc"

SAMPLER = """(selector) => {
    const read = selector === null ? () => window.__latentControl.instances.lc.canvasHash()
                                   : () => { const el = document.querySelector(selector); return el ? el.src : ''; };
    window.__bench = {seen: new Set([read()]), changes: [], frames: 0, running: true, t0: performance.now()};
    let last = read();
    const loop = () => {
        const b = window.__bench;
        if (!b.running) return;
        b.frames += 1;
        const h = read();
        if (h !== last) { b.changes.push(performance.now()); last = h; }
        b.seen.add(h);
        requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
}"""
STOP = """() => { const b = window.__bench; b.running = false;
    return {distinct: b.seen.size - 1, frames: b.frames, changes: b.changes, t1: performance.now(), t0: b.t0}; }"""


def _pct(values, q):
    return float(np.percentile(values, q)) if len(values) else float("nan")


def _measure_component(page, url: str, arch: str, seconds: float, decode: str = "browser") -> dict:
    page.goto(f"{url}/?arch={arch}&decode={decode}")
    wait_for_app_run(page)
    page.wait_for_function(f"() => window.__latentControl && {HOOK} && {HOOK}.ready() && {HOOK}.stats().images > 0",
                           timeout=30_000)
    page.wait_for_timeout(300)
    page.evaluate(f"() => {HOOK}.resetStats()")
    page.evaluate(SAMPLER, None)
    t_down, t_up = sweep_drag(page, page.locator("input#lc-z-0"), seconds)
    res = page.evaluate(STOP)
    stats = page.evaluate(f"() => {HOOK}.stats()")
    drag_s = (t_up - t_down) / 1000
    during = [t for t in res["changes"] if t_down <= t <= t_up + 1]
    lat = stats["latency_ms"]
    load_ms = page.evaluate("() => window.__latentControl.weightLoadMs ?? null")
    return {"mode": f"{decode} ({arch})", "arch": arch, "decode": decode, "drag_s": drag_s,
            "images": len(during), "distinct": res["distinct"], "images_per_s": len(during) / drag_s,
            "frames_per_s": res["frames"] / ((res["t1"] - res["t0"]) / 1000),
            "latency_p50_ms": _pct(lat, 50), "latency_p95_ms": _pct(lat, 95),
            "decode_p50_ms": _pct(stats["decode_ms"], 50) if stats["decode_ms"] else float("nan"),
            "weights_load_ms": load_ms}


def _measure_baseline(page, url: str, seconds: float) -> dict:
    page.goto(f"{url}/?arch=mlp&baseline=1")
    wait_for_app_run(page)
    img = "[data-testid='stImage'] img"
    page.wait_for_selector(img)
    page.evaluate(SAMPLER, img)
    t_down, t_up = sweep_drag(page, page.get_by_test_id("stSlider").get_by_role("slider"), seconds)
    page.wait_for_function("(n) => window.__bench.changes.some(t => t > n)", arg=t_up, timeout=30_000)
    res = page.evaluate(STOP)
    drag_s = (t_up - t_down) / 1000
    during = [t for t in res["changes"] if t_down <= t <= t_up]
    after = [t - t_up for t in res["changes"] if t > t_up]
    return {"mode": "st.slider (baseline)", "drag_s": drag_s, "images": len(during), "distinct": len(during),
            "images_per_s": len(during) / drag_s, "frames_per_s": res["frames"] / ((res["t1"] - res["t0"]) / 1000),
            "latency_p50_ms": after[0] if after else float("nan"), "latency_p95_ms": float("nan"),
            "decode_p50_ms": float("nan")}


def _weights_cost(arch: str) -> dict:
    """One-off cost of a decoder's export: size on the wire and Python time."""
    from tests.e2e.apps.latent_control_app import make_demo_model
    from vae.browser_decoder import export_decoder

    model = make_demo_model(arch)
    t0 = time.perf_counter()
    exported = export_decoder(model)
    export_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    payload = json.dumps(exported)
    json_ms = (time.perf_counter() - t0) * 1000
    return {"arch": arch, "weights": sum(p.numel() for p in model.decoder.parameters()),
            "raw_mb": exported["weight_bytes"] / 1e6, "json_mb": len(payload) / 1e6,
            "export_ms": export_ms, "json_ms": json_ms}


def run(seconds: float = 3.0) -> list[dict]:
    """Measure the three rows; returns them as dicts (see the module docstring)."""
    from playwright.sync_api import sync_playwright

    no_gc = {"STREAMLIT_RUNNER_POST_SCRIPT_GC": "false"}
    # Streamlit's default is postScriptGC=true; the app's .streamlit/config.toml turns it off
    servers = {"default": StreamlitServer(APP, {"STREAMLIT_RUNNER_POST_SCRIPT_GC": "true"}),
               "no_gc": StreamlitServer(APP, no_gc),
               "no_gc_1thr": StreamlitServer(APP, {**no_gc, "LATENT_CONTROL_TORCH_THREADS": "1"})}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            rows = [_measure_baseline(page, servers["default"].url, seconds),
                    _measure_component(page, servers["default"].url, "mlp", seconds),
                    _measure_component(page, servers["default"].url, "conv-mnist", seconds),
                    _measure_component(page, servers["no_gc"].url, "mlp", seconds, "server"),
                    _measure_component(page, servers["default"].url, "conv-mnist", seconds, "server"),
                    _measure_component(page, servers["no_gc"].url, "conv-mnist", seconds, "server"),
                    _measure_component(page, servers["no_gc_1thr"].url, "conv-mnist", seconds, "server")]
            rows[3]["mode"] += " noGC"
            rows[4]["mode"] += " GC on"
            rows[5]["mode"] += " noGC"
            rows[6]["mode"] += " noGC 1thr"
            browser.close()
    finally:
        for server in servers.values():
            server.close()
    return rows


def format_table(rows: list[dict]) -> str:
    base = max(rows[0]["images_per_s"], 1e-9)
    lines = [f"{'mode':26} {'drag s':>6} {'images':>6} {'img/s':>7} {'frames/s':>8} {'per frame':>9} "
             f"{'vs slider':>9} {'lat p50':>8} {'lat p95':>8} {'decode':>7}"]
    for r in rows:
        ratio = "-" if r is rows[0] else ("inf" if rows[0]["images_per_s"] == 0 else f"{r['images_per_s'] / base:.1f}x")
        lines.append(f"{r['mode']:26} {r['drag_s']:6.2f} {r['images']:6d} {r['images_per_s']:7.1f} "
                     f"{r['frames_per_s']:8.1f} {r['images_per_s'] / max(r['frames_per_s'], 1e-9):9.2f} {ratio:>9} "
                     f"{r['latency_p50_ms']:8.1f} {r['latency_p95_ms']:8.1f} {r['decode_p50_ms']:7.2f}")
    lines.append("latency: input event -> pixels on the canvas, ms (baseline: release -> new image); "
                 "decode: JS decode of one z, ms")
    for arch in ("mlp", "conv-mnist"):
        b = [r for r in rows if r.get("arch") == arch and r.get("decode") == "browser"]
        srv = [r for r in rows if r.get("arch") == arch and r.get("decode") == "server"]
        if b and srv:
            best = max(srv, key=lambda r: r["images_per_s"])
            lines.append(f"{arch}: browser / best server ({best['mode']}): "
                         f"{b[0]['images_per_s'] / max(best['images_per_s'], 1e-9):.1f}x images/s, "
                         f"latency p50 {b[0]['latency_p50_ms']:.1f} vs {best['latency_p50_ms']:.1f} ms")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="length of each drag (s)")
    args = ap.parse_args()
    for arch in ("mlp", "conv-mnist"):
        w = _weights_cost(arch)
        print(f"{arch} decoder export: {w['weights']:,} weights, {w['raw_mb']:.2f} MB float32, {w['json_mb']:.2f} MB "
              f"JSON (base64), export {w['export_ms']:.1f} ms + json {w['json_ms']:.1f} ms; sent once per model "
              "and session")
    rows = run(args.seconds)
    print(format_table(rows))
    for r in rows:
        if r.get("weights_load_ms") is not None and r.get("decode") == "browser":
            print(f"browser ({r['arch']}): weights base64 -> Float32Array in {r['weights_load_ms']:.1f} ms, "
                  "once per model")


if __name__ == "__main__":
    main()
