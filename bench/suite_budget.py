"""Where the whole suite's CPU goes, run as the README runs it (two xdist workers on this machine):

    python bench/suite_budget.py                      # python -m pytest -q -p no:cacheprovider
    python bench/suite_budget.py -- tests/e2e -n 2    # other pytest arguments
    python bench/suite_budget.py --tree /tmp/old       # another checkout (a baseline: git worktree add /tmp/old REF)

bench/suite_cpu.py charges each test file its CPU, one file after another in one process; this runs the suite
as CI does and asks where the CPU of the whole run went, by kind of process: Chromium (browser, renderers, GPU
and utility processes, Playwright's driver), the Streamlit servers, the processes a server forks for its
background work (a training job), pytest's workers, and the commands the tests run (`python -m vae ...`,
torchrun). A poller reads /proc every 0.25 s and keeps, for every process below pytest, the last CPU time it
saw (user + system, not its children's, so nothing counts twice); a process that lived less than 0.25 s is
missed, so the table's sum is a little under the truth.

The suite is CPU-bound on 2 cores (the last line: the mean number of cores it kept busy), so its wall time is
about its CPU seconds over 2: the table says which owners a shorter suite has to take CPU from. pytest's output
passes through; the names of the tests that failed are said again after the table, the last lines printed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

from proc_cpu import cmdline, descendants, own_cpu_s   # a sibling module (bench/)

REPO = Path(__file__).resolve().parents[1]
POLL_S = 0.25


def owner(cmd: str) -> str:
    """The kind of process a command line is."""
    if "chrom" in cmd or "/proc/self/exe --type=" in cmd:
        return "Chromium"
    if "playwright" in cmd and ("node" in cmd or "driver" in cmd):
        return "Playwright's driver"
    if "streamlit run" in cmd:
        return "Streamlit servers"
    if "multiprocessing.forkserver" in cmd or "multiprocessing.spawn" in cmd:
        return "forked background work (training jobs)"
    if "exec(eval(sys.stdin.readline()))" in cmd or re.search(r"-m ?pytest\b", cmd):      # xdist's workers
        return "pytest (workers, in-process tests)"
    return "commands the tests run"


def poll(root: int, seen: dict, stop: threading.Event, own: list) -> None:
    """Fill seen[pid] = [owner, CPU s, command line] for every process below `root`, until `stop`; own[0]: the
    poller's own CPU seconds."""
    while not stop.is_set():
        own[0] = time.thread_time()
        for pid in (root, *descendants(root)):          # the tree below root, as it stands now
            cpu = own_cpu_s(pid)
            if cpu is None:
                continue
            if pid not in seen:                          # (a pid reused within one run is one row: rare)
                cmd = cmdline(pid)
                seen[pid] = [owner(cmd), 0.0, cmd]
            elif "--type=zygote" in seen[pid][2] or not seen[pid][2].strip():
                cmd = cmdline(pid)                      # a forked renderer renames itself after its first look
                if cmd.strip():
                    seen[pid][0], seen[pid][2] = owner(cmd), cmd
            seen[pid][1] = cpu
        stop.wait(POLL_S)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tree", type=Path, default=REPO, help="the checkout to run the suite in (default: this one)")
    ap.add_argument("pytest_args", nargs="*", help="after --: pytest's arguments (default: the README's plain run)")
    args = ap.parse_args()
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args.pytest_args]
    seen: dict = {}
    own = [0.0]
    stop = threading.Event()
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=args.tree, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace")
    poller = threading.Thread(target=poll, args=(proc.pid, seen, stop, own), daemon=True)
    poller.start()
    failed = []                 # pytest's "FAILED ..." / "ERROR ..." summary lines, said again after the table
    for line in proc.stdout:
        sys.stdout.write(line)
        if line.startswith(("FAILED ", "ERROR ")):
            failed.append(line.rstrip())
    rc = proc.wait()
    wall = time.monotonic() - t0
    stop.set()
    poller.join()
    by, count = defaultdict(float), defaultdict(int)
    for kind, cpu, _ in seen.values():
        by[kind] += cpu
        count[kind] += 1
    total = sum(by.values())
    print(f"\n`{' '.join(cmd[1:])}` in {args.tree}: exit {rc}, {wall:.0f} s wall\n")
    print("| owner | processes | CPU s | share |")
    print("|---|---:|---:|---:|")
    for kind in sorted(by, key=by.get, reverse=True):
        print(f"| {kind} | {count[kind]} | {by[kind]:.0f} | {by[kind] / total:.0%} |")
    print(f"| all (sampled) | {sum(count.values())} | {total:.0f} | |")
    print(f"| this poller (not in the sum) | 1 | {own[0]:.0f} | |")
    print(f"\nmean cores busy: {total / wall:.2f} of {os.cpu_count()}; at that rate a 6-minute run has "
          f"{total / wall * 360:.0f} CPU s to spend")
    if failed:                  # last, so that a run read through `| tail` still names what failed
        print(f"\n{len(failed)} failed:\n" + "\n".join(failed))
    sys.exit(rc)


if __name__ == "__main__":
    main()
