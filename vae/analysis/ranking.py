"""Rank a data set by the model's own estimate of log p(x): the least and the most likely images.

    r = rank_by_likelihood(model, ds.test.images, k=100, seed=0, progress=lambda done, total: ...)
    r.order[:16]          # positions of the 16 least likely images (lowest IWAE log p(x) first)
    r.log_px, r.elbo      # (N,) nats per image; r.gap = log_px - elbo >= 0 on average

log p(x) is Burda et al.'s importance-weighted estimate with K samples from q(z|x)
(vae.analysis.likelihood); the ELBO is E_q[log p(x|z)] - KL(q || p(z)) with the same K samples for
its first term, so `gap` estimates KL(q(z|x) || p(z|x)) from below. All figures are nats per image,
summed over pixels. The same images, K and seed give the same numbers and the same order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from vae.analysis.likelihood import MAX_ELEMENTS, _as_model_input, _iwae_and_recon
from vae.densities import gaussian_kl_to_standard_normal

__all__ = ["LikelihoodRanking", "rank_by_likelihood"]

BATCH = 256          # images per progress step


@dataclass
class LikelihoodRanking:
    """Per-image IWAE estimates of log p(x) and the order they put the images in."""

    log_px: np.ndarray      # (N,) float64 nats, IWAE with K samples
    elbo: np.ndarray        # (N,) float64 nats, K-sample ELBO
    order: np.ndarray       # (N,) int64 positions, ascending log p(x) (least likely first; ties by position)
    k: int
    seed: int
    seconds: float = 0.0

    @property
    def gap(self) -> np.ndarray:
        """(N,) IWAE - ELBO, nats: an estimate of KL(q(z|x) || p(z|x)) from below."""
        return self.log_px - self.elbo

    @property
    def rank(self) -> np.ndarray:
        """(N,) int64: rank[i] = 0 for the least likely image, N - 1 for the most likely."""
        r = np.empty(len(self.order), np.int64)
        r[self.order] = np.arange(len(self.order))
        return r

    def least(self, n: int) -> np.ndarray:
        return self.order[:n]

    def most(self, n: int) -> np.ndarray:
        return self.order[::-1][:n]

    def to_csv(self, index: np.ndarray, labels: np.ndarray, class_names=()) -> str:
        """The ranking as CSV text, least likely first: rank (1 = least likely), index (`index` (N,): each
        position's index in its split), label (a name from `class_names` where there is one), log_px, elbo
        and gap in nats per image, with K and the seed in every row."""
        import csv
        import io

        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["rank", "index", "label", "log_px_nats", "elbo_nats", "gap_nats", "k", "seed"])
        names = list(class_names)
        for rank, pos in enumerate(self.order, start=1):
            lab = int(labels[pos])
            w.writerow([rank, int(index[pos]), names[lab] if 0 <= lab < len(names) else lab,
                        f"{self.log_px[pos]:.4f}", f"{self.elbo[pos]:.4f}", f"{self.gap[pos]:.4f}", self.k, self.seed])
        return out.getvalue()


def rank_by_likelihood(model, images, k: int = 100, seed: int = 0, *, batch: int = BATCH,
                       progress: Callable[[int, int], object] | None = None,
                       max_elements: int = MAX_ELEMENTS) -> LikelihoodRanking:
    """IWAE log p(x) (K samples) and ELBO of every image, and their order by log p(x).

    images: (N, C, H, W) uint8 (or float in [0, 1]) torch tensor or numpy array. One torch
    generator seeded with `seed` (on the model's device) draws all the noise, batch after batch.
    progress(done, total) is called before the first batch and after each.
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k (importance samples) must be a positive integer, got {k!r}")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    x_all = torch.as_tensor(images) if not isinstance(images, torch.Tensor) else images
    n = int(x_all.shape[0]) if x_all.dim() == 4 else 0
    if n == 0:
        raise ValueError(f"images must be a non-empty (N, C, H, W) batch, got shape {tuple(x_all.shape)}")
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(int(seed))
    t0 = time.perf_counter()
    log_px = np.empty(n, np.float64)
    elbo = np.empty(n, np.float64)
    if progress is not None:
        progress(0, n)
    with torch.inference_mode():
        for i in range(0, n, batch):
            x = _as_model_input(model, x_all[i:i + batch], "images")
            lp, recon, mu, logvar = _iwae_and_recon(model, x, k, None, max_elements, gen)
            kl = gaussian_kl_to_standard_normal(mu, logvar)
            log_px[i:i + len(x)] = lp.double().cpu().numpy()
            elbo[i:i + len(x)] = (recon - kl).double().cpu().numpy()
            if progress is not None:
                progress(min(n, i + len(x)), n)
    if not np.isfinite(log_px).all():
        raise ValueError(f"{int((~np.isfinite(log_px)).sum())} image(s) got a non-finite log p(x)")
    order = np.lexsort((np.arange(n), log_px)).astype(np.int64)
    return LikelihoodRanking(log_px, elbo, order, int(k), int(seed), time.perf_counter() - t0)
