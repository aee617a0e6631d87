"""Three WebGL scatter libraries drawing the same points in headless Chromium (software WebGL, SwiftShader).

The issue's "measure before choosing": regl-scatterplot (what the Latent map is built on; plain, and with the
map's own renderer, vae/ui/components/webgl_scatter/frontend/src/renderer.js), deepscatter and embedding-atlas
(0.23.0, and 0.26.0 as embedding-atlas-latest), each in a tiny harness page (bench/map_libraries/src/, built with esbuild into
bench/map_libraries/build/; build it first with

    cd bench/map_libraries && npm ci --legacy-peer-deps --no-audit --no-fund && npm run build

) that loads N seeded points in 10 Gaussian clusters as binary (float32 x, float32 y, uint8 category) from
this script's server on 127.0.0.1 and draws them coloured by category. Every request to anywhere else is
aborted and counted (the 'outside' column). One table, per library and N:

  paint ms    from the data's arrival in the page (the fetch's bytes in hand) to the animation frame after the
              first frame in which WebGL drew at least half of the points (draw calls counted in the page:
              POINTS vertices or instances, whatever the library calls); includes building the library's
              own input (regl-scatterplot's arrays, deepscatter's Arrow table) and its setup
  frame ms    a scripted pan/zoom (a circle of radius 0.3 while zooming 1x -> 2.5x -> 1x), the camera set in
              a requestAnimationFrame callback through the library's own API, each step timed from there to
              the animation frame after the first frame in which the library drew again (two frames, 33 ms,
              are the floor); median and p95 over --frames steps (after an untimed warm-up of 5)
  drawn       median points drawn in that redraw (a library may draw fewer while moving)
  JS KB       the page's bundle (minified esbuild output: library + harness), and gzip'd; workers apart
  thumbnails  whether the library can draw each point as its own image (a sprite atlas), from its docs/source
  lasso       whether it has a lasso (free-form polygon) selection, from its docs/source

A library that cannot draw here says why in the 'note' column (that is a result, not an error of the bench).

    python bench/map_libraries.py [--sizes 100000,1000000] [--frames 30] [--libs ...] [--shots bench/out]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
HERE = REPO / "bench" / "map_libraries"
BUILD = HERE / "build"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# what each library offers beyond drawing points, read from its README, typings and source (bench/README
# section "The WebGL map" cites where)
LIBS = {
    "regl-scatterplot": dict(package="regl-scatterplot", thumbnails="no (points only; the map draws them on "
                             "its own overlay)", lasso="yes (built in, returns indices)"),
    "regl-scatterplot+map-renderer": dict(package="regl-scatterplot", thumbnails="the map draws them on its overlay",
                                          lasso="yes"),
    "deepscatter": dict(package="deepscatter", thumbnails="no (points only)",
                        lasso="no (selections by ids or a function, no lasso UI)"),
    "embedding-atlas": dict(package="embedding-atlas", thumbnails="no (one image per cluster label, not per "
                            "point)", lasso="yes (rectangle or polygon range selection)"),
    "embedding-atlas-latest": dict(package="embedding-atlas-latest", thumbnails="as above",
                                   lasso="as above"),
}


def make_points(n: int, seed: int = 0) -> bytes:
    """n points in 10 Gaussian clusters, x and y in [-1, 1] -> x float32[n] | y float32[n] | category uint8[n]."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-0.7, 0.7, size=(10, 2))
    cat = rng.integers(0, 10, size=n).astype(np.uint8)
    xy = centres[cat] + rng.normal(0, 0.12, size=(n, 2))
    xy = np.clip(xy, -1, 1).astype(np.float32)
    return xy[:, 0].tobytes() + xy[:, 1].tobytes() + cat.tobytes()


def serve(data: dict[int, bytes]) -> ThreadingHTTPServer:
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(BUILD), **k)

        def do_GET(self):
            if self.path.startswith("/data/"):
                n = int(self.path.split("/")[-1].split(".")[0])
                body = data[n]
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            super().do_GET()

        def log_message(self, *a):
            pass

    Handler.extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript",
                              ".wasm": "application/wasm"}
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def version(lib: str) -> str:
    pkg = HERE / "node_modules" / LIBS[lib]["package"] / "package.json"
    return json.loads(pkg.read_text())["version"] if pkg.exists() else "?"


def bundle_bytes(lib: str) -> tuple[int, int]:
    js = (BUILD / lib / "page.js").read_bytes()
    return len(js), len(gzip.compress(js, 9))


def measure(browser, url: str, lib: str, n: int, frames: int, shots: Path | None) -> dict:
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    outside: list[str] = []

    def route(r):
        if r.request.url.startswith(url):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    t0 = time.perf_counter()
    page.goto(f"{url}/{lib}/index.html?n={n}")
    page.wait_for_function("() => ['painted', 'failed'].includes(window.__bench.phase)", timeout=300_000)
    load_s = time.perf_counter() - t0
    b = page.evaluate("() => window.__bench")
    row = dict(lib=lib, n=n, load_s=load_s, paint_ms=b["firstPaintMs"], drawn_paint=b["drawnAtPaint"],
               note=b.get("note") or "", error=b.get("error") or (errors[0] if errors else ""),
               console=b.get("consoleErrors") or [], outside=len(outside))
    if b["phase"] == "painted":
        if shots is not None:
            page.screenshot(path=str(shots / f"map_libraries_{lib}_{n}.png"))
        page.evaluate("(f) => window.__bench.runFrames(f)", 5)               # warm-up
        s = page.evaluate("(f) => window.__bench.runFrames(f)", frames)
        row.update(frame_med=s["median"], frame_p95=s["p95"], drawn=s["drawnMedian"], with_draws=s["framesWithDraws"])
        if shots is not None:                      # the path's middle: zoomed in 2.5x, moved down by 0.3
            page.evaluate("(f) => window.__bench.runFrames(1, f, f / 2)", frames)
            page.screenshot(path=str(shots / f"map_libraries_{lib}_{n}_moved.png"))
    page.close()
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--libs", default=",".join(LIBS))
    ap.add_argument("--shots", default=str(REPO / "bench" / "out"), help="folder for screenshots ('' for none)")
    args = ap.parse_args()
    if not (BUILD / "regl-scatterplot" / "page.js").exists():
        sys.exit(f"no harness build in {BUILD}: cd bench/map_libraries && npm ci --legacy-peer-deps && npm run build")
    from playwright.sync_api import sync_playwright

    sizes = [int(s) for s in args.sizes.split(",")]
    libs = [s for s in args.libs.split(",") if s]
    shots = Path(args.shots) if args.shots else None
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
    server = serve({n: make_points(n) for n in sizes})
    url = f"http://127.0.0.1:{server.server_address[1]}"
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for n in sizes:
                for lib in libs:                    # size by size, library by library: they see the same load
                    rows.append(measure(browser, url, lib, n, args.frames, shots))
                    print(f"  {lib} {n:,}: {rows[-1]}", file=sys.stderr)
            browser.close()
    finally:
        server.shutdown()
    load = os.getloadavg()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; headless Chromium {CHROMIUM} "
          f"({' '.join(CHROMIUM_ARGS)}), software WebGL; load average at the end {load[0]:.1f} / {load[1]:.1f} "
          f"(1 / 5 min) on {os.cpu_count()} CPUs")
    base = {r["n"]: r for r in rows if r["lib"] == "regl-scatterplot" and r.get("frame_med")}
    print(f"{'library':>29} {'version':>8} {'points':>10} {'paint ms':>9} {'frame med':>9} {'frame p95':>9} "
          f"{'ratio':>6} {'drawn':>10} {'JS KB':>6} {'gzip KB':>7} {'outside':>7}  thumbnails / lasso / note")
    for r in rows:
        js, gz = bundle_bytes(r["lib"])
        info = LIBS[r["lib"]]
        b = base.get(r["n"])
        if r.get("frame_med"):
            ratio = f"{b['frame_med'] / r['frame_med']:>5.2f}x" if b else "  n/a"
            cells = (f"{r['paint_ms']:>9.0f} {r['frame_med']:>9.1f} {r['frame_p95']:>9.1f} {ratio:>6} "
                     f"{r['drawn']:>10,}")
            note = ""
        else:
            cells = f"{'-':>9} {'-':>9} {'-':>9} {'-':>6} {'-':>10}"
            said = [x for x in [r["note"], r["error"]] if x]
            note = "cannot draw: " + "; ".join(said + [x for x in r["console"][:2] if x and not any(x in y for y in said)])
        print(f"{r['lib']:>29} {version(r['lib']):>8} {r['n']:>10,} {cells} {js / 1024:>6.0f} {gz / 1024:>7.0f} "
              f"{r['outside']:>7}  {info['thumbnails']} / {info['lasso']}" + (f" / {note}" if note else ""))
    print("ratio: regl-scatterplot's frame median / the row's (same N, same run)")


if __name__ == "__main__":
    main()
