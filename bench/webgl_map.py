"""The WebGL map in headless Chromium (software WebGL, SwiftShader): first paint, pan/zoom frames, lasso.

Drives tests/e2e/apps/webgl_scatter_app.py (N seeded random points in 10 clusters) with Playwright, for
N = 1,000 (what a frame costs with almost nothing to draw), 70,000 and 1,000,000 (--sizes to change), all in
one run, each size first with the baseline, the map at --baseline-ref (unpacked with git archive and served
from there), then with this checkout's, and prints one table (ratio: the baseline's frame median / this row's):

  bytes       sent to the browser per map (float32 x, y + uint16 label: 10 bytes a point)
  wire MB     websocket bytes the page received until the first paint (the app's whole first run)
  paint ms    first paint after the data arrive: from the component's render message to the second
              animation frame after regl-scatterplot's draw() resolved (points unpacked, spatial index
              built, drawn)
  load s      from page navigation to that paint (server, websocket, browser)
  LOD table   on maps above 300,000 points the frames are timed again for each --lod setting, in
              --lod-rounds alternating rounds: 'POINTS:fixed' draws a sample of POINTS while moving;
              'auto' is each app's own level of detail (now: the sample sized to frames of
              40 ms, the rest counted in animation frames): one untimed move sizes its sample, then the
              timed move; 'drawn moving' is that size
  frame ms    pan/zoom: 30 camera moves, each timed from the move to the animation frame after the
              redraw (requestAnimationFrame in the page); median and max. Above 300,000 points the map
              draws a sample while the view moves (from 150,000, sized by the frames) and every point once
              it rests (level of detail); the first frame of a move still draws every point
  unpack/draw of paint ms: bytes -> point arrays; regl-scatterplot's draw() (textures, spatial index);
              the split printed under the table: init (the WebGL context, made on the first render),
              arrays (regl-scatterplot's [x, y, c] arrays), index wait (the worker's KDBush sort not yet done)
  perf        regl-scatterplot's performanceMode (squares, no blending), used above 300,000 points
  index       where the spatial index (KDBush) was built: a Web Worker (above 50,000 points) or the page
  in page s   of which in the page: the lasso's point-in-polygon test and the selection sent (int32 bytes)
  rerun MB    websocket bytes the page received for the rerun that the lasso caused
  lasso s     a lasso over ~12% of the points (123,400 of 1,000,000): from the call in the page until the
              page shows that Python holds the selection (Playwright wall clock)

    python bench/webgl_map.py [--sizes 70000,1000000] [--frames 30] [--baseline-ref 90f7407]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, StreamlitServer, unpack_commit  # noqa: E402
from tests.e2e.helpers import wait_for_app_run  # noqa: E402

APP = "tests/e2e/apps/webgl_scatter_app.py"
LASSO = [[0.2, 0.2], [0.9, 0.2], [0.9, 0.9], [0.2, 0.9]]     # 123,400 of the 1,000,000 points


def measure(page, url: str, n: int, frames: int, shots: Path | None, lods: list[str] = (), lod_rounds: int = 1) -> dict:
    wire = [0]                               # websocket bytes received by the page (all of its messages)
    page.on("websocket", lambda ws: ws.on("framereceived",
                                          lambda payload: wire.__setitem__(0, wire[0] + len(payload))))
    t0 = time.perf_counter()
    page.goto(f"{url}/?n={n}")
    wait_for_app_run(page)
    page.wait_for_selector("iframe[title*='webgl_scatter']")
    page.wait_for_function("() => [...document.querySelectorAll('iframe')].some(f => /webgl_scatter/.test(f.src))")
    frame = next(f for f in page.frames if "webgl_scatter" in f.url)
    frame.wait_for_function(f"() => window.__scatter && window.__scatter.painted() > 0 && "
                            f"window.__scatter.count() === {n}", timeout=600_000)
    load_s = time.perf_counter() - t0
    timing = frame.evaluate("() => window.__scatter.timing()")
    wire_bytes = wire[0]
    if shots is not None:
        page.screenshot(path=str(shots / f"webgl_bench_{n}_zoomed_out.png"))
    ft = sorted(frame.evaluate(f"() => window.__scatter.frameTimes({frames})"))
    lod_rows = []
    if n > 300_000:                      # the level of detail while moving, several settings in this one page
        for spec in list(lods) * lod_rounds:         # rounds alternate the settings (a busy machine drifts)
            pts, _, how = spec.partition(":")
            auto = pts == "auto"
            frame.evaluate("(o) => window.__scatter.setLod(o)", {"points": 150_000 if auto else int(pts),
                                                                  "adaptive": how != "fixed"})
            frame.wait_for_function("() => !window.__scatter.lodActive()")
            if auto:                     # one move to size the sample by its frame times, then the timed one
                frame.evaluate(f"() => window.__scatter.frameTimes({frames})")
                frame.wait_for_function("() => !window.__scatter.lodActive()")
            drawn = frame.evaluate("() => window.__scatter.lodPoints()")
            t = sorted(frame.evaluate(f"() => window.__scatter.frameTimes({frames})"))
            lod_rows.append((spec, drawn, t[len(t) // 2], t[-1]))
        frame.evaluate("() => window.__scatter.setLod({points: 150000, adaptive: true})")
    frame.evaluate("() => window.__scatter.zoomTo(0, 0, 1)")
    frame.wait_for_function("() => !window.__scatter.lodActive()")     # the lasso starts at rest, every point drawn
    frame.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    w1, t1 = wire[0], time.perf_counter()
    lasso_js = frame.evaluate("(v) => { const t = performance.now(); window.__scatter.lasso(v); "
                              "return performance.now() - t; }", LASSO) / 1000
    page.get_by_text("selection 1").wait_for(timeout=600_000)
    lasso_s = time.perf_counter() - t1
    rerun_bytes = wire[0] - w1
    got = int(page.get_by_text("python got").inner_text().split()[2])
    if shots is not None:                  # zoomed in until the points show their thumbnails
        in_view = frame.evaluate("() => window.__scatter.zoomUntil(0, 150)")
        frame.wait_for_function(f"() => window.__scatter.thumbsDrawn() === {in_view}", timeout=600_000)
        page.screenshot(path=str(shots / f"webgl_bench_{n}_zoomed_in.png"))
    return dict(n=n, bytes=timing["bytes"], wire=wire_bytes, rerun=rerun_bytes, lasso_js=lasso_js, paint_ms=timing["firstPaintMs"], load_s=load_s,
                unpack_ms=timing["unpackMs"], draw_ms=timing["drawMs"], init_ms=timing.get("initMs", 0),
                arrays_ms=timing.get("arraysMs", 0), index_ms=timing.get("indexWaitMs", 0), perf=timing["performanceMode"],
                index=timing.get("indexBuiltIn") or "page",
                frame_med=ft[len(ft) // 2], frame_max=ft[-1], lasso_n=got, lasso_s=lasso_s, lod_rows=lod_rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,70000,1000000")
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--lod", default="auto",
                    help="level-of-detail settings whose frames are timed again on maps above 300,000 points: "
                         "POINTS drawn while moving, ':fixed' for a sample of that fixed size; "
                         "'auto': the map's own (the sample sized by a first move's frame times, then timed) "
                         "('' for none)")
    ap.add_argument("--lod-rounds", type=int, default=2, help="rounds over the --lod settings, alternating")
    ap.add_argument("--baseline-ref", default="90f7407",
                    help="commit whose map is measured in the same run, size by size (git archive; '' for none): "
                         "90f7407, regl-scatterplot's own renderer and the 200 ms rest timer")
    ap.add_argument("--shots", default=str(REPO / "bench" / "out"), help="folder for screenshots ('' for none)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    shots = Path(args.shots) if args.shots else None
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
    tmp = None
    apps = {"current": REPO}
    if args.baseline_ref:
        tmp = tempfile.TemporaryDirectory(prefix="webgl-map-base-")
        apps = {"baseline": unpack_commit(args.baseline_ref, Path(tmp.name)), **apps}
    servers = {}
    rows = []
    try:
        servers = {name: StreamlitServer(APP, root=root) for name, root in apps.items()}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for n in (int(s) for s in args.sizes.split(",")):
                for name, server in servers.items():     # size by size, both apps: they see the same load
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    page.set_default_timeout(600_000)
                    r = measure(page, server.url, n, args.frames, shots if name == "current" else None,
                                [v for v in args.lod.split(",") if v], args.lod_rounds)
                    rows.append({**r, "app": name})
                    page.close()
            browser.close()
    finally:
        for server in servers.values():
            server.close()
        if tmp is not None:
            tmp.cleanup()
    load = os.getloadavg()[0]
    print(f"headless Chromium {CHROMIUM}, software WebGL; load average at the end {load:.1f} on {os.cpu_count()} CPUs")
    if args.baseline_ref:
        print(f"baseline: the map at {args.baseline_ref}; ratio: the baseline's frame median / this row's")
    print(f"{'app':>8} {'points':>10} {'bytes':>11} {'wire MB':>8} {'paint ms':>9} {'unpack':>7} {'draw':>6} {'perf':>5} "
          f"{'index':>6} {'load s':>7} {'frame ms med':>12} {'frame ms max':>12} {'ratio':>6} {'lasso pts':>10} "
          f"{'lasso s':>8} {'in page s':>9} {'rerun MB':>8}")
    base = {r["n"]: r for r in rows if r["app"] == "baseline"}
    for r in rows:
        b = base.get(r["n"])
        print(f"{r['app']:>8} {r['n']:>10,} {r['bytes']:>11,} {r['wire'] / 1e6:>8.2f} {r['paint_ms']:>9.0f} "
              f"{r['unpack_ms']:>7.0f} {r['draw_ms']:>6.0f} {'yes' if r['perf'] else 'no':>5} {r['index']:>6} "
              f"{r['load_s']:>7.1f} {r['frame_med']:>12.1f} {r['frame_max']:>12.1f} "
              f"{(b['frame_med'] / r['frame_med'] if b else float('nan')):>5.2f}x {r['lasso_n']:>10,} "
              f"{r['lasso_s']:>8.2f} {r['lasso_js']:>9.2f} {r['rerun'] / 1e6:>8.2f}")
    print("\nfirst paint split, ms: init (WebGL context) + arrays (point arrays) + index wait = unpack; then draw")
    for r in rows:
        print(f"{r['app']:>8} {r['n']:>10,} init {r['init_ms']:>7.0f}  arrays {r['arrays_ms']:>7.0f}  "
              f"index wait {r['index_ms']:>7.0f}  draw {r['draw_ms']:>7.0f}  paint {r['paint_ms']:>7.0f}")
    lod_rows = [(r["app"], r["n"], *x) for r in rows for x in r["lod_rows"]]
    if lod_rows:
        ref: dict[tuple[int, str], list[float]] = {}
        for app, n, spec, _, med, _ in lod_rows:
            if app == "baseline":
                ref.setdefault((n, spec), []).append(med)
        small = {r["app"]: r["frame_med"] for r in rows if r["n"] < 10_000}
        print("\npan/zoom frames by level of detail (same page, settings alternating; ratio: the baseline's median "
              "for the same setting / this row's" + "".join(f"; the {app}'s small map: {v:.1f} ms"
                                                          for app, v in small.items()) + ")")
        print(f"{'app':>8} {'points':>10} {'LOD setting':>16} {'drawn moving':>12} {'frame ms med':>12} "
              f"{'frame ms max':>12} {'ratio':>6}")
        for app, n, spec, drawn, med, mx in lod_rows:
            r0 = ref.get((n, spec))
            r0 = sorted(r0)[len(r0) // 2] if r0 else None
            print(f"{app:>8} {n:>10,} {spec:>16} {drawn:>12,} {med:>12.1f} {mx:>12.1f} "
                  + (f"{r0 / med:>5.2f}x" if r0 else ""))


if __name__ == "__main__":
    main()
