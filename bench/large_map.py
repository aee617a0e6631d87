"""All 70,000 MNIST latents of assets/mnist-16d: t-SNE on everything vs fitted on a sample + placed, openTSNE,
UMAP on everything and UMAP fitted on a sample + placed (the app's and `python -m vae project`'s path), and
UMAP shown as it computes: the sample's fit with umap-learn's own loop against ours with a copy of the layout
every 4 epochs (vae.analysis.umap_projection; the same map), and the app's path with and without the frames.

    nice -n 5 python bench/large_map.py [--data-dir ../shared/datasets/mnist] [--skip opentsne,umap]

Prints one table: seconds, ratio to openTSNE defaults (n_jobs=2) in the same run (to the first map
timed when openTSNE is skipped), 10-NN label accuracy of the map and its trustworthiness (k = 10, on a seeded sample of 2,000 rows; vae.analysis.map_quality). Encodings come from vae.analysis.large_map.cached_encode (cache in a temporary folder).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from vae import load_model
    from vae.analysis.large_map import cached_encode, project_all
    from vae.analysis.map_quality import map_quality
    from vae.analysis.projection import project_tsne
    from vae.cli.evaluate_command import dataset_for

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets" / "mnist"))
    ap.add_argument("--fit-points", type=int, default=20_000)
    ap.add_argument("--skip", default="", help="comma list of rows to leave out: full, full-old, sample, opentsne, "
                                               "umap, umap-sample, umap-frames")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    model = load_model(ROOT / "assets" / "mnist-16d", device="cpu")
    ds, _ = dataset_for(model, args.data_dir, "train")
    images = torch.cat([ds.train.images, ds.test.images])
    labels = torch.cat([ds.train.labels, ds.test.labels]).numpy()
    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        mu, _, _ = cached_encode(model, images, cache_dir=cache)
        enc = time.perf_counter() - t0
    rows = [("encode 70,000 (batched)", enc, None, None)]

    def timed(name, fn):
        t = time.perf_counter()
        emb = fn()
        sec = time.perf_counter() - t
        q = map_quality(mu, emb, labels)
        rows.append((name, sec, q["knn_accuracy"], q["trustworthiness"]))
        print(f"  {name}: {rows[-1][1]:.1f} s", file=sys.stderr, flush=True)

    if "opentsne" not in skip:
        from openTSNE import TSNE
        timed("openTSNE defaults (n_jobs=2)", lambda: np.asarray(TSNE(n_jobs=2, random_state=0).fit(mu)))
    if "full" not in skip:     # from TSNE_LARGE_POINTS: 75 + 75 iterations on 1.5 x perplexity neighbours
        timed("ours, t-SNE on all 70,000", lambda: project_tsne(mu, seed=0).embedding)
    if "full-old" not in skip:  # the schedule of smaller maps: 125 + 250 iterations, openTSNE's 90 neighbours
        timed("ours, all 70,000, 125+250 its, 90 neighbours",
              lambda: project_tsne(mu, seed=0, early_exaggeration_iter=125, n_iter=250, k_neighbors=90).embedding)
    if "sample" not in skip:
        timed(f"ours, t-SNE fit {args.fit_points:,} + place rest",
              lambda: project_all(mu, "tsne", fit_points=args.fit_points)[0])
    if not {"umap", "umap-sample", "umap-frames"} <= skip:
        from vae.analysis.umap_projection import project_umap
        from vae.analysis.projection import place_points
        # warm-up: numba compiles the fit and the transform; on 5,000 rows, since umap-learn searches neighbours
        # exactly below 4,096 and with pynndescent above (whose compile, a warm-up of 500 rows left to the first row
        # timed: 42.6 s against 13.6 s for the same work in the next row)
        warm = project_umap(mu[:5000], n_epochs=10)
        place_points(warm, mu[5000:5500])
    if "umap" not in skip:
        timed("UMAP on all 70,000 (after warm-up)", lambda: project_umap(mu, seed=0).embedding)
    if "umap-sample" not in skip:
        timed(f"UMAP fit {args.fit_points:,} + place rest (warm)",
              lambda: project_all(mu, "umap", fit_points=args.fit_points)[0])
    if "umap-frames" not in skip:
        frames = []
        timed(f"UMAP fit {args.fit_points:,} + place, with frames",
              lambda: project_all(mu, "umap", fit_points=args.fit_points,
                                  snapshot=lambda it, total, xy, rows: frames.append(it))[0])
        fit_idx = np.sort(np.random.default_rng(0).choice(len(mu), min(len(mu), args.fit_points), replace=False))
        sample = mu[fit_idx]
        fit_rows = []

        def fit_only(name, **watch):
            t = time.perf_counter()
            emb = project_umap(sample, seed=0, **watch).embedding
            fit_rows.append((name, time.perf_counter() - t, emb))
            print(f"  {name}: {fit_rows[-1][1]:.1f} s", file=sys.stderr, flush=True)

        fit_only("umap-learn's loop, no frames")
        fit_only("ours, a frame every 4 epochs", snapshot=lambda e, n, xy: None, progress=lambda i, n, m: None)
    # the ratio's baseline: openTSNE, or the first map timed when it was skipped (the header says which)
    base_name, base = next(((n, s) for n, s, _, _ in rows if n.startswith("openTSNE")),
                           next(((n, s) for n, s, acc, _ in rows if acc is not None), (None, None)))
    if base_name is not None and not base_name.startswith("openTSNE"):
        print(f"ratios against: {base_name}")
    vs = "vs openTSNE" if base_name is None or base_name.startswith("openTSNE") else "vs 1st map"
    print(f"{'method':44s} {'seconds':>8s} {vs:>12s} {'10-NN acc':>10s} {'trustw.':>8s}")
    for name, sec, acc, tw in rows:
        ratio = f"{base / sec:.2f}x" if base and acc is not None else "-"
        print(f"{name:44s} {sec:8.1f} {ratio:>12s} {('%.4f' % acc) if acc is not None else '-':>10s} "
              f"{('%.4f' % tw) if tw is not None else '-':>8s}")
    if "umap-frames" not in skip:
        plain = next(s for n, s, _, _ in rows if n.startswith("UMAP fit") and n.endswith("(warm)")) \
            if "umap-sample" not in skip else None
        framed = next(s for n, s, _, _ in rows if n.endswith("with frames"))
        print(f"\nUMAP shown as it computes ({len(frames)} frames of the {args.fit_points:,}-row fit):")
        if plain is not None:
            print(f"  app path with frames / without: {framed / plain:.3f}x ({framed:.1f} s / {plain:.1f} s)")
        (n0, s0, e0), (n1, s1, e1) = fit_rows
        print(f"  fit of {args.fit_points:,} alone, {n1} / {n0}: {s1 / s0:.3f}x ({s1:.1f} s / {s0:.1f} s); "
              f"same map: {np.array_equal(e0, e1)}")


if __name__ == "__main__":
    main()
