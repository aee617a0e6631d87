"""UMAP maps of latent means (umap-learn): a third projection beside PCA and t-SNE.

    proj = project_umap(mu, 2, n_neighbors=15, min_dist=0.1, progress=lambda i, total, msg: ...)
    xy_new = place_points(proj, z_new)        # vae.analysis.projection: UMAP's transform of new points

UMAP (McInnes et al. 2018) builds a fuzzy k-nearest-neighbour graph (pynndescent) and lays it
out by stochastic gradient descent; like t-SNE it keeps neighbourhoods, and it keeps more of the
global arrangement. umap-learn compiles its kernels with numba on first use in a process (tens
of seconds on a small CPU); later maps are faster. With a seed it runs on one thread and the same
data give the same map. bench/projection_time.py compares it with PCA and t-SNE.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from vae.analysis.projection import Projection, ProgressFn, _as_points, _check_components

__all__ = ["project_umap", "UMAP_NEIGHBOURS", "UMAP_MIN_DIST"]

UMAP_NEIGHBOURS = 15       # umap-learn's default
UMAP_MIN_DIST = 0.1        # umap-learn's default


def project_umap(mu, n_components: int = 2, *, n_neighbors: int = UMAP_NEIGHBOURS, min_dist: float = UMAP_MIN_DIST,
                 seed: int | None = 0, progress: ProgressFn | None = None, n_epochs: int | None = None) -> Projection:
    """UMAP map of latent means mu (N, D) -> Projection with embedding float32 (N, k), k = 2 or 3.

    n_neighbors is lowered to N - 1 for tiny N. The fitted umap.UMAP is kept in `fitted` so new
    points can be placed (place_points). progress(step, 3, message) reports the stages: importing
    (and compiling), the neighbour graph with the layout, done; umap-learn has no finer hook.
    seed=None lets umap-learn use every core (not reproducible).
    """
    t0 = time.perf_counter()
    k = _check_components(n_components)
    x = _as_points(mu, min_points=4).astype(np.float32)
    if int(n_neighbors) != n_neighbors or n_neighbors < 2:
        raise ValueError(f"n_neighbors must be an integer >= 2, got {n_neighbors!r}")
    if not 0.0 <= min_dist <= 1.0:
        raise ValueError(f"min_dist must be in [0, 1], got {min_dist!r}")

    def report(i: int, msg: str) -> None:
        if progress is not None:
            progress(i, 3, msg)

    report(0, "loading umap-learn (compiles on first use)")
    try:
        import umap
    except ImportError:  # pragma: no cover - umap-learn is a dependency
        raise ImportError("UMAP needs the umap-learn package: pip install umap-learn") from None
    nn = int(min(n_neighbors, x.shape[0] - 1))
    reducer = umap.UMAP(n_components=k, n_neighbors=nn, min_dist=float(min_dist), random_state=seed,
                        n_epochs=n_epochs, init="spectral" if x.shape[0] > k + 1 else "random")
    report(1, f"neighbour graph ({nn} neighbours) and layout")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*n_jobs value.*")          # a seed forces one thread
        warnings.filterwarnings("ignore", message=".*spectral initialisation failed.*")
        emb = reducer.fit_transform(x)
    out = np.ascontiguousarray(emb, dtype=np.float32)
    if not np.isfinite(out).all():
        raise ValueError("UMAP produced non-finite coordinates")
    report(3, "done")
    params = dict(n_neighbors=nn, min_dist=float(min_dist), seed=seed, n_epochs=reducer.n_epochs)
    return Projection(method="umap", n_components=k, embedding=out, params=params,
                      seconds=time.perf_counter() - t0, fitted=reducer)
