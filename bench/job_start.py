"""How long a training job's child process takes to start and run a one-epoch job on digits (a tiny model, so the
start is what is measured), with the forkserver preloading only `vae.train.process_job` (the baseline: the
first `torch.optim.Adam` of each child imported `torch._dynamo`, about 1 CPU-s) and with the preload list
`vae.train.process_job` sets now.

    python bench/job_start.py [--jobs 6] [--rounds 2]

Each variant runs in a fresh interpreter of its own (a process has one forkserver, whose preload list is fixed when
it starts); the variants alternate, `--rounds` times. The first job of an interpreter also starts the forkserver
(its imports): it is reported apart. Prints one row per variant: the median wall seconds of a later job from
`start()` to its end, the CPU seconds of the forkserver per job (it reaps the children, so their CPU counts in its
own), and the ratio baseline / now.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BASELINE_PRELOAD = ["vae.train.process_job"]

CHILD = r"""
import json, multiprocessing as mp, os, sys, time
import vae.train.process_job as pj
from vae.config import ModelConfig, TrainConfig
from vae.data import load_dataset

preload = json.loads(sys.argv[1])
if preload is not None:                      # the baseline: the same context, another preload list
    pj._context = mp.get_context("forkserver")
    pj._context.set_forkserver_preload(preload)
ds = load_dataset("digits")
sys.path.insert(0, sys.argv[3])
from proc_cpu import cpu_s                   # bench/proc_cpu.py: a process's CPU with that of the children it reaped

def forkserver_cpu():
    from multiprocessing import forkserver
    return cpu_s([forkserver._forkserver._forkserver_pid])     # the jobs it forked and reaped

rows = []
for i in range(int(sys.argv[2])):
    before = forkserver_cpu() if i else 0.0
    t = time.perf_counter()
    job = pj.ProcessTrainingJob(ModelConfig(image_size=8, hidden=(8,)), TrainConfig(epochs=1, device="cpu"), ds,
                                live_map=False)
    job.start()
    job.wait(300)
    wall = time.perf_counter() - t
    state = job.snapshot().state
    assert state == "finished", state
    while os.path.exists(f"/proc/{job.pid}"):   # until the forkserver has reaped the child (its CPU counted)
        time.sleep(0.01)
    rows.append([wall, forkserver_cpu() - before])
print(json.dumps(rows))
"""


def run(preload: list[str] | None, jobs: int) -> list[list[float]]:
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(preload), str(jobs), str(REPO / "bench")],
                         cwd=REPO, check=True, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=6, help="jobs per interpreter (the first also starts the forkserver)")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    from vae.train import process_job
    variants = {"baseline (process_job only)": BASELINE_PRELOAD, "now": None}
    got: dict[str, list[list[float]]] = {k: [] for k in variants}
    first: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.rounds):
        for name, preload in variants.items():
            rows = run(preload, args.jobs)
            first[name].append(rows[0][0])
            got[name] += rows[1:]
    print(f"preload now: {process_job.FORKSERVER_PRELOAD}")
    print("| variant | first job (starts the forkserver), s | later job, wall s (median) | later job, child CPU s (median) |")
    print("|---|---|---|---|")
    med = {}
    for name in variants:
        wall = statistics.median(r[0] for r in got[name])
        cpu = statistics.median(r[1] for r in got[name])
        med[name] = (wall, cpu)
        print(f"| {name} | {statistics.median(first[name]):.2f} | {wall:.3f} | {cpu:.2f} |")
    (bw, bc), (nw, nc) = med["baseline (process_job only)"], med["now"]
    print(f"| baseline / now | | {bw / nw:.1f}x | {bc / max(nc, 0.01):.1f}x |")


if __name__ == "__main__":
    main()
