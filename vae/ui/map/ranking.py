"""The likelihood ranking on the page: IWAE log p(x) of a split, computed in the background and cached.

    task = ranking_task(ctx, "test", 2000, k=100)            # tasks.Task; its result is a SplitRanking
    values = likelihood_values(ctx, "test", lat.index)       # (log_px, elbo) for those points, or None

Tasks are keyed by model id + data + split + points + K + seed (computed once, shared by every
session); the Latent map colours by any finished ranking that covers its points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vae.analysis.ranking import LikelihoodRanking

from vae.ui import tasks
from vae.ui.latents import subsample_indices

K_CHOICES = (10, 50, 100, 500, 1000)
DEFAULT_K = 100
# the Latent map's default K above this many points: IWAE costs K decoder passes an image (70,000 MNIST images
# at K = 100 are 7,000,000 passes, minutes on two cores); the map's K slider raises it
LARGE_MAP_POINTS = 10_000
LARGE_MAP_K = 10
COLOUR_LOG_PX = "log p(x) (IWAE)"
COLOUR_GAP = "IWAE − ELBO gap"


@dataclass
class SplitRanking:
    """A LikelihoodRanking of (a subsample of) one split: ranking.log_px[i] belongs to split image index[i]."""

    split: str
    index: np.ndarray              # (N,) sorted int64 indices into the split
    ranking: LikelihoodRanking


def _prefix(ctx, split: str) -> str:
    return f"rank|{ctx.lm.id}|{ctx.dataset_key}|{split}|"


def ranking_task(ctx, split: str, n: int, k: int = DEFAULT_K, seed: int = 0) -> tasks.Task:
    """Start (once) or find the ranking of `n` images of `split` by IWAE log p(x) with K samples."""
    from vae.analysis.ranking import rank_by_likelihood

    s = getattr(ctx.dataset, split)
    idx = subsample_indices(len(s), n)
    model = ctx.lm.model

    def work(progress):
        images = s.images[torch.from_numpy(idx)]
        r = rank_by_likelihood(model, images, k=int(k), seed=int(seed),
                               progress=lambda done, total: progress(done / total, f"{done:,} of {total:,} images"))
        return SplitRanking(split, idx, r)

    return tasks.start_task(f"{_prefix(ctx, split)}{len(idx)}|{k}|{seed}", "rank", work)


def find_ranking(ctx, split: str, n: int, k: int = DEFAULT_K, seed: int = 0) -> tasks.Task | None:
    s = getattr(ctx.dataset, split)
    return tasks.find_task(f"{_prefix(ctx, split)}{min(n, len(s))}|{k}|{seed}")


def map_default_k(n: int) -> int:
    """The K the Latent map's likelihood colour starts with for a map of n points (DEFAULT_K, or LARGE_MAP_K
    above LARGE_MAP_POINTS)."""
    return DEFAULT_K if n <= LARGE_MAP_POINTS else LARGE_MAP_K


def likelihood_values(ctx, split: str, index: np.ndarray, k: int | None = None
                      ) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(log_px (N,), elbo (N,), K) for the split images `index` from the newest finished ranking that covers
    them all (with K samples, when `k` is given), or None."""
    index = np.asarray(index, np.int64)
    for t in tasks.finished_tasks(_prefix(ctx, split)):
        sr: SplitRanking = t.result
        if k is not None and sr.ranking.k != k:
            continue
        pos = np.searchsorted(sr.index, index)
        pos = np.clip(pos, 0, len(sr.index) - 1)
        if len(sr.index) and np.array_equal(sr.index[pos], index):
            return sr.ranking.log_px[pos], sr.ranking.elbo[pos], sr.ranking.k
    return None


def gallery(ctx, sr: SplitRanking, positions: np.ndarray, per_row: int = 8, width: int = 96) -> None:
    """Images at `positions` of the ranking, each captioned with its index, label, log p(x) and gap (nats), with
    links that open it on the Decode and Posterior pages (vae.ui.point_link)."""
    import streamlit as st

    from vae.ui.images import show
    from vae.ui.point_link import open_links

    ds = ctx.dataset
    images = getattr(ds, sr.split).images
    r = sr.ranking
    for start in range(0, len(positions), per_row):
        cols = st.columns(per_row)
        for col, p in zip(cols, positions[start:start + per_row]):
            i = int(sr.index[p])
            lab = int(getattr(ds, sr.split).labels[i])
            name = ds.class_names[lab] if 0 <= lab < len(ds.class_names) else str(lab)
            show(images[i], width, container=col,
                 caption=f"#{i} · {name} · {r.log_px[p]:.1f} (gap {r.gap[p]:.2f})")
            open_links(col, ctx, sr.split, i)


def histogram(sr: SplitRanking, height: int = 300):
    """Plotly histogram of log p(x) over the ranked images (nats)."""
    import plotly.graph_objects as go

    fig = go.Figure(go.Histogram(x=sr.ranking.log_px, nbinsx=60, marker_color="#636efa", name="log p(x)"))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), bargap=0.02,
                      xaxis_title="IWAE log p(x), nats per image", yaxis_title="images")
    return fig
