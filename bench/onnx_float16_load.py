"""decoder.onnx with float16 weights against float32 in the browser, without Streamlit: time to the first picture.

    python bench/onnx_float16_load.py [--model assets/mnist-conv] [--runs 7]

One headless Chromium page (tests/e2e/conftest's flags) loads the bundled onnxruntime-web (ort/dist, served by a
loopback HTTP server with the two decoder.onnx files), then, alternating float32 and float16 so that a change
of machine load falls on both, --runs times each: fetch decoder.onnx, create the WASM session
(createDecoderSession, as the latent control does), decode one point ("1st decode"), then 20 more ("later
decode": their median, what a drag costs). Prints medians and the ratio
float16 / float32 in the same run, and the largest pixel difference between the two in this browser.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import statistics
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

ORT_DIST = REPO / "vae" / "ui" / "components" / "latent_control" / "ort" / "dist"
PAGE_JS = """async ([names, runs, latent]) => {
    const mod = await import("/ort.wasm.js");
    const wasm = new URL("/ort-wasm-simd-threaded.wasm", location.origin).href;
    const z = new mod.ort.Tensor("float32", Float32Array.from({length: latent}, (_, i) => 0.5 - 0.1 * i), [1, latent]);
    const out = Object.fromEntries(names.map((n) => [n, {fetch: [], session: [], first: [], total: [], next: []}]));
    const pictures = {};
    for (let r = 0; r < runs; r++) {
        for (const name of (r % 2 ? [...names].reverse() : names)) {
            const t0 = performance.now();
            const bytes = new Uint8Array(await (await fetch("/" + name + "?r=" + r, {cache: "no-store"})).arrayBuffer());
            const t1 = performance.now();
            const session = await mod.createDecoderSession(bytes, wasm);
            const t2 = performance.now();
            const res = await session.run({[session.inputNames[0]]: z});
            const t3 = performance.now();
            pictures[name] = Array.from(res[session.outputNames[0]].data, (v) => 1 / (1 + Math.exp(-v)));
            const next = [];
            for (let k = 0; k < 20; k++) {
                const t = performance.now();
                await session.run({[session.inputNames[0]]: z});
                next.push(performance.now() - t);
            }
            next.sort((x, y) => x - y);
            await session.release();
            const o = out[name];
            o.fetch.push(t1 - t0); o.session.push(t2 - t1); o.first.push(t3 - t2); o.total.push(t3 - t0); o.next.push(next[10]);
        }
    }
    const [a, b] = names.map((n) => pictures[n]);
    out.max_pixel_diff = Math.max(...a.map((v, i) => Math.abs(v - b[i])));
    return out;
}"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def guess_type(self, path):
        return "text/javascript" if str(path).endswith(".js") else super().guess_type(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(REPO / "assets" / "mnist-conv"), help="a checkpoint folder")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    from vae import load_model
    from vae.browser_onnx import onnx_decoder_export

    model = load_model(args.model)
    f32, f16 = onnx_decoder_export(model, "float32"), onnx_decoder_export(model, "float16")
    with tempfile.TemporaryDirectory(prefix="onnx-f16-") as tmp:
        folder = Path(tmp)
        for f in ORT_DIST.iterdir():
            (folder / f.name).symlink_to(f)
        (folder / "float32.onnx").write_bytes(f32["onnx"])
        (folder / "float16.onnx").write_bytes(f16["onnx"])
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        from playwright.sync_api import sync_playwright

        load0 = os.getloadavg()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{httpd.server_address[1]}/")
                res = page.evaluate(PAGE_JS, [["float32.onnx", "float16.onnx"], args.runs,
                                              int(model.config.latent_dim)])
                browser.close()
        finally:
            httpd.shutdown()
        load1 = os.getloadavg()
    print(f"headless Chromium ({CHROMIUM}); {args.model}; {args.runs} runs each, alternating, medians (ms); load "
          f"average {load0[0]:.2f} before, {load1[0]:.2f} after; float16 pixel diff vs float32 (onnxruntime, "
          f"Python) {f16['pixel_diff'] * 255:.3f}/255, in this browser {res['max_pixel_diff'] * 255:.3f}/255")
    print(f"{'decoder.onnx':<22} {'bytes':>11} {'fetch':>8} {'session':>8} {'1st decode':>11} {'to picture':>11} "
          f"{'later decode':>13}")
    med = {}
    for name, exp in (("float32.onnx", f32), ("float16.onnx", f16)):
        m = med[name] = {k: statistics.median(v) for k, v in res[name].items()}
        print(f"{name:<22} {exp['onnx_bytes']:>11,} {m['fetch']:>8.1f} {m['session']:>8.1f} {m['first']:>11.2f} "
              f"{m['total']:>11.1f} {m['next']:>13.2f}")
    a, b = med["float16.onnx"], med["float32.onnx"]
    print(f"{'ratio float16/float32':<22} {f16['onnx_bytes'] / f32['onnx_bytes']:>10.2f}x {a['fetch'] / b['fetch']:>7.2f}x "
          f"{a['session'] / b['session']:>7.2f}x {a['first'] / b['first']:>10.2f}x {a['total'] / b['total']:>10.2f}x "
          f"{a['next'] / b['next']:>12.2f}x")


if __name__ == "__main__":
    main()
