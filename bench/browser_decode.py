"""In-browser decoding on the Decode page: the hand-written JavaScript decoder against onnxruntime-web.

    python bench/browser_decode.py [--runs 3] [--drag-s 2] [--baseline-ref 95394f4] [--rows conv-onnx,conv-onnx-f32]

One table, every number measured in this run, in headless Chromium (tests/e2e/conftest's flags) against real
`streamlit run app.py` servers (one per row, warmed by one unmeasured visit so the server's model load and
export are not counted):

  rows     mnist-conv (assets/mnist-conv), the hand-written decoder, binary weights (this worktree)
           mnist-conv, the hand-written decoder, JSON weights (the app at --baseline-ref: before issue 22)
           mnist-conv, onnxruntime-web (VAE_BROWSER_DECODER=onnx), decoder.onnx with float16 weights (the app's
           choice where pixels stay within 1/255: vae.browser_onnx)
           mnist-conv, onnxruntime-web, decoder.onnx with float32 weights (VAE_BROWSER_ONNX_DTYPE=float32: before)
           outside upsample-conv (tests/outside_vaes.py:build_conv: upsample, conv, batch norm), onnxruntime-web
           (the hand-written decoder cannot run it)
  bytes    what the server sends for the decoder (weights, or decoder.onnx; the JSON row: the JSON text), plus
           for onnxruntime-web its runtime (ort.wasm.js + the .wasm, once per browser: HTTP-cacheable)
  cold     ms from page.goto in a fresh browser context (empty cache) to the first decoded picture on the
           canvas, median of --runs
  load     ms in the page from the decoder's bytes to a decoder ready to run (weights -> Float32Arrays; for
           onnxruntime-web: its module, the .wasm and the session over decoder.onnx), median of --runs
  images/s during a --drag-s drag on the 2-d pad (Playwright moves the mouse as fast as it can; the
           control draws at most one picture per animation frame), median of --runs; and the median decode
           time of one picture in the page (ms)
  ratio    onnxruntime-web / hand-written (binary) for mnist-conv, in the same run; float16 / float32 decoder.onnx
  --rows   a comma-separated subset of the row keys (conv-js, conv-json, conv-onnx, conv-onnx-f32, outside-onnx)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, StreamlitServer, unpack_commit  # noqa: E402
from tests.e2e.helpers import sweep_drag, wait_for_app_run  # noqa: E402

LIVE = "Object.values(window.__latentControl.instances)[0]"
FIRST_PICTURE = """() => {
    const hook = window.__latentControl;
    const lc = hook && Object.values(hook.instances)[0];
    return !!lc && lc.ready() && lc.stats().images > 0 && lc.readPixels().some(v => v > 0);
}"""
ORT_DIST = REPO / "vae" / "ui" / "components" / "latent_control" / "ort" / "dist"
OUTSIDE = f"{REPO / 'tests' / 'outside_vaes.py'}:build_conv"
SHOTS = Path(os.environ.get("SHOTS_DIR", "/tmp/shots-bench"))


def decoder_bytes() -> dict[str, tuple[int, int]]:
    """(decoder bytes, runtime bytes) per row, from the same export functions the app uses."""
    from vae import load_model
    from vae.browser_decoder import export_decoder, export_decoder_binary
    from vae.browser_onnx import onnx_decoder_export
    from vae.models import load_outside

    runtime = sum(f.stat().st_size for f in ORT_DIST.iterdir())
    conv = load_model(REPO / "assets" / "mnist-conv")
    header, blob = export_decoder_binary(conv)
    return {"conv-js": (len(blob), 0), "conv-json": (len(json.dumps(export_decoder(conv), separators=(",", ":"))), 0),
            "conv-onnx": (onnx_decoder_export(conv)["onnx_bytes"], runtime),
            "conv-onnx-f32": (onnx_decoder_export(conv, "float32")["onnx_bytes"], runtime),
            "outside-onnx": (onnx_decoder_export(load_outside(OUTSIDE))["onnx_bytes"], runtime),
            "_dtype": (header["dtype"], 0)}


def visit(browser, url: str, drag_s: float, measure: bool) -> dict:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    try:
        t0 = time.perf_counter()
        page.goto(url)
        page.wait_for_function(FIRST_PICTURE, timeout=300_000, polling="raf")
        cold_ms = (time.perf_counter() - t0) * 1000
        out = {"cold_ms": cold_ms, "decoder": page.evaluate(f"() => {LIVE}.mode()"),
               "load_ms": page.evaluate("() => window.__latentControl.weightLoadMs || 0")}
        if measure:
            wait_for_app_run(page)      # the first run's end may rebuild the sliders (labels with KL)
            # a later visit may open with a dialog over the page (seen from the second session on): close it
            if page.get_by_test_id("stDialog").count():
                out["dialog"] = page.get_by_test_id("stDialog").inner_text()[:200].replace("\n", " | ")
                SHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SHOTS / f"dialog-{time.time():.0f}.png"))
                print(f"a dialog over the page: {out['dialog']!r} (screenshot in {SHOTS})", flush=True)
                page.keyboard.press("Escape")
                page.get_by_test_id("stDialog").wait_for(state="detached")
            pad = page.locator("canvas.lc-pad")     # the pad (a slider may sit under a caption at this size)
            pad.scroll_into_view_if_needed()
            page.evaluate(f"() => {LIVE}.resetStats()")
            t_down, t_up = sweep_drag(page, pad, drag_s)
            s = page.evaluate(f"() => {LIVE}.stats()")
            out["images_per_s"] = s["images"] / ((t_up - t_down) / 1000)
            out["decode_ms"] = statistics.median(s["decode_ms"]) if s["decode_ms"] else float("nan")
            out["requests"] = s["requests"]
        return out
    finally:
        ctx.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--drag-s", type=float, default=2.0)
    ap.add_argument("--baseline-ref", default="95394f4", help="the app before issue 22 (JSON weights), git archive")
    ap.add_argument("--rows", default="", help="comma-separated row keys to run (default: all)")
    args = ap.parse_args()
    sizes = decoder_bytes()
    tmp = tempfile.TemporaryDirectory(prefix="browser-decode-")
    base = Path(tmp.name) / "base"
    base.mkdir()
    unpack_commit(args.baseline_ref, base)
    assets = Path(tmp.name) / "assets"
    assets.mkdir()
    (assets / "mnist-conv").symlink_to((REPO / "assets" / "mnist-conv").resolve())
    rows = {  # key: (label, root, env, script args, url path)
        "conv-js": ("mnist-conv  hand-written, binary", REPO, {"VAE_ASSETS_DIR": str(assets)}, None),
        "conv-json": ("mnist-conv  hand-written, JSON (before)", base, {"VAE_ASSETS_DIR": str(assets)}, None),
        "conv-onnx": ("mnist-conv  onnxruntime-web, float16", REPO, {"VAE_ASSETS_DIR": str(assets),
                                                                     "VAE_BROWSER_DECODER": "onnx"}, None),
        "conv-onnx-f32": ("mnist-conv  onnxruntime-web, float32", REPO,
                          {"VAE_ASSETS_DIR": str(assets), "VAE_BROWSER_DECODER": "onnx",
                           "VAE_BROWSER_ONNX_DTYPE": "float32"}, None),
        "outside-onnx": ("outside upsample-conv  onnxruntime-web", REPO, {},
                         ["--model", OUTSIDE, "--dataset", "mnist"]),
    }
    if args.rows:
        wanted = args.rows.split(",")
        unknown = [k for k in wanted if k not in rows]
        if unknown:
            ap.error(f"unknown rows {unknown}; choose from {list(rows)}")
        rows = {k: rows[k] for k in wanted}
    results: dict[str, list[dict]] = {k: [] for k in rows}
    load0 = os.getloadavg()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for key, (label, root, env, script_args) in rows.items():
            server = StreamlitServer("app.py", env, script_args, root=root)
            try:
                visit(browser, server.url + "/", args.drag_s, measure=False)     # warm the server
                for i in range(args.runs):
                    results[key].append(visit(browser, server.url + "/", args.drag_s, measure=True))
                    r = results[key][-1]
                    print(f"{label:<40} run {i + 1}: {r['decoder']:<7} cold {r['cold_ms']:.0f} ms, "
                          f"load {r['load_ms']:.0f} ms, "
                          f"{r['images_per_s']:.1f} images/s, decode {r['decode_ms']:.2f} ms", flush=True)
            finally:
                server.close()
        browser.close()
    load1 = os.getloadavg()
    tmp.cleanup()

    med = {k: {m: statistics.median(r[m] for r in v) for m in ("cold_ms", "load_ms", "images_per_s", "decode_ms")}
           for k, v in results.items()}
    print(f"\nheadless Chromium ({CHROMIUM}); {args.runs} runs per row, medians; {args.drag_s:.0f} s drags; load "
          f"average {load0[0]:.2f} before, {load1[0]:.2f} after; hand-written weights sent as {sizes['_dtype'][0]}")
    print(f"{'model / decoder':<40} {'decoder bytes':>14} {'+ runtime':>11} {'cold ms':>8} {'load ms':>8} "
          f"{'images/s':>9} {'decode ms':>10}")
    for key, (label, *_rest) in rows.items():
        b, rt = sizes[key]
        m = med[key]
        print(f"{label:<40} {b:>14,} {rt:>11,} {m['cold_ms']:>8.0f} {m['load_ms']:>8.0f} {m['images_per_s']:>9.1f} "
              f"{m['decode_ms']:>10.2f}")
    def ratio(label: str, a: str, b: str) -> None:
        """One line of ratios a / b (bytes, cold, images/s, decode ms), when both rows ran."""
        if a not in med or b not in med or min(med[b]["images_per_s"], med[b]["decode_ms"]) <= 0:
            return
        x, y = med[a], med[b]
        print(f"{label:<40} {sizes[a][0] / sizes[b][0]:>13.2f}x {'':>11} {x['cold_ms'] / y['cold_ms']:>7.2f}x "
              f"{x['load_ms'] / max(y['load_ms'], 1e-9):>7.2f}x {x['images_per_s'] / y['images_per_s']:>8.2f}x "
              f"{x['decode_ms'] / y['decode_ms']:>9.2f}x   (mnist-conv)")

    ratio("ratio onnxruntime-web / hand-written", "conv-onnx", "conv-js")
    ratio("ratio binary / JSON (hand-written)", "conv-js", "conv-json")
    ratio("ratio onnx float16 / float32 weights", "conv-onnx", "conv-onnx-f32")


if __name__ == "__main__":
    main()
