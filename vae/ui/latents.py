"""The encoded dataset a page works with, and the per-dimension KL order of the Decode sliders."""

from __future__ import annotations

import numpy as np

from vae.dims import INACTIVE_KL
from vae.ui.loaders import Latents, encode_with_progress, encoded_latents, kl_per_dim

DEFAULT_SUBSAMPLE = 5000        # test images encoded for the KL order and the nearest-point distance


def dataset_latents(ctx, split: str = "test", n: int | None = None) -> Latents | None:
    """Latent means of up to `n` images of `split` of the sidebar's dataset (None without one)."""
    if ctx.lm is None or ctx.dataset is None:
        return None
    s = getattr(ctx.dataset, split)
    n = min(len(s), n or DEFAULT_SUBSAMPLE)
    encode_with_progress(ctx.lm.id, ctx.dataset_key, split, n, ctx.lm.model, ctx.dataset)
    return encoded_latents(ctx.lm.id, ctx.dataset_key, split, n, ctx.lm.model, ctx.dataset)


def dim_order(ctx, lat: Latents | None) -> tuple[np.ndarray | None, list[int], np.ndarray | None]:
    """(kl (D,) nats or None, dimension order by decreasing KL, inactive (D,) bool or None)."""
    D = ctx.lm.latent_dim
    if lat is None:
        return None, list(range(D)), None
    kl = kl_per_dim(ctx.lm.id, ctx.dataset_key, len(lat.index), lat)
    order = [int(d) for d in np.argsort(-kl, kind="stable")]
    return kl, order, kl < INACTIVE_KL
