"""The first second: a fresh server's first decoded picture on the Decode page, against a baseline app.

    python bench/first_picture.py [--runs 5] [--baseline-ref fea59f6] [--baseline-dir DIR]

For each run and each app (this worktree, and the baseline: the app at `--baseline-ref`, unpacked with
`git archive` into a temporary folder, or an existing checkout `--baseline-dir`), alternating so that both
see the same load:

  1. start `streamlit run app.py` headless on a free port (tests/e2e/conftest.StreamlitServer), wait
     for /_stcore/health;
  2. a fresh Chromium context opens `/` (the Decode page);
  3. time until the latent control's canvas has non-blank pixels (the decoded image, read in the page
     every animation frame).

Two clocks per run: `goto -> picture` (server already healthy) and `spawn -> picture` (from the
`streamlit run` process start, so a slower import at start counts too). Prints the median and each run
of both apps, the ratio current / baseline, and the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, StreamlitServer, unpack_commit  # noqa: E402

# True once the Decode page's latent control has drawn a non-blank decoded image (read back from its canvas).
HAS_PIXELS = """() => {
    const hook = window.__latentControl;          // the component's test hook (its canvas is in a shadow root)
    const lc = hook && Object.values(hook.instances)[0];
    return !!lc && lc.readPixels().some(v => v > 0);
}"""


class Server(StreamlitServer):
    """StreamlitServer started from another folder (the baseline's checkout)."""

    def __init__(self, root: Path):
        self.t_spawn = time.perf_counter()
        # as a user gets it: the torch-free first picture on (vae.ui.decode.first_picture; tests turn it off)
        super().__init__("app.py", {"VAE_FIRST_PICTURE": "1"}, root=root)


def one_run(browser, root: Path) -> tuple[float, float]:
    """(goto -> picture, spawn -> picture) in seconds for a fresh server of the app in `root`."""
    server = Server(root)
    try:
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = ctx.new_page()
        t0 = time.perf_counter()
        page.goto(server.url)
        page.wait_for_function(HAS_PIXELS, timeout=120_000, polling="raf")
        t1 = time.perf_counter()
        ctx.close()
        return t1 - t0, t1 - server.t_spawn
    finally:
        server.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--baseline-ref", default="fea59f6", help="commit of the baseline app (git archive)")
    ap.add_argument("--baseline-dir", type=Path, help="an existing checkout to use as the baseline instead")
    args = ap.parse_args()

    tmp = None
    if args.baseline_dir:
        base = args.baseline_dir.resolve()
    else:
        tmp = tempfile.TemporaryDirectory(prefix="first-picture-base-")
        base = unpack_commit(args.baseline_ref, Path(tmp.name))
    apps = {"baseline": base, "current": REPO}
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in apps}
    load0 = os.getloadavg()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, root in apps.items():          # one unmeasured start each: page cache, .pyc files
            one_run(browser, root)
        for i in range(args.runs):
            for name, root in (apps.items() if i % 2 == 0 else reversed(list(apps.items()))):
                times[name].append(one_run(browser, root))
                print(f"run {i + 1} {name:<8} goto->picture {times[name][-1][0]:.2f} s  "
                      f"spawn->picture {times[name][-1][1]:.2f} s", flush=True)
        browser.close()
    load1 = os.getloadavg()
    if tmp is not None:
        tmp.cleanup()

    print(f"\nload average (1, 5, 15 min): before {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, "
          f"after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}; {args.runs} fresh servers each")
    print(f"baseline: {args.baseline_dir or args.baseline_ref}; current: {REPO}")
    print(f"\n{'app':<10} {'goto->picture median':>21} {'spawn->picture median':>22}  {'ratio (goto)':>12}  runs (goto)")
    mb = statistics.median(t[0] for t in times["baseline"])
    for name in apps:
        g = [t[0] for t in times[name]]
        s = [t[1] for t in times[name]]
        print(f"{name:<10} {statistics.median(g):>19.2f} s {statistics.median(s):>20.2f} s  "
              f"{statistics.median(g) / mb:>11.2f}x  " + " ".join(f"{v:.2f}" for v in g))


if __name__ == "__main__":
    main()
