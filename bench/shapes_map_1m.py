"""The million-point shapes map in the app, end to end: the bundled shapes-8d model, the sidebar's
"Shapes to draw" at N (drawn, then encoded into the disk cache, both with progress bars), the Latent map's
train split with every point, coloured by a factor. Prints one table (seconds per stage, browser first
paint, bytes, the server's peak memory) and saves screenshots zoomed out and zoomed in (thumbnails).

    python bench/shapes_map_1m.py [--n 1000000] [--colour x] [--shots DIR]

A run with --n 100000 is the baseline row the 1M row is read against (ratios: same machine, same run
of the script only when both --n are given: --n 100000,1000000).
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

from tests.e2e.conftest import StreamlitServer  # noqa: E402
from tests.e2e.helpers import choose_option, goto_page, wait_for_app_run  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def peak_rss_mib(pid: int) -> float:
    """VmHWM (peak resident memory) of `pid`, MiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def scatter_ready(page, cond: str, timeout_ms: float) -> None:
    page.wait_for_function("""(cond) => [...document.querySelectorAll('iframe')].some(f => {
        if (!/webgl_scatter/.test(f.src)) return false;
        try { const s = f.contentWindow.__scatter; return !!s && !!eval(cond); } catch (e) { return false; }
    })""", arg=cond, timeout=timeout_ms)
    return next(f for f in page.frames if "webgl_scatter" in f.url and not f.is_detached())


def one_size(browser, n: int, colour: str, shots: Path) -> dict:
    cache = tempfile.mkdtemp(prefix="vae-shapes-map-")
    server = StreamlitServer(REPO / "app.py", {"VAE_CACHE_DIR": cache})
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(1_800_000)
        page.on("console", lambda m: print("console:", m.text, flush=True) if m.type == "error" else None)
        goto_page(page, server.url, "latent_map?model=shapes-8d")
        scatter_ready(page, "s.painted() > 0", 600_000)
        print("map open", flush=True)
        t0 = time.perf_counter()
        choose_option(page, page.get_by_test_id("stSelectbox").filter(has_text="Shapes to draw"), f"{n:,}")
        page.get_by_text(f"shapes: {n:,} train").wait_for(timeout=1_800_000)    # the sidebar's caption once drawn
        t_drawn = time.perf_counter()
        print(f"drawn {t_drawn - t0:.0f} s", flush=True)
        page.get_by_test_id("stRadio").filter(has_text="Split").get_by_text("train", exact=True).click()
        wait_for_app_run(page, timeout=1_800_000)
        t_encoded = time.perf_counter()
        print(f"encoded {t_encoded - t_drawn:.0f} s", flush=True)
        slider = page.get_by_test_id("stSlider").filter(has_text="Points").get_by_role("slider")
        slider.focus()
        slider.press("End")
        wait_for_app_run(page, timeout=1_800_000)
        choose_option(page, page.get_by_test_id("stSelectbox").filter(has_text="Colour by"), colour, exact=True)
        wait_for_app_run(page, timeout=1_800_000)
        # the draw coloured by the factor has finished (float32 x, y + float32 value: 12 bytes a point); the
        # colour mode alone flips when the message arrives, while the old points are still drawn (one colour)
        frame = scatter_ready(page, f"s.count() === {n} && s.colorMode() === 'value' "
                                    f"&& s.timing().points === {n} && s.timing().bytes === {12 * n}", 1_800_000)
        t_map = time.perf_counter()
        timing = frame.evaluate("() => window.__scatter.timing()")
        shots.mkdir(parents=True, exist_ok=True)
        out = shots / f"shapes_{n}_zoomed_out.png"
        page.screenshot(path=str(out))
        in_view = frame.evaluate("() => window.__scatter.zoomUntil(5000, 120)")
        frame.wait_for_function(f"() => window.__scatter.thumbsDrawn() === {in_view}", timeout=600_000)
        page.screenshot(path=str(shots / f"shapes_{n}_zoomed_in.png"))
        return {"n": n, "draw_s": t_drawn - t0, "encode_s": t_encoded - t_drawn, "map_s": t_map - t_encoded,
                "first_paint_ms": timing.get("firstPaintMs"), "bytes": timing.get("bytes"),
                "rss_mib": peak_rss_mib(server.proc.pid), "thumbs": in_view}
    finally:
        server.close()


def main() -> None:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", default="1000000", help="comma-separated sizes (default: 1000000)")
    ap.add_argument("--colour", default="x", help="factor to colour by (default: x)")
    ap.add_argument("--shots", default=str(REPO / "tests" / "e2e" / "screenshots"))
    args = ap.parse_args()
    os.environ.setdefault("VAE_WARMUP", "0")
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for n in [int(v) for v in args.n.split(",")]:
            rows.append(one_size(browser, n, args.colour, Path(args.shots)))
            print(rows[-1], flush=True)
        browser.close()
    base = rows[0]
    print(f"{'points':>10s} {'draw s':>8s} {'encode s':>9s} {'map s':>7s} {'1st paint ms':>13s} {'MB sent':>8s} "
          f"{'server peak MiB':>16s} {'paint ratio':>12s}")
    for r in rows:
        print(f"{r['n']:10,d} {r['draw_s']:8.1f} {r['encode_s']:9.1f} {r['map_s']:7.1f} {r['first_paint_ms']:13.0f} "
              f"{r['bytes'] / 1e6:8.1f} {r['rss_mib']:16.0f} {r['first_paint_ms'] / base['first_paint_ms']:11.2f}x")


if __name__ == "__main__":
    main()
