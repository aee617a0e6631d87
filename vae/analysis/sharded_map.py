"""Maps of every point under `torchrun`: each rank encodes and places its shard (torch.distributed).

    torchrun --nproc-per-node 2 -m vae project RUN --split all --method tsne --out map.npz

Every rank takes a contiguous block of rows (`shard_rows`), encodes it, and the projection is shared
(methods from vae.analysis.projection_methods):
  - PCA: the mean and the scatter matrix (D, D) are summed over ranks (all_reduce), so every rank
    holds the same exact principal axes as one process fitted on all rows, and projects its own
    rows. Equal to `project_pca` of all rows up to float rounding (float64 sums).
  - another fast method: every row is gathered on rank 0 and fitted there.
  - a slow method (t-SNE, UMAP): the same seeded sample of `fit_points` rows as `large_map.project_all` is drawn;
    the sample's rows are gathered on rank 0, which fits the map and broadcasts the fitted object
    (pickled between the processes of this one job, never read from a file); each rank places
    its own rows not in the sample with the fitted transform, in chunks.
Rank 0 gathers the embedding (and the latent means, for the .npz). Collectives run on CPU tensors
(gloo works everywhere; nccl-only jobs are not supported). Nothing here starts processes: torchrun
does, and `torch.distributed` does all communication.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist

__all__ = ["shard_rows", "gather_rows", "sharded_project"]


def shard_rows(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """Rows [start, stop) of rank `rank` when n rows are split into world_size contiguous blocks
    (the first n % world_size ranks take one row more), so rank order is row order."""
    base, extra = divmod(int(n), int(world_size))
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def gather_rows(local: np.ndarray) -> np.ndarray | None:
    """Concatenate every rank's rows (M_r, ...) in rank order on rank 0 -> (sum M_r, ...); None elsewhere.

    Shards may differ in length (padded to the longest for the collective). dtype and trailing
    shape must agree across ranks.
    """
    world, rank = dist.get_world_size(), dist.get_rank()
    t = torch.from_numpy(np.ascontiguousarray(local))
    sizes = [torch.zeros(1, dtype=torch.int64) for _ in range(world)]
    dist.all_gather(sizes, torch.tensor([t.shape[0]], dtype=torch.int64))
    longest = int(max(s.item() for s in sizes))
    padded = torch.zeros((longest, *t.shape[1:]), dtype=t.dtype)
    padded[:t.shape[0]] = t
    bufs = [torch.empty_like(padded) for _ in range(world)] if rank == 0 else None
    dist.gather(padded, bufs, dst=0)
    if rank != 0:
        return None
    return np.concatenate([b[:int(s.item())].numpy() for b, s in zip(bufs, sizes)])


def _pca_axes(x_local: np.ndarray, n_total: int, k: int):
    """(mean (D,), components (k, D), explained variance ratio (k,)) of all ranks' rows, in float64."""
    from vae.analysis.projection import fix_component_signs

    x = torch.from_numpy(x_local.astype(np.float64))
    total = x.sum(0)
    dist.all_reduce(total)
    mean = total / n_total
    xc = x - mean
    scatter = xc.T @ xc                                   # (D, D) sum of outer products of centred rows
    dist.all_reduce(scatter)
    var, vecs = np.linalg.eigh(scatter.numpy())           # ascending
    var, vecs = var[::-1], vecs[:, ::-1]
    vt = fix_component_signs(np.ascontiguousarray(vecs[:, :k].T))
    var = np.clip(var, 0, None)
    ratio = var[:k] / var.sum() if var.sum() > 0 else np.zeros(k)
    return mean.numpy(), vt, ratio


def sharded_project(mu_local, start: int, n_total: int, method: str, *, fit_points: int, seed: int = 0,
                    n_components: int = 2, place_chunk: int = 10_000,
                    progress: Callable[[int, int, str], None] | None = None,
                    **settings) -> tuple[np.ndarray | None, dict]:
    """This rank's latent means (rows [start, start + M) of N) -> (embedding float32 (N, k) on rank 0
    and None elsewhere, info dict as large_map.project_all's). Every rank must call it.

    progress(step, total, message) is called on rank 0 only (the fit's steps, then its own chunks).
    """
    from vae.analysis.projection import place_points
    from vae.analysis.projection_methods import projection_method

    how = projection_method(method)               # ValueError for an unknown name, on every rank alike
    t0 = time.perf_counter()
    rank = dist.get_rank()
    x = np.ascontiguousarray(np.asarray(mu_local, dtype=np.float32))
    stop = start + x.shape[0]
    report = progress if (progress is not None and rank == 0) else (lambda *a: None)
    if method == "pca":
        mean, vt, ratio = _pca_axes(x, n_total, n_components)
        local = ((x.astype(np.float64) - mean) @ vt.T).astype(np.float32)
        out = gather_rows(local)
        report(1, 1, "done")
        return out, dict(method="pca", n=n_total, fitted=n_total, placed=0, seconds=time.perf_counter() - t0,
                         params=dict(explained_variance_ratio=[float(r) for r in ratio]))
    if not how.slow:                              # another fast method: fitted on every row, on rank 0
        every = gather_rows(x)
        out = None
        if rank == 0:
            proj = how.fit(every, n_components, seed=seed, progress=report, **settings)
            out = np.ascontiguousarray(proj.embedding, np.float32)
        params = [None if rank else {k: v for k, v in proj.params.items() if isinstance(v, (int, float, str, bool))}]
        dist.broadcast_object_list(params, src=0)
        return out, dict(method=method, n=n_total, fitted=n_total, placed=0, seconds=time.perf_counter() - t0,
                         params=params[0])
    m = min(n_total, int(fit_points))
    # the same sample as large_map.project_all draws, so one process and several fit the same map
    fit_idx = (np.sort(np.random.default_rng(seed).choice(n_total, m, replace=False)) if m < n_total
               else np.arange(n_total))
    mine = fit_idx[(fit_idx >= start) & (fit_idx < stop)] - start
    sample = gather_rows(x[mine])                         # rank order is row order: rows fit_idx, in order
    fitted = [None]
    if rank == 0:
        fitted = [how.fit(sample, n_components, seed=seed, progress=report, **settings)]
    dist.broadcast_object_list(fitted, src=0)
    proj = fitted[0]
    local = np.empty((x.shape[0], proj.embedding.shape[1]), np.float32)
    is_fit = np.zeros(x.shape[0], bool)
    is_fit[mine] = True
    local[mine] = proj.embedding[np.searchsorted(fit_idx, mine + start)]
    rest = np.flatnonzero(~is_fit)
    chunks = [rest[i:i + place_chunk] for i in range(0, len(rest), place_chunk)]
    for j, chunk in enumerate(chunks):
        report(j, len(chunks), f"placing rows of shard 0 ({len(rest):,} on this rank)")
        local[chunk] = place_points(proj, x[chunk], placed_in_all=n_total - m)
    ok = torch.tensor([int(np.isfinite(local).all())])
    dist.all_reduce(ok, op=dist.ReduceOp.MIN)
    out = gather_rows(local)
    if not ok.item():
        raise ValueError(f"{method} produced non-finite coordinates")
    report(1, 1, "done")
    return out, dict(method=method, n=n_total, fitted=m, placed=n_total - m, seconds=time.perf_counter() - t0,
                     params={k: v for k, v in proj.params.items() if isinstance(v, (int, float, str, bool, type(None)))})
