"""Export what a map shows: a CSV table of its points and a zip of PNG images.

    csv = map_csv(index, labels, mu, logvar, xy, class_names=ds.class_names, factors=..., log_px=...)
    data = images_zip(images, [f"test-{i}.png" for i in index])

The CSV has one row per point and the columns
    index, label, label_name, <factor>..., mu_1..mu_D, sigma_1..sigma_D, <axis>..., log_px, elbo
(factors, the map coordinates and the likelihood columns only when given); sigma = exp(logvar / 2)
is q(z|x)'s standard deviation; log p(x) and the ELBO are nats per image. Numbers are written with
repr precision of float32 (9 significant digits), so they read back exactly.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from typing import Sequence

import numpy as np

from vae.dims import dim_number
from vae.imageio import image_grid, png_bytes, to_uint8

__all__ = ["map_csv", "images_zip", "safe_column"]


def safe_column(name: str) -> str:
    """A column name from an axis title: letters, digits and _ only (e.g. "PC1 (54%)" -> "PC1")."""
    base = re.sub(r"\s*\(.*\)$", "", str(name)).strip()
    return re.sub(r"[^0-9A-Za-z_]+", "_", base).strip("_") or "axis"


def map_csv(index, labels, mu, logvar, xy=None, *, class_names: Sequence[str] = (), axis_names: Sequence[str] = (),
            factors=None, factor_names: Sequence[str] = (), log_px=None, elbo=None) -> bytes:
    """The points of a map as CSV bytes (UTF-8), one row per point (see the module docstring).

    index (N,) positions in the split; labels (N,) int; mu, logvar (N, D); xy (N, k) map coordinates
    named by axis_names (default x, y, z); factors (N, F) named by factor_names; log_px, elbo (N,).
    """
    index = np.asarray(index).ravel()
    n = len(index)
    mu, logvar = np.asarray(mu, np.float64), np.asarray(logvar, np.float64)
    labels = np.asarray(labels).ravel()
    if mu.shape[0] != n or logvar.shape != mu.shape or len(labels) != n or mu.ndim != 2:
        raise ValueError(f"index ({n}), labels ({len(labels)}), mu {mu.shape} and logvar {logvar.shape} must agree")
    d = mu.shape[1]
    cols: list[tuple[str, np.ndarray]] = [("index", index.astype(np.int64)), ("label", labels.astype(np.int64))]
    if len(class_names):
        cols.append(("label_name", np.array([class_names[int(l)] if 0 <= int(l) < len(class_names) else str(l)
                                             for l in labels], dtype=object)))
    if factors is not None:
        f = np.asarray(factors, np.float64).reshape(n, -1)
        names = list(factor_names) or [f"factor_{j + 1}" for j in range(f.shape[1])]
        cols += [(safe_column(names[j]), f[:, j]) for j in range(f.shape[1])]
    cols += [(f"mu_{dim_number(j)}", mu[:, j]) for j in range(d)]
    sigma = np.exp(0.5 * logvar)
    cols += [(f"sigma_{dim_number(j)}", sigma[:, j]) for j in range(d)]
    if xy is not None:
        xy = np.asarray(xy, np.float64).reshape(n, -1)
        names = [safe_column(a) for a in axis_names] if len(axis_names) >= xy.shape[1] else ["x", "y", "z"]
        seen: dict[str, int] = {}
        for j in range(xy.shape[1]):
            name = names[j]
            seen[name] = seen.get(name, 0) + 1
            cols.append((f"map_{name}" + (f"_{seen[name]}" if seen[name] > 1 else ""), xy[:, j]))
    for name, v in (("log_px", log_px), ("elbo", elbo)):
        if v is not None:
            v = np.asarray(v, np.float64).ravel()
            if len(v) != n:
                raise ValueError(f"{name} has {len(v)} values for {n} points")
            cols.append((name, v))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([c for c, _ in cols])
    fmt = [(lambda v: str(v)) if a.dtype == object or np.issubdtype(a.dtype, np.integer)
           else (lambda v: f"{v:.9g}") for _, a in cols]
    for i in range(n):
        w.writerow([f(a[i]) for f, (_, a) in zip(fmt, cols)])
    return buf.getvalue().encode("utf-8")


def images_zip(images, names: Sequence[str], scale: int = 1) -> bytes:
    """Images (N, C, H, W) uint8 or float in [0, 1] -> a zip of N PNGs named `names` (nearest-neighbour
    upscaled by `scale`)."""
    a = to_uint8(images)
    if a.ndim != 4 or len(a) != len(names):
        raise ValueError(f"need (N, C, H, W) images and N names, got {a.shape} and {len(names)} names")
    if len(set(names)) != len(names):
        raise ValueError("image names must be unique")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for img, name in zip(a, names):
            zf.writestr(name, png_bytes(image_grid(img[None], pad=0, scale=max(1, int(scale)))))
    return buf.getvalue()
