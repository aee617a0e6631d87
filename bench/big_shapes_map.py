"""A million shapes mapped without a browser: draw, encode (bundled shapes-8d), project, bytes for the map, memory.

    nice -n 10 python bench/big_shapes_map.py [--n 100000,1000000] [--methods pca,tsne,umap] [--threads 2]

Each size runs in its own Python process (so its peak resident memory, VmHWM, is its own) along the path
`python -m vae project assets/shapes-8d --n-train N --split train` and the Latent map take: the shapes
drawn (load_dataset's generator), encoded in batches (vae.analysis.large_map.cached_encode, no cache),
mapped by each method (project_all: PCA on every row; t-SNE and UMAP fitted on a 20,000 sample, the rest
placed with the fitted transform), and the bytes the WebGL map sends for it coloured by a factor
(vae.ui.components.webgl_scatter.pack_points: float32 x, y and a float32 value per point). Prints one
table; the first size is the baseline its ratios (seconds, against the baseline's) are read against.
The peak memory is this process holding the images, latents, maps and packed bytes, not a Streamlit
server (bench/shapes_map_1m.py measures the app's server with the map open in Chromium).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def peak_rss_mib() -> float:
    """VmHWM (peak resident memory) of this process, MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_size(n: int, methods: list[str], fit_points: int) -> dict:
    """Draw, encode and map n shapes in this process; seconds per stage, bytes, peak MiB."""
    import numpy as np

    from vae import load_model
    from vae.analysis.large_map import cached_encode, project_all
    from vae.cli.evaluate_command import dataset_for
    from vae.ui.components.webgl_scatter import pack_points

    model = load_model(REPO / "assets" / "shapes-8d", device="cpu")
    out: dict = {"n": n}
    t = time.perf_counter()
    ds, _ = dataset_for(model, None, "train", {"n_train": n})
    images = ds.train.images
    out["draw_s"] = time.perf_counter() - t
    t = time.perf_counter()
    mu, _, _ = cached_encode(model, images, use_cache=False)
    out["encode_s"] = time.perf_counter() - t
    factor = ds.train.factors[:, list(ds.factor_names).index("x")].numpy()
    for m in methods:
        t = time.perf_counter()
        emb, info = project_all(mu, m, fit_points=fit_points)
        out[f"{m}_s"] = time.perf_counter() - t
        lo, hi = emb.min(0), emb.max(0)
        xy = (2 * (emb - lo) / np.where(hi > lo, hi - lo, 1) - 1).astype(np.float32)
        packed = pack_points(xy, values=factor)
        out[f"{m}_bytes"] = sum(len(b) for b in packed.values() if b is not None)
        del emb, xy, packed
    out["rss_mib"] = peak_rss_mib()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", default="100000,1000000", help="comma-separated sizes; the first is the baseline")
    ap.add_argument("--methods", default="pca,tsne,umap", help="comma list of pca, tsne, umap")
    ap.add_argument("--fit-points", type=int, default=20_000)
    ap.add_argument("--threads", type=int, default=2, help="torch and OpenMP threads (default: 2)")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    if args.child is not None:
        import torch
        torch.set_num_threads(args.threads)
        print(json.dumps(one_size(args.child, methods, args.fit_points)), flush=True)
        return
    rows = []
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "NUMBA_NUM_THREADS": str(args.threads)}
    for n in [int(v) for v in args.n.split(",")]:
        got = subprocess.run([sys.executable, __file__, "--child", str(n), "--methods", ",".join(methods),
                              "--fit-points", str(args.fit_points), "--threads", str(args.threads)],
                             env=env, capture_output=True, text=True)
        if got.returncode != 0:
            sys.exit(f"size {n:,} failed:\n{got.stderr[-3000:]}")
        rows.append(json.loads(got.stdout.strip().splitlines()[-1]))
        print(rows[-1], file=sys.stderr, flush=True)
    base = rows[0]
    print(f"{'points':>10s} {'stage':>14s} {'seconds':>8s} {'vs first size':>14s} {'MB to browser':>14s}")
    for r in rows:
        stages = [("draw shapes", r["draw_s"], None), ("encode", r["encode_s"], None)]
        stages += [(f"{m}", r[f"{m}_s"], r[f"{m}_bytes"]) for m in methods]
        for m in methods:
            stages.append((f"enc + {m}", r["encode_s"] + r[f"{m}_s"], None))
        for name, sec, b in stages:
            bsec = {"draw shapes": base["draw_s"], "encode": base["encode_s"]}.get(name)
            if bsec is None:
                parts = name.replace("enc + ", "").split()
                bsec = base[f"{parts[0]}_s"] + (base["encode_s"] if name.startswith("enc + ") else 0)
            print(f"{r['n']:10,d} {name:>14s} {sec:8.1f} {sec / bsec:13.2f}x "
                  f"{(f'{b / 1e6:.1f}') if b is not None else '-':>14s}")
        print(f"{r['n']:10,d} {'peak RSS MiB':>14s} {r['rss_mib']:8.0f}")


if __name__ == "__main__":
    main()
