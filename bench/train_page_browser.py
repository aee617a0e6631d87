"""What the Train page costs the browser while a run trains, and what that takes from the training itself.

    python bench/train_page_browser.py [--runs 2] [--window-s 30] [--baseline-ref 0506f91]

For each run and each app (the baseline: the app at `--baseline-ref`, unpacked with `git archive`, whose training
curves were WebGL traces (Plotly Scattergl); then this checkout's), alternating so that machine load hits both
alike: a fresh server, headless Chromium (software WebGL, SwiftShader, as on these machines) on the Train page, a
2,000-epoch run on digits started; after 10 s of training, over --window-s seconds:

  browser cpu-s   CPU seconds of this bench's Chromium (the page, its GPU process: SwiftShader draws there)
  server cpu-s    CPU seconds of the Streamlit server and its training process (bench/load.py's cpu_split)
  epochs          epochs the run finished in the window (browser and server share this machine's cores, as
                  on a laptop: what the browser takes, the training loses)

and one table: the medians, and each row's ratio to the baseline's (browser: baseline / row, so > 1 is less CPU;
epochs: row / baseline, so > 1 is faster training).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.load import cpu_split  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, StreamlitServer, unpack_commit  # noqa: E402

WARM_S = 10.0           # training before the window opens (the page's first frames, the map's first draw)


def epoch_of(page) -> int:
    """The epoch the Train page's progress bar names ("running · epoch 49/2000 · ...")."""
    m = re.search(r"epoch (\d+)/", page.get_by_test_id("stProgress").inner_text())
    return int(m.group(1)) if m else 0


def one_run(browser, root: Path, window_s: float) -> dict:
    """One fresh server of the app in `root`: the browser's and the server's CPU seconds and the epochs trained
    over `window_s` seconds of a digits run."""
    server = StreamlitServer("app.py", {}, root=root)
    try:
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = ctx.new_page()
        page.set_default_timeout(180_000)
        page.goto(f"{server.url}/train")
        page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")
        epochs = page.get_by_label("Epochs", exact=True)
        epochs.fill("2000")
        epochs.press("Enter")
        page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")
        page.get_by_role("button", name="Start").click()
        page.get_by_text("Latent space as it learns").wait_for()
        time.sleep(WARM_S)
        c0, e0 = cpu_split(server.proc.pid), epoch_of(page)
        time.sleep(window_s)
        c1, e1 = cpu_split(server.proc.pid), epoch_of(page)
        ctx.close()
        return {"browser": c1["browser"] - c0["browser"], "epochs": e1 - e0,
                "server": c1["server"] + c1["training"] - c0["server"] - c0["training"]}
    finally:
        server.terminate()
        server.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--window-s", type=float, default=30.0)
    ap.add_argument("--baseline-ref", default="0506f91", help="the app before its curves were SVG (git archive)")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    base = Path(tempfile.mkdtemp(prefix="train-page-baseline-"))
    unpack_commit(args.baseline_ref, base)
    apps = {f"baseline {args.baseline_ref} (WebGL curves)": base, "this checkout (SVG curves)": REPO}
    rows: dict[str, list[dict]] = {name: [] for name in apps}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for r in range(args.runs):
            for name, root in apps.items():
                rows[name].append(one_run(browser, root, args.window_s))
                print(f"run {r + 1} {name}: {rows[name][-1]}", file=sys.stderr)
        browser.close()

    med = {name: {k: statistics.median(x[k] for x in runs) for k in ("browser", "server", "epochs")}
           for name, runs in rows.items()}
    b = next(iter(med.values()))
    print(f"\nTrain page, digits, {args.window_s:.0f} s window after {WARM_S:.0f} s of training, "
          f"{args.runs} runs each (medians); {os.cpu_count()} CPUs")
    print(f"{'app':<40} {'browser cpu-s':>13} {'ratio':>6} {'server cpu-s':>13} {'epochs':>7} {'ratio':>6}")
    for name, m in med.items():
        print(f"{name:<40} {m['browser']:13.1f} {b['browser'] / m['browser']:6.2f} {m['server']:13.1f} "
              f"{m['epochs']:7.0f} {m['epochs'] / max(b['epochs'], 1):6.2f}")


if __name__ == "__main__":
    main()
