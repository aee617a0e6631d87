"""What a page's background work costs the server after its visitor has left: Compare's scoring of two models.

    python bench/left_page_cpu.py [--runs 2] [--baseline-ref a598ca1]

For each run and each app (the baseline: the app at `--baseline-ref`, unpacked with `git archive`, whose tasks
ran on for ABANDON_S = 30 s after the last look; then this checkout's), alternating so that machine load hits both
alike, and for each way of leaving:

  other page   the visitor opens Compare (the bundled MNIST models: both scored with IWAE, K = 50, on the 10,000
               test images), waits until the scoring shows its progress, then clicks Decode in the sidebar;
  tab closed   the same, then the tab is closed;

it measures the server's CPU seconds (the Streamlit process and its children, bench/load.py's cpu_split) from
the moment the visitor left until the server rests (under 0.1 CPU-s in each of 3 seconds in a row) or 120 s
pass, and how long that took. Prints one table of medians, each with its ratio to the baseline's (baseline / row:
> 1 is less CPU spent for nobody).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.load import cpu_split  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, StreamlitServer, unpack_commit  # noqa: E402

IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
REST_CPU_S, REST_SECONDS, MAX_WAIT_S = 0.1, 3, 120.0


def server_cpu(server: StreamlitServer) -> float:
    return sum(cpu_split(server.proc.pid).get(k, 0.0) for k in ("server", "training"))


def until_rest(server: StreamlitServer) -> tuple[float, float]:
    """(CPU seconds, seconds) from now until the server rests."""
    t0, c0 = time.monotonic(), server_cpu(server)
    last, quiet = c0, 0
    while quiet < REST_SECONDS and time.monotonic() - t0 < MAX_WAIT_S:
        time.sleep(1.0)
        now = server_cpu(server)
        quiet = quiet + 1 if now - last < REST_CPU_S else 0
        last = now
    return last - c0, time.monotonic() - t0 - (REST_SECONDS if quiet >= REST_SECONDS else 0)


def one_run(browser, root: Path, leave: str) -> dict:
    server = StreamlitServer("app.py", {}, root=root)
    try:
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = ctx.new_page()
        page.set_default_timeout(180_000)
        page.goto(f"{server.url}/compare")
        page.wait_for_selector(IDLE)
        page.get_by_test_id("stProgress").filter(has_text="Scoring").first.wait_for()
        if leave == "other page":
            page.get_by_test_id("stSidebarNav").get_by_text("Decode", exact=True).click()
            page.wait_for_url(lambda url: "compare" not in url)
            cpu, secs = until_rest(server)
        else:
            ctx.close()
            cpu, secs = until_rest(server)
        if leave == "other page":
            ctx.close()
        return {"cpu": cpu, "seconds": secs}
    finally:
        server.terminate()
        server.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--baseline-ref", default="a598ca1")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    results: dict[tuple[str, str], list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="vae-bench-left-") as tmp, sync_playwright() as p:
        base = unpack_commit(args.baseline_ref, Path(tmp))
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        apps = [(f"baseline {args.baseline_ref}", base), ("this checkout", REPO)]
        for run in range(args.runs):
            for leave in ("other page", "tab closed"):
                for name, root in apps:
                    r = one_run(browser, root, leave)
                    results.setdefault((name, leave), []).append(r)
                    print(f"run {run + 1} {name:>18s} {leave:10s}: {r['cpu']:5.1f} cpu-s over {r['seconds']:5.1f} s",
                          flush=True)
        browser.close()

    print("\n| left by | app | server cpu-s after leaving | ratio | seconds until it rests |")
    print("|---|---|---|---|---|")
    for leave in ("other page", "tab closed"):
        base_cpu = statistics.median(r["cpu"] for r in results[(apps[0][0], leave)])
        for name, _ in apps:
            rows = results[(name, leave)]
            cpu = statistics.median(r["cpu"] for r in rows)
            secs = statistics.median(r["seconds"] for r in rows)
            print(f"| {leave} | {name} | {cpu:.1f} | {base_cpu / max(cpu, 0.05):.2f} | {secs:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
