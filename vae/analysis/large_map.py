"""Maps of every point: encodings and projections cached on disk, t-SNE/UMAP fitted on a sample.

    mu, logvar = cached_encode(model, images, data_key="mnist/all", progress=lambda done, total: ...)
    emb, info = cached_project(mu, "umap", progress=lambda i, total, msg: ...)   # fit_points: the method's

Encodings are stored per model (a hash of its parameters), data (a hash of the image bytes and the
caller's `data_key`) and batch-independent settings, so opening the same model on the same split a
second time reads one .npz instead of encoding again. Projections are stored per points (a hash of
mu) and settings. t-SNE and UMAP of N > fit_points rows are fitted on a seeded sample of fit_points
rows (by default the method's own: ProjectionMethod.fit_points, 100,000 for t-SNE, 20,000 for UMAP); the other rows are placed with the fitted map's transform (vae.analysis.projection.place_points)
in chunks, so the progress callback moves and memory stays bounded. PCA always uses every row.

The cache folder is $VAE_CACHE_DIR/maps (see vae.data.download.default_cache_dir) unless given.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import torch

__all__ = ["cached_encode", "cached_project", "project_all", "projection_cache_path", "read_projection",
           "write_projection", "model_fingerprint", "array_fingerprint",
           "map_cache_dir", "default_fit_points", "FIT_POINTS"]

FIT_POINTS = 20_000          # above this many rows a slow map is a large map: cached on disk, maybe sampled
PLACE_CHUNK = 10_000         # rows placed per transform call (one progress step each)


def map_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The folder of cached encodings and projections (created on first write)."""
    if cache_dir is not None:
        return Path(cache_dir)
    from vae.data.download import default_cache_dir
    return default_cache_dir() / "maps"


def array_fingerprint(*arrays) -> str:
    """sha256 (hex, 24 chars) of the shapes, dtypes and bytes of numpy / torch arrays."""
    h = hashlib.sha256()
    for a in arrays:
        a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
        a = np.ascontiguousarray(a)
        h.update(f"{a.shape}{a.dtype}".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()[:24]


def model_fingerprint(model: torch.nn.Module) -> str:
    """sha256 (hex, 24 chars) of a model's parameter and buffer names and values."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(memoryview(np.ascontiguousarray(t.detach().cpu().float().numpy())).cast("B"))
    return h.hexdigest()[:24]


def _save_npz(path: Path, **arrays) -> None:
    """Write atomically (temporary file + rename) so a killed run leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=path.parent)
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_npz(path: Path, keys) -> dict | None:
    try:
        with np.load(path) as f:
            return {k: f[k] for k in keys}
    except (OSError, KeyError, ValueError):
        return None                       # missing or damaged: recompute


def cached_encode(model, images, *, data_key: str = "", batch_size: int = 1024,
                  progress: Callable[[int, int], None] | None = None,
                  cache_dir: str | os.PathLike | None = None, use_cache: bool = True) -> tuple[np.ndarray, np.ndarray, bool]:
    """Posterior means and log-variances of every image, read from the cache when present.

    images: uint8 (N, C, H, W) (torch or numpy). Returns (mu float32 (N, D), logvar float32 (N, D),
    hit) where hit is True when the cache answered. progress(done, N) is called after each batch
    of `batch_size` images (and once with N, N on a cache hit).
    """
    from vae.analysis.latent import encode_dataset

    n = int(images.shape[0])
    key = hashlib.sha256(f"{model_fingerprint(model)}|{array_fingerprint(images)}|{data_key}".encode()).hexdigest()[:32]
    path = map_cache_dir(cache_dir) / f"enc-{key}.npz"
    if use_cache:
        got = _load_npz(path, ("mu", "logvar"))
        if got is not None and got["mu"].shape[0] == n:
            if progress is not None:
                progress(n, n)
            return got["mu"], got["logvar"], True
    mu, logvar = encode_dataset(model, images, batch_size=batch_size, progress=progress)
    if use_cache:
        _save_npz(path, mu=mu, logvar=logvar)
    return mu, logvar, False


def default_fit_points(method: str, fit_points: int | None = None) -> int:
    """The rows a slow `method` is fitted on at most: `fit_points`, or the method's own default when None.
    ValueError for an unknown method or fewer than 4."""
    from vae.analysis.projection_methods import projection_method

    m = projection_method(method).fit_points if fit_points is None else int(fit_points)
    if m < 4:
        raise ValueError(f"fit_points must be at least 4, got {m}")
    return m


def project_all(mu, method: str, *, fit_points: int | None = None, seed: int = 0, n_components: int = 2,
                progress: Callable[[int, int, str], None] | None = None,
                snapshot: Callable[[int, int, np.ndarray, np.ndarray], None] | None = None,
                **settings) -> tuple[np.ndarray, dict]:
    """Map every row of mu (N, D) -> (embedding float32 (N, k), info dict).

    method: a name in vae.analysis.projection_methods.PROJECTIONS. A fast method (PCA) is fitted on all
    rows; a slow one (t-SNE, UMAP) on min(N, fit_points) rows drawn with `seed` (fit_points None: the
    method's own default, ProjectionMethod.fit_points), the rest placed with the fitted transform in chunks of PLACE_CHUNK. info holds method, n, fitted
    (rows fitted), placed (rows placed), seconds and the projection's params. progress(step, total,
    message) runs over the fit's own steps and then one step per placed chunk. Methods with a live layout
    (t-SNE, UMAP; ProjectionMethod.live_layout): snapshot(iteration, total, layout float32 (m, k), rows int (m,))
    receives the fitted sample's layout as it computes, rows being the sample's row numbers in mu.
    """
    import time

    from vae.analysis.projection import place_points
    from vae.analysis.projection_methods import projection_method

    t0 = time.perf_counter()
    x = np.ascontiguousarray(np.asarray(mu, dtype=np.float32))
    if x.ndim != 2 or x.shape[0] < 4:
        raise ValueError(f"need latent points of shape (N >= 4, D), got {x.shape}")
    n = x.shape[0]
    how = projection_method(method)
    fit_points = default_fit_points(method, fit_points)
    if not how.slow:                                   # fast enough to fit on every row
        proj = how.fit(x, n_components, seed=seed, progress=progress, **settings)
        return proj.embedding, dict(method=method, n=n, fitted=n, placed=0,
                                    seconds=time.perf_counter() - t0, params=proj.params)
    m = min(n, int(fit_points))
    fit_idx = np.sort(np.random.default_rng(seed).choice(n, m, replace=False)) if m < n else np.arange(n)
    rest = np.setdiff1d(np.arange(n), fit_idx, assume_unique=True)
    chunks = [rest[i:i + PLACE_CHUNK] for i in range(0, len(rest), PLACE_CHUNK)]
    fit_total = [1]

    def fit_progress(i, total, msg):
        fit_total[0] = total
        if progress is not None:
            progress(i, total + len(chunks), f"fit on {m:,} of {n:,}: {msg}")

    live = {}
    if snapshot is not None and how.live_layout:
        live["snapshot"] = lambda it, total, xy: snapshot(it, total, xy, fit_idx)
    proj = how.fit(x[fit_idx], n_components, seed=seed, progress=fit_progress, **settings, **live)
    out = np.empty((n, proj.embedding.shape[1]), np.float32)
    out[fit_idx] = proj.embedding
    for j, chunk in enumerate(chunks):
        if progress is not None:
            progress(fit_total[0] + j, fit_total[0] + len(chunks), f"placing rows {chunk[0]:,}.. ({len(rest):,} in all)")
        out[chunk] = place_points(proj, x[chunk], placed_in_all=len(rest))
    if progress is not None:
        progress(fit_total[0] + len(chunks), fit_total[0] + len(chunks), "done")
    if not np.isfinite(out).all():
        raise ValueError(f"{method} produced non-finite coordinates")
    return out, dict(method=method, n=n, fitted=m, placed=int(len(rest)), seconds=time.perf_counter() - t0,
                     params={k: v for k, v in proj.params.items() if isinstance(v, (int, float, str, bool, type(None)))})


def projection_cache_path(mu, method: str, *, fit_points: int | None = None, seed: int = 0, n_components: int = 2,
                          cache_dir: str | os.PathLike | None = None, **settings) -> Path:
    """Where the map of these points (N, D) with these settings is stored (the file may not exist)."""
    spec = json.dumps(dict(method=method, fit_points=default_fit_points(method, fit_points), seed=seed, k=n_components,
                           **{k: settings[k] for k in sorted(settings)}), sort_keys=True, default=str)
    key = hashlib.sha256(f"{array_fingerprint(np.asarray(mu, np.float32))}|{spec}".encode()).hexdigest()[:32]
    return map_cache_dir(cache_dir) / f"proj-{key}.npz"


def read_projection(path: Path) -> tuple[np.ndarray, dict] | None:
    """(embedding, info with cached=True) stored at path, or None when missing or damaged."""
    got = _load_npz(path, ("embedding", "info"))
    return None if got is None else (got["embedding"], {**json.loads(str(got["info"])), "cached": True})


def write_projection(path: Path, embedding: np.ndarray, info: dict) -> None:
    """Store a map atomically for read_projection."""
    _save_npz(path, embedding=embedding, info=np.array(json.dumps(info, default=str)))


def cached_project(mu, method: str, *, fit_points: int | None = None, seed: int = 0, n_components: int = 2,
                   progress: Callable[[int, int, str], None] | None = None,
                   cache_dir: str | os.PathLike | None = None, use_cache: bool = True,
                   snapshot: Callable[[int, int, np.ndarray, np.ndarray], None] | None = None,
                   **settings) -> tuple[np.ndarray, dict]:
    """project_all, stored per (points, method, fit_points, seed, k, settings); info["cached"] says a hit.
    snapshot: as project_all's (not part of the key; never called on a hit)."""
    path = projection_cache_path(mu, method, fit_points=fit_points, seed=seed, n_components=n_components,
                                 cache_dir=cache_dir, **settings)
    if use_cache:
        got = read_projection(path)
        if got is not None:
            if progress is not None:
                progress(1, 1, "read from cache")
            return got
    emb, info = project_all(mu, method, fit_points=fit_points, seed=seed, n_components=n_components,
                            progress=progress, snapshot=snapshot, **settings)
    if use_cache:
        write_projection(path, emb, info)
    return emb, {**info, "cached": False}
