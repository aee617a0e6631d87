"""The Posterior page's numbers for one image x, cached by model id + image bytes + settings.

    grid_view(...)                    st.cache_data wrapper of vae.analysis.posterior.posterior_grid (2-d models)
    display_extent(grid_view)         the box around the posterior's visible mass (the "zoom" view)
    iwae_curve(...)                   st.cache_data wrapper of iwae_log_likelihood for growing K, with error bars
    curve_ks, repeats_for, default_max_k     which K, how many estimates each, the default largest K
    reconstruction(model, x)          decode(mean of q(z|x))

All numbers are nats per image, summed over pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

IWAE_REPEATS = 8                 # independent IWAE estimates at the largest K; the error bars are standard errors
SAMPLES_PER_K = 1024             # small K get more estimates: K x estimates >= this (cheap, tight error bars)
K_CHOICES = (50, 500, 5000, 50000)   # "largest K" options; the curve uses 1, 5, 50, ... up to it
DEFAULT_MAX_K = 500              # the default answers in well under a second; the user may ask for more
GRID_SIZE = 201                  # posterior grid is GRID_SIZE^2 decoder calls
# Decoder pixel-evaluations per curve (sum over K of K * estimates * pixels) accepted by default on a CPU:
# K up to 500 on a 32x32 MLP model is 7.2e6 and takes about 0.3 s on a shared 2-core CPU (K = 5000: 4.5e7, 2-3 s).
DEFAULT_BUDGET = 1e7


@dataclass
class GridView:
    """posterior_grid's result as numpy, for drawing and caching (arrays indexed [j, i], rows along z2)."""

    z1: np.ndarray              # (G,) float64
    z2: np.ndarray              # (G,) float64
    density: np.ndarray         # (G, G) float32, p(z|x) per unit area
    log_density: np.ndarray     # (G, G) float32, log p(z|x)
    q_mu: np.ndarray            # (2,)
    q_sd: np.ndarray            # (2,) standard deviations of q(z|x)
    post_mean: np.ndarray       # (2,)
    post_cov: np.ndarray        # (2, 2)
    log_px: float               # nats, by quadrature
    recon: float                # E_q[log p(x|z)] on the grid
    kl: float                   # KL(q(z|x) || p(z)), analytic
    elbo: float                 # recon - kl
    kl_q_to_posterior: float    # KL(q(z|x) || p(z|x)) on the grid: the gap
    extent: tuple               # ((z1 lo, hi), (z2 lo, hi))


@st.cache_data(max_entries=64, show_spinner="Computing the true posterior on a grid ...")
def grid_view(model_id: str, image_key: bytes, extent, grid_size: int, _model, _x) -> GridView:
    """vae.analysis.likelihood.posterior_grid of x (1, C, H, W) for a 2-d model, cached by model id + image + settings.

    extent None zooms to the posterior's mass (the accurate numbers), r draws [-r, r]^2,
    ((z1 lo, hi), (z2 lo, hi)) that box.
    """
    from vae.analysis.posterior import posterior_grid

    g = posterior_grid(_model, _x, grid_size=grid_size, extent=extent)
    post = g.log_posterior.numpy()
    return GridView(
        z1=g.z1.numpy(), z2=g.z2.numpy(), density=np.exp(post).astype(np.float32),
        log_density=np.maximum(post, post.max() - 60).astype(np.float32),
        q_mu=g.q_mu.numpy(), q_sd=np.exp(0.5 * g.q_logvar.numpy()), post_mean=g.posterior_mean.numpy(),
        post_cov=g.posterior_cov.numpy(), log_px=g.log_px, recon=g.recon, kl=g.kl, elbo=g.elbo,
        kl_q_to_posterior=g.kl_q_to_posterior, extent=g.extent)


def display_extent(gv: GridView, nats: float = 9.0, q_sigmas: float = 2.5,
                   pad: float = 0.15) -> tuple[tuple[float, float], tuple[float, float]]:
    """A square box around what there is to see: the cells of `gv` within `nats` of the posterior's
    peak (density above e^-9 of it) and q's mean +- q_sigmas sigma, padded by `pad` of its side.

    posterior_grid's own zoom keeps 30 nats for accurate quadrature, too wide a view for the eye.
    """
    keep = gv.log_density >= gv.log_density.max() - nats                     # (G2, G1)
    cols, rows = np.nonzero(keep.any(0))[0], np.nonzero(keep.any(1))[0]
    lo = np.array([min(gv.z1[cols.min()], gv.q_mu[0] - q_sigmas * gv.q_sd[0]),
                   min(gv.z2[rows.min()], gv.q_mu[1] - q_sigmas * gv.q_sd[1])])
    hi = np.array([max(gv.z1[cols.max()], gv.q_mu[0] + q_sigmas * gv.q_sd[0]),
                   max(gv.z2[rows.max()], gv.q_mu[1] + q_sigmas * gv.q_sd[1])])
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2 * (1 + 2 * pad), 1e-3)
    r = lambda v: float(np.round(v, 4))   # noqa: E731  (stable cache keys)
    return ((r(centre[0] - half), r(centre[0] + half)), (r(centre[1] - half), r(centre[1] + half)))


@dataclass
class IWAECurve:
    """IWAE estimates of log p(x) for growing K, each the mean of independent estimates."""

    ks: list[int]
    iwae: list[float]           # nats, mean of repeats[i] independent K-sample estimates
    se: list[float]             # nats, standard error of that mean
    repeats: list[int]          # estimates per K: many for small K (cheap), IWAE_REPEATS for the largest
    elbo: float                 # the K = 1 mean: a Monte Carlo ELBO (repeats[0] samples of log p(x|z), analytic KL)
    recon: float                # its E_q[log p(x|z)] = elbo + kl
    kl: float                   # KL(q(z|x) || p(z)), analytic


def curve_ks(max_k: int) -> tuple[int, ...]:
    """1, 5, 50, 500, 5000 ... up to max_k (max_k included)."""
    ks = [k for k in (1, 5, 50, 500, 5000, 50000) if k < max_k]
    return tuple(ks + [int(max_k)])


def repeats_for(k: int, repeats: int = IWAE_REPEATS) -> int:
    """Independent estimates at K: at least `repeats`, and SAMPLES_PER_K samples in all for small K."""
    return max(int(repeats), SAMPLES_PER_K // int(k))


def default_max_k(model) -> int:
    """The largest K in K_CHOICES up to DEFAULT_MAX_K whose curve costs at most DEFAULT_BUDGET pixel-evaluations
    (x10 for conv, and for outside / ONNX models, whose layers are unknown)."""
    pixels = int(np.prod(model.config.image_shape)) * (10 if model.config.arch in ("conv", "outside", "onnx") else 1)
    fits = [k for k in K_CHOICES if k <= DEFAULT_MAX_K
            and sum(k * repeats_for(k) for k in curve_ks(k)) * pixels <= DEFAULT_BUDGET]
    return max(fits) if fits else min(K_CHOICES)


GROUPS = 8                       # each K's estimates are drawn in this many groups: the progress bar's steps


@st.cache_data(max_entries=1024, show_spinner=False)
def _iwae_group(model_id: str, image_key: bytes, k: int, n: int, group: int, seed: int, _model, _x) -> list[float]:
    """Estimates number group*n .. group*n + n - 1 of IWAE_K for x (1, C, H, W) uint8 (nats), each from its own
    K samples; the generator is seeded by (seed, K, group), so a group's numbers never depend on the others."""
    from vae.analysis.likelihood import iwae_log_likelihood

    g = torch.Generator(device=_model.device).manual_seed((int(seed) * 1_000_003 + int(k)) * 64 + int(group))
    return iwae_log_likelihood(_model, _x.expand(n, *_x.shape[1:]), int(k), generator=g).double().cpu().tolist()


def curve_cost(ks: tuple[int, ...], repeats: int) -> list[int]:
    """Samples drawn at each K (K x estimates): what the progress bar counts."""
    return [int(k) * repeats_for(k, repeats) for k in ks]


def iwae_curve(model_id: str, image_key: bytes, ks: tuple[int, ...], repeats: int, seed: int,
               _model, _x, progress=None) -> IWAECurve:
    """vae.analysis.likelihood.iwae_log_likelihood of x (1, C, H, W) uint8 for each K in ks (which must start at 1),
    on repeats_for(K) copies of x: each copy draws its own samples, so the mean over copies estimates
    E[IWAE_K] and their standard error is the error bar. Computed in GROUPS groups per K, each cached by
    model id + image + settings, so a rerun is instant and `progress(fraction, text)` (fraction of the
    samples drawn) is called after each group: K = 50,000 on a conv model takes tens of seconds."""
    from vae.densities import gaussian_kl_to_standard_normal

    if not ks or ks[0] != 1:
        raise ValueError(f"ks must start at K = 1 (the ELBO), got {ks}")
    costs = curve_cost(ks, repeats)
    total, done = float(sum(costs)), 0.0
    means, ses, counts = [], [], []
    for k, cost in zip(ks, costs):
        n = repeats_for(k, repeats)
        sizes = [len(part) for part in np.array_split(np.arange(n), min(GROUPS, n))]
        est: list[float] = []
        for group, size in enumerate(sizes):
            est += _iwae_group(model_id, image_key, int(k), int(size), group, seed, _model, _x)
            done += cost * size / n
            if progress is not None:
                progress(done / total, f"Importance sampling: K = {k:,}, {len(est)} of {n} estimates")
        arr = np.asarray(est, dtype=np.float64)
        means.append(float(arr.mean()))
        ses.append(float(arr.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0)
        counts.append(n)
    with torch.inference_mode():
        dtype = next(_model.parameters()).dtype
        mu, logvar = _model.encode(_x.to(_model.device).to(dtype) / 255.0)
        kl = float(gaussian_kl_to_standard_normal(mu, logvar)[0])
    return IWAECurve(ks=list(ks), iwae=means, se=ses, repeats=counts, elbo=means[0], recon=means[0] + kl, kl=kl)


def iwae_curve_with_bar(model_id: str, image_key: bytes, ks: tuple[int, ...], repeats: int, seed: int,
                        _model, _x) -> IWAECurve:
    """iwae_curve with a progress bar on the page while it computes (gone when done; instant when cached)."""
    bar = st.empty()
    try:
        return iwae_curve(model_id, image_key, ks, repeats, seed, _model, _x,
                          progress=lambda f, text: bar.progress(min(1.0, f), text=text))
    finally:
        bar.empty()


@torch.inference_mode()
def reconstruction(model, x: torch.Tensor) -> np.ndarray:
    """decode(mean of q(z|x)) for x (1, C, H, W) uint8: the reconstruction, float (C, H, W) in [0, 1]."""
    xm = x.to(model.device).to(next(model.parameters()).dtype) / 255.0
    mu, _ = model.encode(xm)
    return model.decode(mu)[0].float().cpu().numpy()
