"""A CPU hog for testing on a busy machine: N processes that spin, each for a bounded time, then stop.

    python bench/cpu_hog.py [--procs N] [--seconds S]          # default: one per core, 900 s
    python bench/cpu_hog.py --procs 2 --seconds 1200 & python -m pytest tests/e2e; kill %1

Each worker is a plain Python loop (no I/O, no memory growth) in a process of its own, so the
scheduler treats it like any other CPU-bound job; every worker checks the clock and exits after
`--seconds`, and the parent stops them all on SIGINT / SIGTERM (or when it exits), so the hog can never
outlive its bound. Prints the load average at start and end.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import signal
import sys
import time


def spin(seconds: float) -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    end = time.monotonic() + seconds
    x = 0
    while time.monotonic() < end:
        for _ in range(100_000):      # ~5 ms of work between looks at the clock
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--procs", type=int, default=os.cpu_count() or 2, help="busy processes (default: one per core)")
    ap.add_argument("--seconds", type=float, default=900.0, help="each stops by itself after this long")
    args = ap.parse_args()
    if args.procs < 1 or not args.seconds > 0:
        ap.error("need --procs >= 1 and --seconds > 0")
    ctx = mp.get_context("spawn")
    workers = [ctx.Process(target=spin, args=(args.seconds,), daemon=True) for _ in range(args.procs)]

    def stop(*_):
        for w in workers:
            if w.is_alive():
                w.terminate()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"cpu_hog: {args.procs} busy processes for {args.seconds:.0f} s (pid {os.getpid()}); "
          f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    print(f"cpu_hog: done; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
