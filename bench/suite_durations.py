"""Seconds per test file from pytest's JUnit XML (setup, call and teardown summed), slowest first.

    python -m pytest --junitxml=/tmp/run.xml ...
    python bench/suite_durations.py /tmp/run.xml [/tmp/other-run.xml]     # two runs: side by side, and the ratio

Module- and session-scoped fixtures (servers, trained stand-ins) are charged to the test that first
asked for them, so a file's figure includes the servers it starts.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import defaultdict


def per_file(path: str) -> tuple[dict[str, float], dict[str, int], float]:
    """(file -> seconds, file -> tests, the run's wall time in seconds) of one JUnit XML report."""
    root = ET.parse(path).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    seconds: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for case in suite.iter("testcase"):
        name = case.get("classname", "").replace(".", "/") + ".py"
        seconds[name] += float(case.get("time", 0.0))
        count[name] += 1
    return seconds, count, float(suite.get("time", 0.0))


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__)
        return 2
    runs = [per_file(p) for p in argv]
    files = sorted(set().union(*(r[0] for r in runs)), key=lambda f: -runs[0][0].get(f, 0.0))
    head = f"{'file':<44} {'tests':>5} " + " ".join(f"{'run ' + str(i + 1) + ' (s)':>11}" for i in range(len(runs)))
    print(head + ("  ratio 2/1" if len(runs) == 2 else ""))
    for f in files:
        row = f"{f:<44} {runs[-1][1].get(f, runs[0][1].get(f, 0)):>5} " + " ".join(
            f"{r[0].get(f, 0.0):>11.1f}" for r in runs)
        if len(runs) == 2 and runs[0][0].get(f):
            row += f"  {runs[1][0].get(f, 0.0) / runs[0][0][f]:>9.2f}"
        print(row)
    e2e = [sum(v for f, v in r[0].items() if "/e2e/" in f) for r in runs]
    print(f"{'tests/e2e/ (all files)':<44} {'':>5} " + " ".join(f"{v:>11.1f}" for v in e2e))
    print(f"{'whole run (wall)':<44} {'':>5} " + " ".join(f"{r[2]:>11.1f}" for r in runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
