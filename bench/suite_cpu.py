"""CPU seconds of test files, by who spent them: Chromium, the Streamlit servers, pytest's own process.

    python bench/suite_cpu.py tests/e2e/test_live_map.py tests/test_gallery.py [--baseline-ref 72dc578] [--rounds 3]

The suite runs CPU-bound on a 2-core machine (two xdist workers, under 10 % idle), so its time is its CPU
seconds over two: what a test costs is the CPU its whole process tree spends, not its wall time. This runs the
files named one after another in one pytest process (`-n 0`; with `--baseline-ref`, first in that commit's tree,
unpacked with `git archive`, then in this checkout) with a plugin that snapshots, before and after each test,
every process under pytest: its own CPU time and that of its children that ended (a parent's cutime and
cstime, so a renderer that closed with its browser context is counted through the zygote that reaped it). A
process is Chromium's (the browser, its zygotes, renderers, GPU and utility processes, Playwright's driver), a
server's (`streamlit run` and everything under it: training processes, the forkserver), or pytest's (the
process and the commands it ran). Module and session fixtures are charged to the first test that asks for
them; the session's teardown to none; what a server of an earlier test still does (a background task) to the
tests that run meanwhile. Prints one row per file (seconds of CPU by owner, and wall) and, with a
baseline, the ratio baseline / this checkout (> 1: cheaper now). With `--write-costs tests/cpu_costs.json` it
also writes each file's CPU seconds in this checkout into that table (the files named; the others kept), by
which the suite runs the dearest files first (tests/conftest.py):

    python bench/suite_cpu.py tests --write-costs tests/cpu_costs.json

As a pytest plugin by itself (`-p suite_cpu` with this file on PYTHONPATH), it writes the rows to
$SUITE_CPU_OUT (JSON: [test id, wall s, {owner: CPU s}]).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from proc_cpu import cmdline, cpu_s, descendants   # a sibling module: bench/ when run, the plugin's folder inside pytest

OWNERS = ("chromium", "server", "pytest")


# ---------------------------------------------------------------------------------------------- the plugin
def snapshot() -> dict[str, float]:
    """CPU seconds so far of the processes under this one, by owner: each `streamlit run` with everything under
    it, Playwright's driver with everything under it (Chromium), and this process with the rest."""
    below = descendants(os.getpid())
    roots = {"server": [p for p in below if "streamlit run " in cmdline(p)],
             "chromium": [p for p in below if "playwright/driver" in cmdline(p)]}
    trees = {k: set(ps).union(*(descendants(p) for p in ps)) for k, ps in roots.items()}
    rest = set(below) - trees["server"] - trees["chromium"]
    return {"server": cpu_s(trees["server"]), "chromium": cpu_s(trees["chromium"]),
            "pytest": cpu_s(rest | {os.getpid()})}


_rows: list = []
_start: dict = {}

try:
    import pytest

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(item, nextitem):
        _start[item.nodeid] = (snapshot(), time.monotonic())
        yield
        if nextitem is not None:
            _record(item)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(item, nextitem):
        if nextitem is None:           # the last test: its row ends before the session's fixtures are torn down
            _record(item)
        yield
except ImportError:  # run as a script without pytest: only main() is used
    pass


def _record(item) -> None:
    before, t0 = _start.pop(item.nodeid)
    after = snapshot()
    _rows.append((item.nodeid, round(time.monotonic() - t0, 2),
                  {k: round(after.get(k, 0.0) - before.get(k, 0.0), 2) for k in OWNERS}))
    out = os.environ.get("SUITE_CPU_OUT")
    if out:
        Path(out).write_text(json.dumps(_rows))


# ---------------------------------------------------------------------------------------------- the runner
def run_files(tree: Path, files: list[str], plugin_dir: Path) -> dict[str, dict[str, float]]:
    """file -> {owner: CPU s, "wall": s, "tests": n} for `files` run in `tree`."""
    out = plugin_dir / f"rows-{abs(hash(str(tree)))}.json"
    out.unlink(missing_ok=True)                # an earlier round's rows
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_dir), os.environ.get("PYTHONPATH", "")]),
           "SUITE_CPU_OUT": str(out)}
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", "-p", "suite_cpu",
                        *files], cwd=tree, env=env, capture_output=True, text=True)
    print(f"{tree}: {(r.stdout.strip().splitlines() or ['?'])[-1]}", file=sys.stderr, flush=True)
    per_file: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for test_id, wall, cpu in json.loads(out.read_text()) if out.exists() else []:
        row = per_file[test_id.split("::")[0]]
        for k, v in cpu.items():
            row[k] += v
        row["wall"] += wall
        row["tests"] += 1
    return per_file


def _median(per_round: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Each file's row over several rounds: the median of each figure (CPU s by owner, wall s)."""
    import statistics

    files = set().union(*per_round)
    return {f: {k: statistics.median(r.get(f, {}).get(k, 0.0) for r in per_round) for k in (*OWNERS, "wall", "tests")}
            for f in files}


def main(argv: list[str]) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="test files (paths in the repository); a file only one tree has counts there")
    ap.add_argument("--baseline-ref", help="a commit to compare with (its tree unpacked with git archive)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run the trees (the baseline, then this checkout) in turn this many times and keep each file's median "
                         "(this shared machine's speed drifts by 20 %% within minutes: one run of each is no comparison)")
    ap.add_argument("--write-costs", type=Path, help="a JSON table file -> CPU s to update with this checkout's figures")
    args = ap.parse_args(argv)
    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="suite-cpu-") as tmp:
        plugin_dir = Path(tmp) / "plugin"
        plugin_dir.mkdir()
        for name in ("suite_cpu.py", "proc_cpu.py"):
            shutil.copy(Path(__file__).with_name(name), plugin_dir / name)
        trees = []
        if args.baseline_ref:
            base = Path(tmp) / "baseline"
            base.mkdir()
            if (repo.parent / "shared").is_dir():      # ../shared (MNIST) as the checkout's tests find it
                (Path(tmp) / "shared").symlink_to(repo.parent / "shared")
            archive = subprocess.run(["git", "-C", str(repo), "archive", args.baseline_ref], check=True,
                                     capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
            trees.append((args.baseline_ref, base))
        trees.append(("this checkout", repo))
        rounds = [[run_files(tree, [f for f in args.files if (tree / f).exists()], plugin_dir) for _, tree in trees]
                  for _ in range(max(1, args.rounds))]
        runs = [(name, _median([r[i] for r in rounds])) for i, (name, _) in enumerate(trees)]
    if args.write_costs:
        table = json.loads(args.write_costs.read_text()) if args.write_costs.is_file() else {}
        table.update({f: round(sum(row.get(k, 0.0) for k in OWNERS), 1) for f, row in runs[-1][1].items()})
        args.write_costs.write_text(json.dumps(dict(sorted(table.items())), indent=1) + "\n")
    files = sorted(set().union(*(r for _, r in runs)), key=lambda f: -sum(runs[0][1].get(f, {}).get(k, 0) for k in OWNERS))
    head = "| file | tests | " + " | ".join(f"{name}: chromium / server / pytest CPU s, total, wall s" for name, _ in runs)
    print(head + (" | ratio total | ratio wall |" if len(runs) == 2 else " |"))
    print("|---" * (2 + len(runs) + (2 if len(runs) == 2 else 0)) + "|")
    totals = [defaultdict(float) for _ in runs]
    for f in files:
        cells = []
        for (name, r), tot in zip(runs, totals):
            row = r.get(f, {})
            cpu = sum(row.get(k, 0.0) for k in OWNERS)
            for k in (*OWNERS, "wall"):
                tot[k] += row.get(k, 0.0)
            cells.append(" / ".join(f"{row.get(k, 0.0):.1f}" for k in OWNERS) + f", {cpu:.1f}, {row.get('wall', 0.0):.1f}")
        line = f"| {f} | {int(runs[-1][1].get(f, runs[0][1].get(f, {})).get('tests', 0))} | " + " | ".join(cells)
        if len(runs) == 2:
            a, b = (sum(r.get(f, {}).get(k, 0.0) for k in OWNERS) for _, r in runs)
            wa, wb = (r.get(f, {}).get("wall", 0.0) for _, r in runs)
            line += f" | {a / b:.2f} | {wa / wb:.2f}" if b and wb else " | - | -"
        print(line + " |")
    cells = [" / ".join(f"{t[k]:.1f}" for k in OWNERS) + f", {sum(t[k] for k in OWNERS):.1f}, {t['wall']:.1f}"
             for t in totals]
    line = "| all | | " + " | ".join(cells)
    if len(runs) == 2:
        a, b = (sum(t[k] for k in OWNERS) for t in totals)
        line += f" | {a / b:.2f} | {totals[0]['wall'] / totals[1]['wall']:.2f}"
    print(line + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
