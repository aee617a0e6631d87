"""Shapes rendering: the strip renderer (vae.data.shapes.render_shapes) against the former one canvas
per image (render_shapes_one_by_one), same factors, same pixels (checked). One table, ratios in this run.

    python bench/shapes_render.py [--n 20000] [--size 32]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from vae.data import shapes as S


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--size", type=int, default=32)
    args = ap.parse_args()
    factors = S._sample_factors(args.n, np.random.default_rng(0))
    rows = []
    for name, fn in (("one canvas per image (before)", S.render_shapes_one_by_one), ("strip of 256 (now)", S.render_shapes)):
        t = time.perf_counter()
        images = fn(factors, args.size)
        rows.append((name, time.perf_counter() - t, images))
    assert (rows[0][2] == rows[1][2]).all(), "the renderers disagree"
    base = rows[0][1]
    print(f"{args.n:,} shapes at {args.size}x{args.size} (identical images)")
    print(f"{'renderer':32s} {'seconds':>8s} {'us/image':>9s} {'1M est. s':>10s} {'speed-up':>9s}")
    for name, sec, _ in rows:
        print(f"{name:32s} {sec:8.2f} {1e6 * sec / args.n:9.1f} {1e6 * sec / args.n:10.0f} {base / sec:8.2f}x")


if __name__ == "__main__":
    main()
