"""2-D and 3-D maps of latent means: PCA (instant, invertible) and t-SNE (openTSNE, tuned for speed).

    proj = project_pca(mu)                    # mu (N, D) float32 -> proj.embedding (N, 2)
    z = proj.inverse_transform(clicked_xy)    # (M, 2) map coordinates -> (M, D) latent points
    proj = project_tsne(mu, progress=lambda i, total, msg: ...)

Why our t-SNE is fast. openTSNE's defaults (250 early-exaggeration + 500 iterations) take ~40 s on
10,000 x 20 on a 2-core CPU, and almost all of it goes to the 500 normal iterations: the FFT
gradient interpolates on a grid with one interval per unit of embedding width, and once the
exaggeration is switched off the map spreads to a width of ~100, so the FFT grid grows to
~300 x 300 nodes. Two settings remove most of that cost without hurting the map:
  - `ints_in_interval=2`: an interval covers two units of embedding width, so the grid has a quarter
    of the nodes. On MNIST latents, kNN label accuracy and trustworthiness are unchanged.
  - 125 early-exaggeration + 250 normal iterations (half the default): the clusters form during
    the first ~100 iterations with PCA initialisation and learning rate N/12; the rest only spaces them.
bench/projection_time.py measures time, kNN (k=10) label accuracy and trustworthiness against
scikit-learn's and openTSNE's defaults on MNIST latents.

Large maps. From TSNE_LARGE_POINTS points the defaults change again: the neighbour search (Annoy, 3 x perplexity
= 90 neighbours in openTSNE) took 40% of a 70,000-point map, and with learning rate N / 12 the map of 70,000
converges long before 125 + 250 iterations: 10-NN accuracy of the 70,000 MNIST latents was 0.955 after the
exaggeration, 0.965 after 25 more iterations, 0.965 after 250. 75 + 75 iterations on 1.5 x perplexity = 45
neighbours (the perplexity's Gaussian cut at the 45th neighbour) gave 0.966, openTSNE's defaults 0.966, in
bench/large_map.py (README: its table).

3-D maps: openTSNE's FFT gradient supports at most 2 dimensions, so 3-D uses Barnes-Hut, which is
several times slower (~30-50 s for 10,000 points on 2 cores, versus ~6 s for 2-D).

Small maps: the FFT gradient has a floor (its grid has at least 50 intervals a side whatever N is), so
300 points took as long as several thousand (2.7 s of CPU, 13 s on a loaded machine, where
scikit-learn took 0.7 s). Up to TSNE_BH_MAX_POINTS points a 2-D map uses Barnes-Hut instead, which
costs about N log N: 0.18 s of CPU for 300 points, 3.0 s against FFT's 3.9 s for 2,000; FFT wins from
about 2,500 points (5,000: FFT 5.5 s, Barnes-Hut 9.2 s). kNN label accuracy is the same within noise.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = ["Projection", "project_pca", "project_tsne", "place_points", "knn_label_accuracy", "ProgressFn"]

ProgressFn = Callable[[int, int, str], Any]  # progress(iteration, total_iterations, message)

TSNE_EARLY_ITER = 125       # iterations with early exaggeration (openTSNE default 250)
TSNE_ITER = 250             # normal iterations after it (openTSNE default 500)
TSNE_EXAGGERATION = 12.0    # early exaggeration factor (the default of both libraries)
TSNE_INTS_IN_INTERVAL = 2   # FFT grid: embedding units per interpolation interval (openTSNE default 1)
TSNE_BH_MAX_POINTS = 2000   # up to this many points a 2-D map uses Barnes-Hut: the FFT grid's fixed cost dominates
# Large maps (N >= TSNE_LARGE_POINTS): a shorter schedule on fewer neighbours, same 10-NN accuracy as openTSNE
TSNE_LARGE_POINTS = 50_000
TSNE_LARGE_EARLY_ITER = 75  # with learning rate N / 12 the clusters of 70,000 MNIST latents form in ~75 iterations
TSNE_LARGE_ITER = 75        # ... and 10-NN accuracy stops rising 25-50 normal iterations later (0.965 at 25)
TSNE_LARGE_NEIGHBOURS = 1.5  # x perplexity: neighbours searched (openTSNE: 3 x); the search was 40% of the time


@dataclass
class Projection:
    """A low-dimensional map of N latent points.

    embedding: float32 (N, k), one row per input point, k = n_components.
    For PCA, `mean` (D,) and `components` (k, D) (orthonormal rows) make the map linear and
    invertible: transform(z) = (z - mean) @ components.T, inverse_transform(p) = p @ components + mean.
    With k = D (a 2-d latent on a 2-d map) the map is a rotation about the mean, so
    inverse_transform(transform(z)) == z. t-SNE has no transform: its map is only defined on the
    points it was fitted to.
    """

    method: str                                   # "pca" | "tsne"
    n_components: int                             # k: 2 or 3
    embedding: np.ndarray                         # float32 (N, k)
    mean: np.ndarray | None = None                # PCA: float64 (D,)
    components: np.ndarray | None = None          # PCA: float64 (k, D), orthonormal rows
    explained_variance_ratio: np.ndarray | None = None  # PCA: (k,) fraction of the total variance per axis
    params: dict[str, Any] = field(default_factory=dict)  # settings used (perplexity, iterations, ...)
    seconds: float = 0.0                          # wall time of the fit
    fitted: Any = field(default=None, repr=False, compare=False)  # t-SNE / UMAP: the fitted object (place_points)

    @property
    def invertible(self) -> bool:
        """True when transform / inverse_transform exist (PCA)."""
        return self.components is not None

    def _require_linear(self, what: str) -> None:
        if self.components is None:
            raise ValueError(f"{what} is only defined for a linear projection (PCA); a {self.method} map "
                             "has no formula for new points")

    def transform(self, z) -> np.ndarray:
        """Latent points (M, D) or (D,) -> map coordinates float32 (M, k) or (k,)."""
        self._require_linear("transform")
        z = np.asarray(z, dtype=np.float64)
        d = self.components.shape[1]
        if z.shape[-1] != d or z.ndim not in (1, 2):
            raise ValueError(f"transform expects latent points of shape (M, {d}) or ({d},), got {z.shape}")
        return ((z - self.mean) @ self.components.T).astype(np.float32)

    def inverse_transform(self, p) -> np.ndarray:
        """Map coordinates (M, k) or (k,) -> latent points float32 (M, D) or (D,).

        The point of the latent space on the plane (or 3-space) spanned by the components through
        the mean; for k < D the other directions are set to the mean's.
        """
        self._require_linear("inverse_transform")
        p = np.asarray(p, dtype=np.float64)
        if p.shape[-1] != self.n_components or p.ndim not in (1, 2):
            raise ValueError(f"inverse_transform expects map coordinates of shape (M, {self.n_components}) "
                             f"or ({self.n_components},), got {p.shape}")
        return (p @ self.components + self.mean).astype(np.float32)


def _as_points(mu, name: str = "mu", min_points: int = 2) -> np.ndarray:
    """Validate latent means: a finite 2-d array (N, D) -> float64 numpy."""
    if hasattr(mu, "detach"):  # a torch tensor, possibly on a GPU
        mu = mu.detach().cpu().numpy()
    x = np.asarray(mu, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array (N points, D dims), got shape {x.shape}")
    if x.shape[0] < min_points:
        raise ValueError(f"{name} has {x.shape[0]} point(s); a projection needs at least {min_points}")
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).any(axis=1).sum())
        raise ValueError(f"{name} has {bad} row(s) with NaN or infinite values")
    return x


def _usable_cpus() -> int:
    """CPUs this process may run on (respects taskset / container limits where the OS tells)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _check_components(n_components: int, allowed=(2, 3)) -> int:
    if n_components not in allowed:
        raise ValueError(f"n_components must be one of {allowed}, got {n_components!r}")
    return int(n_components)


def fix_component_signs(vt: np.ndarray) -> np.ndarray:
    """Principal axes (k, D) with each row's largest-magnitude loading made positive (a unique sign)."""
    signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])
    return vt * np.where(signs == 0, 1.0, signs)[:, None]


def project_pca(mu, n_components: int = 2) -> Projection:
    """Principal components of latent means mu (N, D) -> Projection with embedding (N, k).

    Exact SVD of the centred data (about a millisecond for 10,000 x 20). Component signs are fixed
    (largest-magnitude loading positive) so the same data always gives the same map.
    """
    t0 = time.perf_counter()
    k = _check_components(n_components)
    x = _as_points(mu, min_points=2)
    if k > x.shape[1]:
        raise ValueError(f"PCA to {k} components needs at least {k} latent dimensions; mu has {x.shape[1]}")
    mean = x.mean(axis=0)
    xc = x - mean
    _, s, vt = np.linalg.svd(xc, full_matrices=False)  # vt (min(N,D), D)
    vt = fix_component_signs(vt[:k])
    var = s ** 2
    total = var.sum()
    ratio = var[:k] / total if total > 0 else np.zeros(k)
    return Projection(method="pca", n_components=k, embedding=(xc @ vt.T).astype(np.float32), mean=mean,
                      components=vt, explained_variance_ratio=ratio, params={},
                      seconds=time.perf_counter() - t0)


def project_tsne(mu, n_components: int = 2, *, perplexity: float = 30.0, seed: int = 0,
                 progress: ProgressFn | None = None, n_jobs: int | None = None,
                 early_exaggeration_iter: int | None = None, n_iter: int | None = None,
                 k_neighbors: int | None = None,
                 snapshot: Callable[[int, int, np.ndarray], Any] | None = None) -> Projection:
    """t-SNE map of latent means mu (N, D) -> Projection with embedding float32 (N, k), k = 2 or 3.

    openTSNE with: perplexity-based affinities on approximate (Annoy) neighbours, PCA initialisation,
    learning rate N / exaggeration ("auto"), `early_exaggeration_iter` iterations at exaggeration 12
    (momentum 0.5), then `n_iter` normal iterations (momentum 0.8). 2-D uses the FFT gradient on a
    coarser grid (see the module docstring) above TSNE_BH_MAX_POINTS points; 3-D and small 2-D maps use
    Barnes-Hut. Perplexity is lowered to (N - 1) / 3 for small N. The same `seed` and `n_jobs` give the
    same map. None for early_exaggeration_iter, n_iter, k_neighbors: TSNE_EARLY_ITER, TSNE_ITER and openTSNE's
    3 x perplexity neighbours, or from TSNE_LARGE_POINTS points TSNE_LARGE_EARLY_ITER, TSNE_LARGE_ITER and
    TSNE_LARGE_NEIGHBOURS x perplexity (the module docstring says why).

    progress(iteration, total_iterations, message) is called before the neighbour search
    (iteration 0), every few iterations, and at the end (iteration == total_iterations).
    n_jobs: threads for openTSNE; None = all cores (one for maps of up to TSNE_BH_MAX_POINTS points).
    snapshot(iteration, total_iterations, layout float32 (N, k)) receives a copy of the layout as it
    computes: the initialisation, then every few iterations (as progress), for showing it move.
    """
    try:
        from openTSNE import TSNEEmbedding, affinity, initialization
    except ImportError:  # pragma: no cover - openTSNE is a dependency
        raise ImportError("t-SNE needs the openTSNE package: pip install openTSNE") from None

    t0 = time.perf_counter()
    k = _check_components(n_components)
    x = _as_points(mu, min_points=4)
    n = x.shape[0]
    if not perplexity > 0:
        raise ValueError(f"perplexity must be positive, got {perplexity!r}")
    large = n >= TSNE_LARGE_POINTS
    if early_exaggeration_iter is None:
        early_exaggeration_iter = TSNE_LARGE_EARLY_ITER if large else TSNE_EARLY_ITER
    if n_iter is None:
        n_iter = TSNE_LARGE_ITER if large else TSNE_ITER
    if early_exaggeration_iter < 0 or n_iter < 1:
        raise ValueError(f"need early_exaggeration_iter >= 0 and n_iter >= 1, got {early_exaggeration_iter}, {n_iter}")
    perp = float(min(perplexity, (n - 1) / 3.0))
    if k_neighbors is None and large:
        k_neighbors = int(round(TSNE_LARGE_NEIGHBOURS * perp))
    if k_neighbors is not None and not 1 <= int(k_neighbors) < n:
        raise ValueError(f"k_neighbors must be in [1, N), got {k_neighbors!r}")
    # small maps: one thread; openTSNE's threads wait on each other, which on a loaded machine cost 3x the wall
    # time for 300 points (32 s with 2 threads, 11 s with one, scikit-learn 98 s, in one run at load 17)
    threads = (1 if n <= TSNE_BH_MAX_POINTS else _usable_cpus()) if n_jobs is None else int(n_jobs)
    total = early_exaggeration_iter + n_iter
    every = max(1, total // 50)

    def report(i: int, msg: str) -> None:
        if progress is not None:
            progress(int(i), total, msg)

    # the initialisation first: it costs nothing and fails at once where it cannot work (PCA to 3-D of 2-d
    # points), instead of after the neighbour search (tens of seconds for 10k points on a busy machine)
    init = initialization.pca(x, n_components=k, random_state=seed)
    report(0, "finding nearest neighbours")
    aff = affinity.PerplexityBasedNN(x, perplexity=perp, method="annoy", n_jobs=threads, random_state=seed,
                                     k_neighbors="auto" if k_neighbors is None else int(k_neighbors))
    grad = "fft" if k <= 2 and n > TSNE_BH_MAX_POINTS else "bh"
    emb = TSNEEmbedding(init, aff, negative_gradient_method=grad, n_jobs=threads, random_state=seed,
                        ints_in_interval=TSNE_INTS_IN_INTERVAL)

    if snapshot is not None:
        snapshot(0, total, np.array(init, dtype=np.float32))

    def stage(offset: int, name: str):
        def callback(iteration, error, embedding):  # openTSNE: iteration counts from 1 within a stage
            if offset + iteration < total:  # the last one is reported as "done"
                report(offset + iteration, f"{name} (KL divergence {error:.3f})")
                if snapshot is not None:
                    snapshot(offset + iteration, total, np.array(embedding, dtype=np.float32))
        return callback

    watched = progress is not None or snapshot is not None
    cb_kw = dict(callbacks_every_iters=every) if watched else {}
    if early_exaggeration_iter:
        emb = emb.optimize(n_iter=early_exaggeration_iter, exaggeration=TSNE_EXAGGERATION, momentum=0.5,
                           learning_rate="auto",
                           callbacks=stage(0, "early exaggeration") if watched else None, **cb_kw)
    emb = emb.optimize(n_iter=n_iter, exaggeration=None, momentum=0.8, learning_rate="auto",
                       callbacks=stage(early_exaggeration_iter, "optimising") if watched else None, **cb_kw)
    out = np.ascontiguousarray(emb, dtype=np.float32)
    report(total, "done")
    params = dict(perplexity=perp, seed=seed, n_jobs=threads, early_exaggeration_iter=early_exaggeration_iter,
                  n_iter=n_iter, exaggeration=TSNE_EXAGGERATION, negative_gradient_method=grad,
                  k_neighbors=int(aff.knn_index.k) if hasattr(aff, "knn_index") else k_neighbors,
                  ints_in_interval=TSNE_INTS_IN_INTERVAL, kl_divergence=float(emb.kl_divergence))
    return Projection(method="tsne", n_components=k, embedding=out, params=params,
                      seconds=time.perf_counter() - t0, fitted=emb)


def place_points(proj: Projection, z, *, placed_in_all: int | None = None) -> np.ndarray:
    """New latent points (M, D) or (D,) placed on an existing map: float32 (M, k) or (k,).

    PCA: the linear transform. t-SNE: openTSNE's `TSNEEmbedding.transform` (each new point starts
    at the weighted mean of its nearest fitted points and is optimised against the fixed map, as in
    Policar et al. 2019). UMAP: `umap.UMAP.transform`. A copy of a fitted point lands next to it.
    placed_in_all: when z is one chunk of a larger placement, the number of rows placed in all. UMAP's
    transform picks its epochs by the rows it is given (100 up to 10,000, else 30); a chunk of a big
    placement gets the epochs of the whole (chunks of 10,000 took 100 epochs each: 3.3x the work).
    """
    if proj.components is not None:
        return proj.transform(z)
    if proj.fitted is None:
        raise ValueError(f"this {proj.method} map keeps no fitted model, so new points cannot be placed on it")
    x = _as_points(np.atleast_2d(np.asarray(z, dtype=np.float64)), "z", min_points=1)
    if proj.method == "tsne":
        out = np.asarray(proj.fitted.transform(x), dtype=np.float32)
    else:
        from vae.analysis.numba_cache import cache_umap_kernels

        cache_umap_kernels()                      # a map loaded from disk: transform's kernels load, not compile
        reducer = proj.fitted
        if placed_in_all is not None and getattr(reducer, "n_epochs", 0) is None:
            import copy
            reducer = copy.copy(reducer)          # shallow: the shared fitted map is left as it is
            reducer.n_epochs = 3 * (100 if max(int(placed_in_all), len(x)) <= 10_000 else 30)   # transform: // 3
        out = np.asarray(reducer.transform(x.astype(np.float32)), dtype=np.float32)
    return out[0] if np.ndim(z) == 1 else out


def knn_label_accuracy(embedding: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Leave-one-out k-nearest-neighbour label accuracy of a map: (N, k) points, (N,) int labels -> [0, 1].

    Each point is classified by the majority label of its k nearest other points (ties -> the
    smallest label). A measure of how well the map keeps classes apart.
    """
    from sklearn.neighbors import NearestNeighbors

    e = np.asarray(embedding, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64).ravel()
    if len(e) != len(y):
        raise ValueError(f"embedding has {len(e)} points but labels has {len(y)}")
    k = min(k, len(e) - 1)
    idx = NearestNeighbors(n_neighbors=k + 1).fit(e).kneighbors(e, return_distance=False)
    # drop each point itself (normally column 0, but duplicates can reorder it)
    neigh = np.array([row[row != i][:k] for i, row in enumerate(idx)])
    y0 = y - y.min()
    votes = np.zeros((len(y), y0.max() + 1), dtype=np.int64)
    np.add.at(votes, (np.repeat(np.arange(len(y)), k), y0[neigh].ravel()), 1)
    return float((votes.argmax(axis=1) + y.min() == y).mean())
