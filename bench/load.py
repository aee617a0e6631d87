"""A crowd on one hosted server: key-to-image and key-to-Python latency on Decode while others train.

    python bench/load.py                       # 10 Decode pages for 30 s, 3 MNIST trainings, hosted mode
    python bench/load.py --pages 4 --seconds 10 --trainers 1 --dataset digits    # a quick look

Starts a real `streamlit run app.py` with VAE_EXPLORER_HOSTED=1 on a loopback port, one headless
Chromium, and one browser context per user (each its own owner cookie):

1. idle: one Decode page alone presses slider keys (ArrowRight / ArrowLeft) for `--idle-seconds`;
2. load: `--pages` Decode pages press keys for `--seconds` while `--trainers` other pages each start
   a training on the Train page (more than VAE_MAX_TRAINING_JOBS wait in the queue).

Per key press it measures, in the page's own clock:
- key-to-image: the latent control's own record, keydown to the decoded image drawn (an MLP
  decoder draws in the browser; `stats().latency_ms`);
- key-to-Python: keydown to the moment the page's own figures (log p(z) and the nearest encoded
  image, drawn by Python in the Decode fragment) show the new point.

Prints a table per context (p50 / p95 of both, presses), the errors seen (exception boxes, console
errors), the queue (the largest queue position any trainer saw, the states they reached), and the
server's peak RSS (VmHWM of the streamlit process). The baseline for the ratios is the idle page of
the same run. Everything is loopback and bounded in time (`--timeout`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, StreamlitServer  # noqa: E402
from tests.e2e.helpers import IGNORED_CONSOLE  # noqa: E402
from bench.proc_cpu import cpu_s, descendants  # noqa: E402

LOGPZ_JS = """() => { const el = [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')]
                       .find(e => e.innerText.includes('log p(z) =')); return el ? el.innerText : null; }"""


def rss_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_split(server_pid: int) -> dict[str, float]:
    """CPU seconds so far: the streamlit process, its training processes, and this bench's browser."""
    trainers = descendants(server_pid)
    mine = set(descendants(os.getpid())) - {server_pid} - set(trainers)
    return {"server": cpu_s([server_pid]), "training": cpu_s(trainers), "browser": cpu_s(mine)}


def pss_kb(pid: int) -> int:
    """Proportional set size: private pages plus a share of shared ones (torch's libraries, mapped by
    the server, the forkserver and every training process, counted once in all)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pss_kb(pid: int) -> int:
    """Memory of `pid` and its descendants (the training processes): the sum of their PSS."""
    return pss_kb(pid) + sum(pss_kb(c) for c in descendants(pid))


async def wait_idle(page, timeout: float = 60_000) -> None:
    await page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=timeout)
    await page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)


class Context:
    def __init__(self, name: str):
        self.name = name
        self.python_ms: list[float] = []
        self.image_ms: list[float] = []
        self.console: list[str] = []
        self.exceptions = 0
        self.timeouts = 0
        self.presses = 0
        self.notes: list[str] = []


async def open_page(browser, url: str, path: str, ctx: Context):
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(120_000)
    page.on("console", lambda m: ctx.console.append(m.text) if m.type == "error" and not IGNORED_CONSOLE.search(m.text)
            else None)
    page.on("pageerror", lambda e: ctx.console.append(f"pageerror: {e}"))
    await page.goto(f"{url}/{path}")
    await wait_idle(page)
    return context, page


async def decode_user(browser, url: str, ctx: Context, seconds: float, start: asyncio.Event | None = None,
                      opened=None):
    context, page = opened or await open_page(browser, url, "", ctx)
    try:
        await page.wait_for_function("() => window.__latentControl && Object.keys(window.__latentControl.instances)"
                                     ".length > 0 && Object.values(window.__latentControl.instances)[0].ready()")
        key = await page.evaluate("() => Object.keys(window.__latentControl.instances)[0]")
        hook = f"window.__latentControl.instances[{key!r}]"
        slider = page.locator("input#lc-z-0")
        await slider.focus()
        if start is not None:
            await start.wait()
        await page.evaluate(f"() => {hook}.resetStats()")
        deadline = time.monotonic() + seconds
        k = 0
        while time.monotonic() < deadline:
            before = await page.evaluate(LOGPZ_JS)
            await page.evaluate("() => { window.__benchT0 = performance.now(); }")
            await page.keyboard.press("ArrowRight" if (k // 5) % 2 == 0 else "ArrowLeft")
            k += 1
            ctx.presses += 1
            try:
                handle = await page.wait_for_function(
                    f"(before) => {{ const t = ({LOGPZ_JS})(); "
                    "return t !== null && t !== before ? performance.now() - window.__benchT0 : 0; }",
                    arg=before, timeout=10_000)
                ctx.python_ms.append(float(await handle.json_value()))
            except Exception:  # noqa: BLE001 - counted, the run goes on
                ctx.timeouts += 1
        stats = await page.evaluate(f"() => {hook}.stats()")
        ctx.image_ms = [float(v) for v in stats.get("latency_ms", [])]
        ctx.exceptions = await page.get_by_test_id("stException").count()
    finally:
        await context.close()


async def trainer_user(browser, url: str, ctx: Context, dataset: str, epochs: int, seconds: float,
                       start: asyncio.Event, opened=None):
    context, page = opened or await open_page(browser, url, "train", ctx)
    try:
        if dataset != "digits":
            await page.get_by_test_id("stMain").get_by_test_id("stSelectbox").filter(has_text="Dataset").click()
            await page.get_by_role("option", name=dataset, exact=True).click()
            await wait_idle(page)
        box = page.get_by_label("Epochs", exact=True)
        await box.fill(str(epochs))
        await box.press("Enter")
        await wait_idle(page)
        await start.wait()
        await page.get_by_role("button", name="Start").click()
        deadline = time.monotonic() + seconds
        states, max_pos = [], 0
        while time.monotonic() < deadline:
            try:   # one read of the page's text: elements come and go between two locator calls
                text = await page.evaluate("""() => {
                    const bar = document.querySelector('[data-testid="stProgress"]');
                    return [bar ? bar.innerText : '', document.body.innerText]; }""")
            except Exception:  # noqa: BLE001 - a page mid-rerun; look again
                text = ["", ""]
            state = text[0].split("·")[0].strip()
            if state and (not states or states[-1] != state):
                states.append(state)
            m = re.search(r"number (\d+) in the queue", text[1])
            if m:
                max_pos = max(max_pos, int(m.group(1)))
            await asyncio.sleep(0.5)
        ctx.notes = [" -> ".join(states) or "no progress", f"queue position seen: {max_pos or '-'}"]
        ctx.exceptions = await page.get_by_test_id("stException").count()
        try:                      # leave nothing running; the job may have ended by itself meanwhile
            await page.get_by_role("button", name="Stop").click(timeout=5_000)
        except Exception:  # noqa: BLE001
            pass
    finally:
        await context.close()


def pct(values: list[float], q: float) -> str:
    return f"{np.percentile(values, q):7.0f}" if values else "      -"


async def main_async(args) -> int:
    from playwright.async_api import async_playwright

    env = {"VAE_EXPLORER_HOSTED": "1", "VAE_MAX_TRAINING_JOBS": str(args.max_jobs)}
    if args.data_dir:       # the operator's copy of MNIST (hosted mode refuses folders from the browser)
        env["VAE_DATA_DIR"] = str(Path(args.data_dir).resolve())
    env.update(dict(kv.split("=", 1) for kv in args.server_env))
    server = StreamlitServer("app.py", env)
    pid = server.proc.pid
    peak = {"tree": 0, "server": 0}
    stop_poll = asyncio.Event()

    async def poll_memory():
        while not stop_poll.is_set():
            peak["tree"] = max(peak["tree"], tree_pss_kb(pid))
            peak["server"] = max(peak["server"], rss_kb(pid, "VmRSS"))
            await asyncio.sleep(0.25)

    rows: list[Context] = []
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            poller = asyncio.create_task(poll_memory())
            # warm the server (model, dataset, latents) so the idle figure is the steady state
            warm = Context("warm-up")
            await decode_user(browser, server.url, warm, 2.0)
            idle = Context("idle (1 page)")
            await decode_user(browser, server.url, idle, args.idle_seconds)
            tree_idle = tree_pss_kb(pid)
            rows.append(idle)
            start = asyncio.Event()
            users = [Context(f"decode {i + 1}") for i in range(args.pages)]
            trainers = [Context(f"train {i + 1}") for i in range(args.trainers)]
            # pages open one after another (13 at once overwhelm a small machine), then all start together
            opened = {}
            for c, path in [(c, "") for c in users] + [(c, "train") for c in trainers]:
                try:
                    opened[c.name] = await open_page(browser, server.url, path, c)
                except Exception as e:  # noqa: BLE001 - reported as that user's error
                    c.console.append(f"could not open the page: {type(e).__name__}")
            jobs = [decode_user(browser, server.url, c, args.seconds, start, opened[c.name])
                    for c in users if c.name in opened]
            jobs += [trainer_user(browser, server.url, c, args.dataset, args.epochs, args.seconds + 5, start,
                                  opened[c.name]) for c in trainers if c.name in opened]

            cpu = {}

            async def go():
                await asyncio.sleep(args.settle)      # pages settle, then everyone starts at once
                cpu["start"] = cpu_split(pid)
                start.set()

            results = await asyncio.wait_for(asyncio.gather(go(), *jobs, return_exceptions=True),
                                             timeout=args.timeout)
            cpu["end"] = cpu_split(pid)
            failed = [r for r in results if isinstance(r, BaseException)]
            for r in failed:
                print(f"a user failed: {type(r).__name__}: {str(r)[:200]}")
            rows += users + trainers
            stop_poll.set()
            await poller
            await browser.close()
    finally:
        tree_end = tree_pss_kb(pid)
        hwm = rss_kb(pid, "VmHWM")
        server.close()

    print(f"\nbench/load.py: hosted `streamlit run app.py`, Decode on the default model (bundled mnist-2d, MLP decoder in the "
          f"browser), {args.pages} pages x {args.seconds:.0f} s + {args.trainers} trainings ({args.dataset}, "
          f"{args.epochs} epochs, VAE_MAX_TRAINING_JOBS={args.max_jobs}); CPUs: {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print(f"{'context':<16}{'presses':>8}{'image p50':>10}{'p95':>7}{'python p50':>11}{'p95':>7}"
          f"{'ratio p50':>10}{'timeouts':>9}{'errors':>7}")
    base = np.percentile(idle.python_ms, 50) if idle.python_ms else float("nan")
    all_img, all_py = [], []
    for c in rows:
        if c.name.startswith("train"):
            continue
        if c is not idle:
            all_img += c.image_ms
            all_py += c.python_ms
        ratio = np.percentile(c.python_ms, 50) / base if c.python_ms else float("nan")
        print(f"{c.name:<16}{c.presses:>8}{pct(c.image_ms, 50)}{pct(c.image_ms, 95)}  {pct(c.python_ms, 50)}"
              f"{pct(c.python_ms, 95)}{ratio:>10.2f}{c.timeouts:>9}{c.exceptions + len(c.console):>7}")
    print(f"{'all loaded':<16}{sum(c.presses for c in rows[1:] if not c.name.startswith('train')):>8}"
          f"{pct(all_img, 50)}{pct(all_img, 95)}  {pct(all_py, 50)}{pct(all_py, 95)}")
    print("\ntrainings:")
    for c in rows:
        if c.name.startswith("train"):
            print(f"  {c.name}: {'; '.join(c.notes)}; errors {c.exceptions + len(c.console)}")
    errors = [(c.name, e) for c in rows for e in c.console]
    print(f"\nerrors: {sum(c.exceptions for c in rows)} exception boxes, {len(errors)} console errors")
    for name, e in errors[:10]:
        print(f"  {name}: {e[:200]}")
    print(f"server memory: the streamlit process's RSS peak {peak['server'] / 1024:.0f} MB (sampled; VmHWM "
          f"{hwm / 1024:.0f} MB); with its training processes (PSS, shared pages counted once): "
          f"{tree_idle / 1024:.0f} MB after the idle page, peak {peak['tree'] / 1024:.0f} MB (sampled), "
          f"at the end {tree_end / 1024:.0f} MB")
    if "start" in cpu and "end" in cpu:
        used = {k: cpu["end"][k] - cpu["start"][k] for k in cpu["end"]}
        print(f"CPU seconds during the loaded phase (of {args.seconds * (os.cpu_count() or 1):.0f} core-seconds): "
              + ", ".join(f"{k} {v:.0f}" for k, v in used.items())
              + " (the browser is this bench's own Chromium with every page; on a real server it is elsewhere)")
    print("times in ms, in each page's own clock; key-to-Python includes the browser's commit of the key "
          "and Python's fragment run; ratio = p50 / the idle page's p50")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--idle-seconds", type=float, default=10.0)
    ap.add_argument("--trainers", type=int, default=3)
    ap.add_argument("--dataset", default="mnist", help="dataset the trainers train on (mnist, digits, shapes)")
    ap.add_argument("--epochs", type=int, default=2)
    shared = REPO.parent / "shared" / "datasets"
    ap.add_argument("--data-dir", default=str(shared) if (shared / "mnist").is_dir() else None,
                    help="the server's VAE_DATA_DIR: a folder whose mnist/ holds the four IDX files, where the "
                         "MNIST trainers find the training split (default: ../shared/datasets when present)")
    ap.add_argument("--max-jobs", type=int, default=2, help="VAE_MAX_TRAINING_JOBS of the server")
    ap.add_argument("--server-env", nargs="*", default=[], metavar="KEY=VALUE",
                    help="more environment variables for the server (e.g. VAE_MAX_TRAINING_JOBS=1)")
    ap.add_argument("--settle", type=float, default=3.0)
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds before the whole run is abandoned")
    return asyncio.run(main_async(ap.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
