"""UMAP maps of latent means (umap-learn): a third projection beside PCA and t-SNE, shown as it computes.

    proj = project_umap(mu, 2, n_neighbors=15, min_dist=0.1, progress=lambda i, total, msg: ...,
                        snapshot=lambda epoch, n_epochs, layout: ...)     # layout float32 (N, 2) as it computes
    xy_new = place_points(proj, z_new)        # vae.analysis.projection: UMAP's transform of new points

UMAP (McInnes et al. 2018) builds a fuzzy k-nearest-neighbour graph (pynndescent) and lays it
out by stochastic gradient descent; like t-SNE it keeps neighbourhoods, and it keeps more of the
global arrangement. umap-learn compiles its kernels with numba on first use in a process (tens
of seconds on a small CPU); later maps are faster. With a seed it runs on one thread and the same
data give the same map. bench/projection_time.py compares it with PCA and t-SNE.

The layout as it computes. umap-learn runs its layout's epochs in one call (layouts.optimize_layout_euclidean)
with no hook, but it lets a subclass replace `UMAP._fit_embed_data`, the step after the neighbour graph. Ours
(_LiveUMAP) does what umap-learn's simplicial_set_embedding does for a Euclidean map (prune the graph's weak
edges, spectral or random initialisation, sampling schedule, rescale to [0, 10]) and then runs the epochs
itself, one call of umap-learn's own compiled epoch (layouts._get_optimize_layout_euclidean_single_epoch_fn)
each, with the same learning-rate schedule (alpha = initial_alpha * (1 - n / n_epochs)), the same per-point
random states and the same sampling state carried from epoch to epoch; between epochs it hands a copy of the
layout to `snapshot`. Same arithmetic in the same order: the map equals umap-learn's uninterrupted fit with the
same seed, bit for bit (tests/test_placement.py checks it, so an umap-learn whose internals change is caught).
densMAP, other output metrics, epoch lists and other initialisations go through umap-learn's own code (no
snapshots). bench/large_map.py times UMAP with and without the frames.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Callable

import numpy as np

from vae.analysis.projection import Projection, ProgressFn, _as_points, _check_components

__all__ = ["project_umap", "UMAP_NEIGHBOURS", "UMAP_MIN_DIST", "UMAP_FRAMES"]

UMAP_NEIGHBOURS = 15       # umap-learn's default
UMAP_MIN_DIST = 0.1        # umap-learn's default
UMAP_FRAMES = 50           # snapshots of the layout per fit (about; one every n_epochs // 50 epochs)

SnapshotFn = Callable[[int, int, np.ndarray], Any]   # snapshot(epoch, n_epochs, layout float32 (N, k))

_LIVE_CLASS = None


def _live_umap_class():
    """umap.UMAP with `_fit_embed_data` run epoch by epoch (see the module docstring); made on first use, since
    importing umap-learn takes seconds."""
    global _LIVE_CLASS
    if _LIVE_CLASS is not None:
        return _LIVE_CLASS
    import umap

    class _LiveUMAP(umap.UMAP):
        """umap.UMAP whose layout reports each epoch: set `epoch_hook(epoch, n_epochs, layout)` before fit."""

        epoch_hook = None          # called with the layout itself (not a copy) before each epoch and at the end

        def _fit_embed_data(self, X, n_epochs, init, random_state, **kwargs):
            ours = (self.epoch_hook is not None and not self.densmap and not self.output_dens
                    and self.output_metric in ("euclidean", "l2") and not isinstance(n_epochs, list)
                    and isinstance(init, str) and init in ("spectral", "random"))
            if not ours:
                return super()._fit_embed_data(X, n_epochs, init, random_state, **kwargs)
            return _embed_by_epochs(self, X, n_epochs, init, random_state, self.epoch_hook)

    _LIVE_CLASS = _LiveUMAP
    return _LiveUMAP


def _embed_by_epochs(reducer, X, n_epochs, init, random_state, hook) -> tuple[np.ndarray, dict]:
    """umap-learn 0.5's simplicial_set_embedding for a Euclidean, non-densMAP map, with the layout's epochs run
    one call each and hook(epoch, n_epochs, layout) called before each epoch and once after the last.
    Returns (embedding float32 (N, k), aux_data {}) as UMAP._fit_embed_data does."""
    from umap.layouts import _get_optimize_layout_euclidean_single_epoch_fn
    from umap.spectral import spectral_layout
    from umap.umap_ import INT32_MAX, INT32_MIN, make_epochs_per_sample, noisy_scale_coords

    # --- as simplicial_set_embedding (umap/umap_.py), line for line ---
    graph = reducer.graph_.tocoo()
    graph.sum_duplicates()
    n_vertices = graph.shape[1]
    default_epochs = 500 if graph.shape[0] <= 10000 else 200
    if n_epochs is None:
        n_epochs = default_epochs
    if n_epochs > 10:
        graph.data[graph.data < (graph.data.max() / float(n_epochs))] = 0.0
    else:
        graph.data[graph.data < (graph.data.max() / float(default_epochs))] = 0.0
    graph.eliminate_zeros()
    if init == "random":
        embedding = random_state.uniform(low=-10.0, high=10.0, size=(graph.shape[0], reducer.n_components)
                                         ).astype(np.float32)
    else:
        embedding = spectral_layout(X, graph, reducer.n_components, random_state,
                                    metric=reducer._input_distance_func, metric_kwds=reducer._metric_kwds)
        embedding = noisy_scale_coords(embedding, random_state, max_coord=10, noise=0.0001)
    epochs_per_sample = make_epochs_per_sample(graph.data, n_epochs)
    head, tail = graph.row, graph.col
    rng_state = random_state.randint(INT32_MIN, INT32_MAX, 3).astype(np.int64)
    embedding = (10.0 * (embedding - np.min(embedding, 0))
                 / (np.max(embedding, 0) - np.min(embedding, 0))).astype(np.float32, order="C")

    # --- as layouts.optimize_layout_euclidean(embedding, embedding, ..., move_other=True), without densMAP ---
    parallel = reducer.random_state is None
    initial_alpha, alpha = reducer._initial_alpha, reducer._initial_alpha
    dim = embedding.shape[1]
    epochs_per_negative_sample = epochs_per_sample / reducer.negative_sample_rate
    epoch_of_next_negative_sample = epochs_per_negative_sample.copy()
    epoch_of_next_sample = epochs_per_sample.copy()
    optimize_fn = _get_optimize_layout_euclidean_single_epoch_fn(parallel)
    no_dens = np.zeros(1, dtype=np.float32)
    rng_state_per_sample = np.full((embedding.shape[0], len(rng_state)), rng_state, dtype=np.int64) \
        + embedding[:, 0].astype(np.float64).view(np.int64).reshape(-1, 1)
    for n in range(n_epochs):
        hook(n, n_epochs, embedding)
        optimize_fn(embedding, embedding, head, tail, n_vertices, epochs_per_sample, reducer._a, reducer._b,
                    rng_state_per_sample, reducer.repulsion_strength, dim, True, alpha,
                    epochs_per_negative_sample, epoch_of_next_negative_sample, epoch_of_next_sample, n,
                    False, no_dens, no_dens, 0, 0, 0, 0, no_dens, no_dens, 0)
        alpha = initial_alpha * (1.0 - (float(n) / float(n_epochs)))
    hook(n_epochs, n_epochs, embedding)
    return embedding, {}


def project_umap(mu, n_components: int = 2, *, n_neighbors: int = UMAP_NEIGHBOURS, min_dist: float = UMAP_MIN_DIST,
                 seed: int | None = 0, progress: ProgressFn | None = None, n_epochs: int | None = None,
                 snapshot: SnapshotFn | None = None) -> Projection:
    """UMAP map of latent means mu (N, D) -> Projection with embedding float32 (N, k), k = 2 or 3.

    n_neighbors is lowered to N - 1 for tiny N. The fitted umap.UMAP is kept in `fitted` so new
    points can be placed (place_points). progress(step, total, message) reports loading (and compiling),
    the neighbour graph, then each epoch of the layout, then done (step == total).
    snapshot(epoch, n_epochs, layout float32 (N, k)) receives a copy of the layout as it computes: the
    initialisation (epoch 0), then every n_epochs // UMAP_FRAMES epochs; the finished map is the same as
    without it (see the module docstring). seed=None lets umap-learn use every core (not reproducible).
    """
    t0 = time.perf_counter()
    k = _check_components(n_components)
    x = _as_points(mu, min_points=4).astype(np.float32)
    if int(n_neighbors) != n_neighbors or n_neighbors < 2:
        raise ValueError(f"n_neighbors must be an integer >= 2, got {n_neighbors!r}")
    if not 0.0 <= min_dist <= 1.0:
        raise ValueError(f"min_dist must be in [0, 1], got {min_dist!r}")
    if n_epochs is not None and (int(n_epochs) != n_epochs or n_epochs < 1):
        raise ValueError(f"n_epochs must be a positive integer, got {n_epochs!r}")

    live = progress is not None or snapshot is not None
    # steps: loading, the graph, each epoch (umap-learn's default count: 500 up to 10,000 points, else 200), done
    total = 2 + (int(n_epochs) if n_epochs is not None else 500 if x.shape[0] <= 10_000 else 200) if live else 3

    def report(i: int, msg: str) -> None:
        if progress is not None:
            progress(i, total, msg)

    report(0, "loading umap-learn (compiles on first use)")
    try:
        import umap
    except ImportError:  # pragma: no cover - umap-learn is a dependency
        raise ImportError("UMAP needs the umap-learn package: pip install umap-learn") from None
    from vae.analysis.numba_cache import cache_umap_kernels

    cache_umap_kernels()          # its kernels compile once per machine, not once per process
    nn = int(min(n_neighbors, x.shape[0] - 1))
    settings = dict(n_components=k, n_neighbors=nn, min_dist=float(min_dist), random_state=seed,
                    n_epochs=None if n_epochs is None else int(n_epochs),
                    init="spectral" if x.shape[0] > k + 1 else "random")
    reducer = _live_umap_class()(**settings) if live else umap.UMAP(**settings)
    if live:
        def hook(epoch: int, epochs: int, layout: np.ndarray) -> None:
            every = max(1, epochs // UMAP_FRAMES)
            if epoch < epochs and epoch % every == 0:
                report(min(1 + epoch, total - 1), f"layout: epoch {epoch} of {epochs}")
                if snapshot is not None:
                    snapshot(epoch, epochs, np.array(layout, dtype=np.float32))
        reducer.epoch_hook = hook
    report(1, f"neighbour graph ({nn} neighbours) and layout")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*n_jobs value.*")          # a seed forces one thread
        warnings.filterwarnings("ignore", message=".*spectral initialisation failed.*")
        emb = reducer.fit_transform(x)
    if live:
        del reducer.epoch_hook           # the fitted map keeps no reference to the callbacks, and is a plain
        reducer.__class__ = umap.UMAP    # umap.UMAP (its subclass adds no state): it pickles and places as one
    out = np.ascontiguousarray(emb, dtype=np.float32)
    if not np.isfinite(out).all():
        raise ValueError("UMAP produced non-finite coordinates")
    report(total, "done")
    params = dict(n_neighbors=nn, min_dist=float(min_dist), seed=seed, n_epochs=reducer.n_epochs)
    return Projection(method="umap", n_components=k, embedding=out, params=params,
                      seconds=time.perf_counter() - t0, fitted=reducer)
