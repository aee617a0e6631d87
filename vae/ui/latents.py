"""The encoded dataset a page works with (q(z|x) means of a split), its PCA and per-dimension KL, and the KL order
of the Decode sliders.

Latents and projections are `st.cache_data`, keyed by the checkpoint's identity (vae.ui.loaders: a hash of its
config and weights bytes), the dataset key, the split and the subsample, never by object."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from vae.dims import INACTIVE_KL
from vae.model import VAE


def subsample_indices(n_total: int, n: int, seed: int = 0) -> np.ndarray:
    """`n` sorted indices drawn without replacement from range(n_total) (all of them when n >= n_total)."""
    if n >= n_total:
        return np.arange(n_total)
    return np.sort(np.random.default_rng(seed).choice(n_total, size=n, replace=False))


@dataclass
class Latents:
    """Encoded means of (a subsample of) one split."""

    index: np.ndarray          # (N,) int64 indices into the split
    mu: np.ndarray             # (N, D) float32
    logvar: np.ndarray         # (N, D) float32
    labels: np.ndarray         # (N,) int64
    factors: np.ndarray | None  # (N, F) float32


DISK_CACHE_POINTS = 20_000     # encodings of at least this many images are also cached on disk (vae.analysis.large_map)


def _chosen_images(s, idx: np.ndarray) -> torch.Tensor:
    """uint8 (len(idx), C, H, W): the images of split `s` at `idx` (the split itself when idx is all of it)."""
    return s.images if len(idx) == len(s) else s.images[torch.from_numpy(idx)]


@st.cache_resource(show_spinner=False)
def _encoded_on_disk() -> set:
    """(model id, dataset key, split, n) whose big encodings this server has written to the disk cache."""
    return set()


def encode_with_progress(model_id: str, dataset_key: str, split: str, n: int, model: VAE, dataset) -> None:
    """Before encoded_latents of a big map (n >= DISK_CACHE_POINTS): encode into the disk cache with a
    progress bar on the page (1,000,000 shapes take minutes), once per server; then encoded_latents
    reads the cache. Does nothing for small maps or when done before."""
    key = (model_id, dataset_key, split, n)
    if n < DISK_CACHE_POINTS or key in _encoded_on_disk():
        return
    from vae.analysis.large_map import cached_encode

    s = getattr(dataset, split)
    idx = subsample_indices(len(s), n)
    bar = st.progress(0.0, text="Encoding ...")
    try:
        cached_encode(model, _chosen_images(s, idx), data_key=f"{dataset_key}/{split}/{len(idx)}",
                      progress=lambda done, total: bar.progress(done / total, text=f"Encoding: {done:,} of {total:,} images"))
    finally:
        bar.empty()
    _encoded_on_disk().add(key)


@st.cache_data(max_entries=8, show_spinner="Encoding the dataset ...")
def encoded_latents(model_id: str, dataset_key: str, split: str, n: int, _model: VAE, _dataset) -> Latents:
    """q(z|x) means and log-variances of `n` images of `split`, keyed by model id and dataset key."""
    from vae.analysis.latent import encode_dataset

    s = getattr(_dataset, split)
    idx = subsample_indices(len(s), n)
    if len(idx) >= DISK_CACHE_POINTS:          # a big map: encoded once per model and data, kept on disk
        from vae.analysis.large_map import cached_encode

        mu, logvar, _ = cached_encode(_model, _chosen_images(s, idx), data_key=f"{dataset_key}/{split}/{len(idx)}")
    else:
        mu, logvar = encode_dataset(_model, s.images[torch.from_numpy(idx)])
    mu = np.asarray(mu.cpu() if torch.is_tensor(mu) else mu, dtype=np.float32)
    logvar = np.asarray(logvar.cpu() if torch.is_tensor(logvar) else logvar, dtype=np.float32)
    factors = None if s.factors is None else s.factors[torch.from_numpy(idx)].numpy()
    return Latents(idx, mu, logvar, s.labels[torch.from_numpy(idx)].numpy(), factors)


@st.cache_data(max_entries=32, show_spinner=False)
def pca_projection(model_id: str, dataset_key: str, split: str, n: int, n_components: int, _mu: np.ndarray):
    """A PCA Projection of the latents (vae.analysis.latent.project_pca), cached by identity."""
    from vae.analysis.projection import project_pca

    return project_pca(_mu, n_components)


@st.cache_data(max_entries=8, show_spinner=False)
def kl_per_dim(model_id: str, dataset_key: str, n: int, _latents: Latents) -> np.ndarray:
    """Mean KL(q(z_d|x) || N(0,1)) per latent dimension over the encoded split: (D,) nats."""
    from vae.analysis.likelihood import kl_per_dimension

    kl = kl_per_dimension(torch.from_numpy(_latents.mu), torch.from_numpy(_latents.logvar))
    return np.asarray(kl.cpu() if torch.is_tensor(kl) else kl, dtype=np.float64)


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
