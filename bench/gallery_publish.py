"""Publishing into the gallery at once: 10 publishers (processes, as 10 servers' worth of browsers would be
threads of one process; both are measured) against the same 10 publishes one after another.

    python bench/gallery_publish.py [--n 10] [--model assets/mnist-16d]

Prints one row per mode: wall seconds, per-publish p50 / p95 seconds, entries found afterwards (must be n),
leftover files (must be 0). Figures are not measured here (the store alone: copy, fsync, rename, insert).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vae.checkpoint import read_checkpoint_folder  # noqa: E402
from vae.gallery import Gallery  # noqa: E402


def _variant(files: dict[str, bytes], i: int) -> dict[str, bytes]:
    return {**files, "metrics.jsonl": files.get("metrics.jsonl", b"") + f'{{"copy": {i}}}\n'.encode()}


def _one(root: str, files: dict[str, bytes], i: int) -> float:
    t = time.perf_counter()
    Gallery(root).publish(_variant(files, i), name=f"m{i}", owner_token=f"owner-{i}")
    return time.perf_counter() - t


def _proc(root, files, i, start, out):
    out.put("ready")
    start.wait()
    out.put(_one(root, files, i))


def run(mode: str, n: int, files: dict[str, bytes]) -> dict:
    root = tempfile.mkdtemp(prefix=f"gallery-bench-{mode}-")
    Gallery(root)
    times: list[float] = []
    t0 = time.perf_counter()
    if mode == "serial":
        times = [_one(root, files, i) for i in range(n)]
    elif mode == "threads":
        lock = threading.Lock()

        def go(i):
            d = _one(root, files, i)
            with lock:
                times.append(d)
        ts = [threading.Thread(target=go, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    else:
        ctx = mp.get_context("spawn")
        start, out = ctx.Event(), ctx.Queue()
        ps = [ctx.Process(target=_proc, args=(root, files, i, start, out)) for i in range(n)]
        for p in ps:
            p.start()
        for _ in ps:
            assert out.get(timeout=600) == "ready"        # every child has imported and waits
        t0 = time.perf_counter()
        start.set()
        times = [out.get(timeout=600) for _ in ps]
    wall = time.perf_counter() - t0                        # (process exits are not publishing)
    if mode == "processes":
        for p in ps:
            p.join()
    g = Gallery(root)
    entries = len(g.list())
    files_on_disk = sorted(p.name for p in (Path(root) / "blobs").iterdir())
    leftovers = len([f for f in files_on_disk if f not in {e.content for e in g.list()}])
    q = sorted(times)
    return dict(mode=mode, wall=wall, p50=statistics.median(q), p95=q[min(len(q) - 1, int(0.95 * len(q)))],
                entries=entries, leftovers=leftovers)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--model", default=str(REPO / "assets" / "mnist-16d"))
    args = ap.parse_args()
    files = read_checkpoint_folder(Path(args.model))
    mb = sum(len(v) for v in files.values()) / 2**20
    print(f"{args.n} publishes of {Path(args.model).name} ({mb:.1f} MB each)")
    print("| mode | wall s | ratio to serial | per publish p50 s | p95 s | entries | leftover files |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    base = None
    for mode in ("serial", "threads", "processes"):
        r = run(mode, args.n, files)
        base = base or r["wall"]
        print(f"| {mode} | {r['wall']:.2f} | {r['wall'] / base:.2f} | {r['p50']:.3f} | {r['p95']:.3f} | "
              f"{r['entries']} | {r['leftovers']} |")


if __name__ == "__main__":
    main()
